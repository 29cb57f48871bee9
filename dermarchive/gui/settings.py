"""The app's own settings (never patient data), declared once with type, default and description.

Stored with QSettings in an INI file under :func:`dermarchive.paths.state_dir` (so tests, which
point ``DERMARCHIVE_STATE_DIR`` at a temp folder, never touch the real user's settings). Archive
paths are kept for the recent list; nothing read from an archive is ever stored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from ..paths import state_dir

RECENT_MAX = 8


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    description: str


IDLE_LOCK_MINUTES = Setting("lock/idle_minutes", float, 5.0,
                            "Lock the archive after this many minutes without keyboard or mouse use.")
RECENT_ARCHIVES = Setting("archives/recent", list, [], "Archive folders opened recently, newest first.")
RECENT_OPENED_AT = Setting("archives/opened_at", list, [],
                           "When each recent archive was last opened: 'folder<TAB>YYYY-MM-DD' entries.")
WINDOW_GEOMETRY = Setting("window/geometry", QByteArray, QByteArray(), "Main window size and position.")
WINDOW_STATE = Setting("window/splitter", QByteArray, QByteArray(), "Patient list / page split.")
PAGE_SPLIT = Setting("window/page_splitter", QByteArray, QByteArray(), "Patient page: photos / details panel split.")
LESION_SPLIT = Setting("window/lesion_splitter", QByteArray, QByteArray(), "Patient page: lesions / photos split.")
THUMB_CACHE_MB = Setting("cache/thumbnail_mb", int, 96, "Memory for decrypted thumbnails (MiB).")


def store() -> QSettings:
    return QSettings(str(state_dir() / "gui.ini"), QSettings.Format.IniFormat)


def get(setting: Setting) -> Any:
    value = store().value(setting.key, setting.default)
    if value is None:
        return setting.default
    if setting.type is list:
        return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])
    if setting.type in (int, float):
        try:
            return setting.type(value)
        except (TypeError, ValueError):
            return setting.default
    return value


def put(setting: Setting, value: Any) -> None:
    s = store()
    s.setValue(setting.key, value)
    s.sync()


def recent_archives() -> list[Path]:
    return [Path(p) for p in get(RECENT_ARCHIVES)]


def add_recent(path: Path) -> None:
    text = str(Path(path).resolve())
    items = [p for p in get(RECENT_ARCHIVES) if p != text]
    put(RECENT_ARCHIVES, [text, *items][:RECENT_MAX])
    kept = set([text, *items][:RECENT_MAX])
    opened = [e for e in get(RECENT_OPENED_AT) if e.split("\t", 1)[0] in kept and e.split("\t", 1)[0] != text]
    put(RECENT_OPENED_AT, [f"{text}\t{date.today().isoformat()}", *opened])


def last_opened(path: Path) -> str | None:
    """The day an archive of the recent list was last opened ('YYYY-MM-DD'), if known."""
    text = str(Path(path).resolve())
    for entry in get(RECENT_OPENED_AT):
        where, _, day = entry.partition("\t")
        if where == text:
            return day or None
    return None


def forget_recent(path: Path) -> None:
    text = str(Path(path).resolve())
    put(RECENT_ARCHIVES, [p for p in get(RECENT_ARCHIVES) if p != text])
