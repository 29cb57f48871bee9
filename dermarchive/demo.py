"""``dermarchive demo``: a ready demo archive with synthetic patients (test NHIs starting with Z)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """The demo command is added here by the desktop issue."""
