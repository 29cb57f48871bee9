"""``python -m dermarchive.cli``."""

import sys

from . import main

sys.exit(main())
