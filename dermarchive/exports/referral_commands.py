"""CLI commands for the referral feature (registered from dermarchive.cli.COMMAND_MODULES)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Sub-commands of this area are added here as they are built."""
