"""Small things the wizard's pages share: dates in words, photo captions, the preview queue."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPixmap

from ...ingest import PlanEntry, preview_thumbnail
from ..jobs import Job, run_job
from ..words import day_text, plural  # noqa: F401 - plural: the pages import it from here

KIND_LABELS = {"clinical": "Clinical", "dermoscopic": "Dermoscopic", "consent-form": "Consent form",
               "other": "Other"}


def long_date(iso: str | None) -> str:
    """'2015-04-10T20:12:23+10:00' → '10 Apr 2015'; '' when unknown (the app's one date format)."""
    return day_text(iso)


def taken_text(entry: PlanEntry) -> str:
    meta = entry.metadata
    if meta is None or not meta.taken_at:
        return "time unknown"
    when = datetime.fromisoformat(meta.taken_at)
    guessed = " (file time)" if meta.taken_at_source == "file-time" else ""
    return f"{when.day} {when:%b %Y, %H:%M}{guessed}"


def size_text(entry: PlanEntry) -> str:
    meta = entry.metadata
    n = max(entry.size, 0)
    mb = f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n // 1000} KB" if n >= 1000 else plural(n, "byte")
    return f"{meta.width} × {meta.height}, {mb}" if meta else mb


Index = QModelIndex | QPersistentModelIndex


class EntryTableModel(QAbstractTableModel):
    """A table of plan entries with fixed column titles (``COLUMNS``), one row per ``entries`` item."""

    COLUMNS: tuple[str, ...] = ()
    entries: list[PlanEntry]
    thumbs: dict[str, QPixmap]
    want: Callable[[PlanEntry], None] | None = None  # asked for a thumbnail not made yet (lazy)

    def thumb(self, entry: PlanEntry) -> QPixmap | None:
        """The entry's thumbnail if made; else ask for it (views ask only for what is on screen)."""
        pix = self.thumbs.get(entry.rel)
        if pix is None and self.want is not None and entry.metadata is not None:
            self.want(entry)
        return pix

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's names
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def all_changed(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(len(self.entries) - 1, len(self.COLUMNS) - 1))


class PreviewQueue(QObject):
    """Oriented previews made in memory by the core (``ingest.preview_thumbnail``), two at a time
    through :func:`run_job`; ``ready(rel, pixmap)`` on the GUI thread. Newest requests first."""

    ready = Signal(str, QPixmap)

    def __init__(self, size: int, parent: QObject | None = None, in_flight: int = 2) -> None:
        super().__init__(parent)
        self.size, self.in_flight = size, in_flight
        self.pending: deque[PlanEntry] = deque()
        self.running: dict[str, Job] = {}
        self.done: dict[str, QPixmap] = {}
        self.generation = 0

    def request(self, entry: PlanEntry, *, first: bool = False) -> None:
        if entry.rel in self.done:
            self.ready.emit(entry.rel, self.done[entry.rel])
            return
        if entry.rel in self.running or any(e.rel == entry.rel for e in self.pending):
            return
        if first:
            self.pending.appendleft(entry)
        else:
            self.pending.append(entry)
        self._pump()

    def _pump(self) -> None:
        while self.pending and len(self.running) < self.in_flight:
            entry = self.pending.popleft()
            gen = self.generation
            self.running[entry.rel] = run_job(
                preview_thumbnail, entry, self.size,
                on_done=self._finished(entry.rel, gen), on_error=self._failed(entry.rel, gen))

    def _finished(self, rel: str, gen: int) -> Callable[[Any], None]:
        def done(data: bytes) -> None:
            self.running.pop(rel, None)
            if gen == self.generation:
                pix = QPixmap()
                pix.loadFromData(data, "JPEG")
                self.done[rel] = pix
                self.ready.emit(rel, pix)
                self._pump()
        return done

    def _failed(self, rel: str, gen: int) -> Callable[[BaseException], None]:
        def failed(_exc: BaseException) -> None:  # the review table already says why a file is unusable
            self.running.pop(rel, None)
            if gen == self.generation:
                self._pump()
        return failed

    def stop(self) -> None:
        """Forget queued work and every preview (pixels of patients' photos stay in memory only
        while the wizard needs them)."""
        self.generation += 1
        self.pending.clear()
        self.done.clear()  # running jobs finish on their own; their results are dropped

    def wait(self, seconds: float = 10.0) -> None:
        for job in list(self.running.values()):
            job.finished.wait(seconds)
