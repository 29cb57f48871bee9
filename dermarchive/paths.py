"""Where the app keeps non-archive state (recent archives, failed-unlock records, demo archive, logs).

Folders come from platformdirs. ``DERMARCHIVE_STATE_DIR`` overrides them all, which tests use so
they never touch the real user's folders. Nothing stored here is patient data.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "DermArchive"


def state_dir() -> Path:
    override = os.environ.get("DERMARCHIVE_STATE_DIR")
    path = Path(override) if override else Path(platformdirs.user_state_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    override = os.environ.get("DERMARCHIVE_STATE_DIR")
    path = Path(override) / "data" if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """Where the desktop app writes its log (Help ▸ Troubleshooting shows this path)."""
    override = os.environ.get("DERMARCHIVE_STATE_DIR")
    path = Path(override) / "logs" if override else Path(platformdirs.user_log_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
