"""``python -m dermarchive``: the same as the ``dermarchive`` program."""

import sys

from .launch import main

sys.exit(main())
