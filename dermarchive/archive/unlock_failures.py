"""Failed unlocks, recorded outside the archive until the next successful unlock.

A wrong passphrase must not change any file of the archive (and cannot: without the key there is
no catalogue to write to). So the failure is noted in the app's state folder (archive id, user
name, time: no patient data), and the next successful unlock moves the notes into the audit log
as ``unlock.failed`` entries with their original times.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..paths import state_dir
from .fsutil import atomic_write_bytes
from .header import now_iso

FILE_NAME = "failed-unlocks.jsonl"


def _path() -> Path:
    return state_dir() / FILE_NAME


def _read() -> list[dict[str, Any]]:
    try:
        lines = _path().read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _write(entries: list[dict[str, Any]]) -> None:
    atomic_write_bytes(_path(), "".join(json.dumps(e) + "\n" for e in entries).encode(),
                       action="record a failed unlock")


def note(archive_id: str, user: str, reason: str) -> None:
    entries = _read()
    entries.append({"archive_id": archive_id, "user": user, "at": now_iso(), "reason": reason})
    try:
        _write(entries[-1000:])
    except Exception:  # noqa: BLE001 - never let bookkeeping hide the wrong-passphrase message
        pass


def pending(archive_id: str) -> list[dict[str, Any]]:
    return [e for e in _read() if e.get("archive_id") == archive_id]


def clear(archive_id: str) -> None:
    _write([e for e in _read() if e.get("archive_id") != archive_id])
