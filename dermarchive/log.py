"""Named loggers per topic (after qutebrowser's ``utils/log.py``).

Rule for every message: ids and counts only. Never a patient name, NHI, date of birth, a file
name from a phone, or image data. Reviewers grep for ``log.*(`` before each stop.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

archive = logging.getLogger("dermarchive.archive")
crypto = logging.getLogger("dermarchive.crypto")
ingest = logging.getLogger("dermarchive.ingest")
consent = logging.getLogger("dermarchive.consent")
exports = logging.getLogger("dermarchive.exports")
gui = logging.getLogger("dermarchive.gui")
cli = logging.getLogger("dermarchive.cli")

LOG_FILE = "dermarchive.log"


def write_to_folder(folder: Path) -> Path:
    """Also write every ``dermarchive.*`` record of level INFO and above to ``folder``: a small
    rotating file (1 MB, 3 old copies) that a user can send with a support request."""
    path = folder / LOG_FILE
    root = logging.getLogger("dermarchive")
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return path
