"""Watch the phone folder for new photos (issue 18): which are ready to import, which still sync.

A photo is *ready* once its size and modification time have stayed the same for
``settle_seconds`` and it is not a cloud placeholder (:func:`dermarchive.system.cloud_placeholder`);
until then it is *syncing* and waits. A ready photo is *new* unless the archive already holds
it (its keyed fingerprint, read once per version of the file and remembered). Polling costs one
``stat`` per file; only files that became ready are read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..system import cloud_placeholder
from .scan import PHOTO_EXT

SETTLE_SECONDS = 10.0


@dataclass
class WatchState:
    new: list[Path] = field(default_factory=list)       # ready and not in the archive
    syncing: list[Path] = field(default_factory=list)   # still changing, empty or a placeholder


def _photo_files(folder: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # phone caches and trash
        for name in files:
            lower = name.lower()
            if name.startswith(".") and not lower.endswith(".icloud") or lower.startswith(".trashed-"):
                continue
            stem = lower[1:-len(".icloud")] if lower.endswith(".icloud") else lower
            if os.path.splitext(stem)[1] in PHOTO_EXT:
                out.append(Path(root) / name)
    return out


class PhoneFolderWatch:
    """Poll a folder; ``clock`` is injectable so tests need not sleep."""

    def __init__(self, folder: Path | str, *, settle_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        self.settle_seconds = SETTLE_SECONDS if settle_seconds is None else settle_seconds
        self.clock = clock
        self._seen: dict[Path, tuple[tuple[int, int], float]] = {}  # path → ((size, mtime_ns), since)
        self._known: dict[tuple[Path, int, int], bool] = {}           # file version → in the archive

    def poll(self, in_archive: Callable[[bytes], bool]) -> WatchState:
        """The folder now. ``in_archive(data)`` says whether a ready file's bytes are imported."""
        state = WatchState()
        now = self.clock()
        try:
            files = _photo_files(self.folder)
        except OSError:
            return state  # the phone or drive is not there now: nothing to say
        current: dict[Path, tuple[tuple[int, int], float]] = {}
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            key = (st.st_size, st.st_mtime_ns)
            before = self._seen.get(path)
            since = before[1] if before is not None and before[0] == key else now
            current[path] = (key, since)
            if cloud_placeholder(path.name, st) or now - since < self.settle_seconds:
                state.syncing.append(path)
                continue
            version = (path, *key)
            if version not in self._known:
                try:
                    self._known[version] = in_archive(path.read_bytes())
                except OSError:
                    state.syncing.append(path)
                    continue
            if not self._known[version]:
                state.new.append(path)
        self._seen = current
        return state


def archive_check(archive: Any) -> Callable[[bytes], bool]:
    """``in_archive(data)`` for an open archive: its keyed fingerprint of the original file."""
    from ..archive import records

    return lambda data: records.source_already_imported(archive, archive.blobs.fingerprint(data)) is not None
