"""The watched phone folder: a status-bar button "12 new photos in the phone folder — Import…".

The folder is a setting (Tools ▸ Phone folder to watch…). Every ``POLL_MS`` the folder is looked
at off the GUI thread (:class:`dermarchive.ingest.watch.PhoneFolderWatch`); photos still syncing
wait. Clicking the button opens the import wizard on the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from ..ingest.watch import PhoneFolderWatch, WatchState, archive_check
from . import settings
from .jobs import Job, run_job

PHONE_FOLDER = settings.Setting("import/phone_folder", str, "",
                                "The phone's synced photo folder the app watches for new photos (a path only).")
POLL_MS = 15_000


def watch_text(state: WatchState) -> str:
    new = len(state.new)
    if not new:
        return ""
    text = f"{new} new photo{'s' if new != 1 else ''} in the phone folder — Import…"
    if state.syncing:
        text += f" ({len(state.syncing)} still syncing)"
    return text


class PhoneFolderWatcher(QObject):
    """Owns the poll timer and the status-bar button; ``open_import(folder)`` is called on click."""

    changed = Signal(int)  # number of new photos

    def __init__(self, archive: Any, parent: QWidget, open_import: Any) -> None:
        super().__init__(parent)
        self.archive = archive
        self.open_import = open_import
        self.watch: PhoneFolderWatch | None = None
        self.job: Job | None = None
        self.state = WatchState()
        self.button = QPushButton(parent)
        self.button.setObjectName("phoneFolderStatus")
        self.button.setFlat(True)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.setAccessibleName("New photos in the phone folder: import them")
        self.button.clicked.connect(self._clicked)
        self.button.hide()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.set_folder(settings.get(PHONE_FOLDER) or None)

    def set_folder(self, folder: str | None) -> None:
        self.watch = PhoneFolderWatch(folder) if folder else None
        self.state = WatchState()
        self.button.hide()
        if self.watch is None:
            self.timer.stop()
        else:
            self.timer.start()
            self.poll()

    def choose_folder(self, parent: QWidget) -> None:
        start = settings.get(PHONE_FOLDER) or str(Path.home())
        folder = QFileDialog.getExistingDirectory(parent, "Phone folder to watch", start)
        if folder:
            settings.put(PHONE_FOLDER, folder)
            self.set_folder(folder)

    def poll(self) -> None:
        if self.watch is None or self.job is not None or not self.archive.is_open:
            return
        watch, check = self.watch, archive_check(self.archive)
        self.job = run_job(lambda: watch.poll(check), on_done=self._polled, on_error=self._failed)

    def _polled(self, state: WatchState) -> None:
        self.job = None
        self.state = state
        text = watch_text(state)
        self.button.setText(text)
        self.button.setVisible(bool(text))
        self.changed.emit(len(state.new))

    def _failed(self, _exc: BaseException) -> None:
        self.job = None  # the folder went away or the archive locked: try again at the next tick

    def _clicked(self) -> None:
        if self.watch is not None:
            self.open_import(self.watch.folder)

    def stop(self) -> None:
        self.timer.stop()
        if self.job is not None:
            self.job.finished.wait(30)
