"""Named loggers per topic (after qutebrowser's ``utils/log.py``).

Rule for every message: ids and counts only. Never a patient name, NHI, date of birth, a file
name from a phone, or image data. Reviewers grep for ``log.*(`` before each stop.
"""

from __future__ import annotations

import logging

archive = logging.getLogger("dermarchive.archive")
crypto = logging.getLogger("dermarchive.crypto")
ingest = logging.getLogger("dermarchive.ingest")
consent = logging.getLogger("dermarchive.consent")
exports = logging.getLogger("dermarchive.exports")
gui = logging.getLogger("dermarchive.gui")
cli = logging.getLogger("dermarchive.cli")
