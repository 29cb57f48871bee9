"""Failed unlocks, noted outside the archive until the next successful unlock.

A wrong passphrase must not change any file of the archive (and cannot: without the key there is
no catalogue to write to). So the failure is noted in the app's state folder, and the next
successful unlock records it in the audit log as an ``unlock.failed`` entry *marked unverified*:
anyone who can write to the state folder can write a note, so a note is a report, not evidence.

What a note may hold, so that a forged one can claim little: per user name (one that has a key
slot in the archive's header) a count and the first and last time, nothing else. Notes of one
archive live in their own file named by the archive id *and* its folder, so a copy of the archive
opened elsewhere never receives them. Files are read up to a fixed size; anything malformed is
dropped whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..paths import state_dir
from .fsutil import atomic_write_bytes, private_mkdir

FOLDER = "failed-unlocks"
MAX_FILE_BYTES = 16 * 1024
MAX_USERS = 64
MAX_COUNT = 1_000_000


@dataclass(frozen=True)
class FailedUnlocks:
    user: str
    count: int
    first: str
    last: str

    def as_json(self) -> dict[str, object]:
        return {"count": self.count, "first": self.first, "last": self.last}


def _file(folder: Path, archive_id: str) -> Path:
    where = str(Path(folder).resolve())
    name = hashlib.sha256(f"{archive_id}|{where}".encode()).hexdigest()[:32]
    return state_dir() / FOLDER / f"{name}.json"


def _parse_time(value: object, now: datetime) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None or at > now + timedelta(minutes=5) or at.year < 2000:
        return None
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _read(path: Path, users: set[str]) -> dict[str, FailedUnlocks]:
    """The well-formed notes for known ``users``; everything else is ignored."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return {}
    if len(raw) > MAX_FILE_BYTES:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    now = datetime.now(UTC)
    known = {u.casefold(): u for u in users}
    out: dict[str, FailedUnlocks] = {}
    for name, entry in list(data.items())[:MAX_USERS]:
        user = known.get(str(name).casefold())
        if user is None or not isinstance(entry, dict) or set(entry) != {"count", "first", "last"}:
            continue
        count = entry["count"]
        first, last = _parse_time(entry["first"], now), _parse_time(entry["last"], now)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= MAX_COUNT:
            continue
        if first is None or last is None or first > last:
            continue
        out[user] = FailedUnlocks(user, count, first, last)
    return out


def note(folder: Path, archive_id: str, user: str, users: list[str]) -> None:
    """Count one failed unlock of ``user`` (a user of the header ``users``)."""
    try:
        path = _file(folder, archive_id)
        private_mkdir(path.parent, exist_ok=True)
        notes = _read(path, set(users))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        old = notes.get(user)
        notes[user] = (FailedUnlocks(user, min(old.count + 1, MAX_COUNT), old.first, now) if old
                       else FailedUnlocks(user, 1, now, now))
        atomic_write_bytes(path, json.dumps({u: n.as_json() for u, n in notes.items()}).encode(),
                           action="record a failed unlock")
    except Exception:  # noqa: BLE001 - never let bookkeeping hide the wrong-passphrase message
        pass


def pending(folder: Path, archive_id: str, users: list[str]) -> list[FailedUnlocks]:
    return sorted(_read(_file(folder, archive_id), set(users)).values(), key=lambda n: n.user)


def clear(folder: Path, archive_id: str) -> None:
    _file(folder, archive_id).unlink(missing_ok=True)
