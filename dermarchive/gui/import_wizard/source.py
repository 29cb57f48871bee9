"""Source: choose the phone folder (recent folders remembered, common synced places suggested),
then read it with ``ingest.scan`` in a worker — progress bar, Stop, plain errors."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFileDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QWidget)

from ... import log
from ...errors import Cancelled
from ...ingest import ImportPlan, scan
from .. import messages, settings
from ..jobs import Job, run_job
from .base import FormPage

RECENT_FOLDERS = settings.Setting("import/recent_folders", list, [],
                                  "Folders photos were imported from recently, newest first (paths only).")
RECENT_MAX = 6
PATH_ROLE = Qt.ItemDataRole.UserRole


def recent_folders() -> list[Path]:
    return [Path(p) for p in settings.get(RECENT_FOLDERS)]


def remember_folder(folder: Path) -> None:
    """Folder paths only; never a file name (file names can carry patients' names)."""
    text = str(Path(folder).resolve())
    items = [p for p in settings.get(RECENT_FOLDERS) if p != text]
    settings.put(RECENT_FOLDERS, [text, *items][:RECENT_MAX])


def suggested_folders(home: Path | None = None) -> list[tuple[str, Path]]:
    """Common places phones sync photos to, on this computer, that exist."""
    home = home or Path.home()
    user = os.environ.get("USER") or getpass.getuser()
    candidates: list[tuple[str, Path]] = [
        ("Dropbox camera uploads", home / "Dropbox" / "Camera Uploads"),
        ("iCloud Drive", home / "iCloud Drive"),
        ("iCloud Drive", home / "Library" / "Mobile Documents" / "com~apple~CloudDocs"),
        ("OneDrive camera roll", home / "OneDrive" / "Pictures" / "Camera Roll"),
        ("Google Photos (Takeout)", home / "Takeout" / "Google Photos"),
        ("Google Photos (Takeout)", home / "Downloads" / "Takeout" / "Google Photos"),
        ("Pictures", home / "Pictures"),
    ]
    for mounts in (Path("/media") / user, Path("/run/media") / user, Path("/Volumes")):
        try:
            devices = sorted(p for p in mounts.iterdir() if p.is_dir())
        except OSError:
            continue
        candidates += [(f"Phone or card: {d.name}", d / "DCIM") for d in devices]
    seen: set[Path] = set()
    out = []
    for label, path in candidates:
        if path.is_dir() and path not in seen:
            seen.add(path)
            out.append((label, path))
    return out


class SourcePage(FormPage):
    form_name = "import_wizard_source"

    def __init__(self, folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Where are the photos?",
                         "Step 1 of 8 — choose the folder, then press Next to read it.", parent)
        self.folder_edit = self.w(QLineEdit, "folderEdit")
        self.places = self.w(QListWidget, "placesList")
        self.progress = self.w(QProgressBar, "scanProgress")
        self.status = self.w(QLabel, "scanStatus")
        self.scan_box = self.w(QWidget, "scanBox")
        self.w(QPushButton, "browseButton").clicked.connect(self.browse)
        self.w(QPushButton, "cancelScanButton").clicked.connect(self.cancel_scan)
        self.places.itemActivated.connect(self._place_chosen)
        self.places.itemClicked.connect(self._place_chosen)
        self.folder_edit.textChanged.connect(lambda _t: self.completeChanged.emit())
        self.scan_box.hide()
        self.job: Job | None = None
        self.scanned: ImportPlan | None = None
        if folder is not None:
            self.folder_edit.setText(str(folder))
        self._fill_places()

    def _fill_places(self) -> None:
        self.places.clear()
        shown: set[Path] = set()
        for path in recent_folders():
            if path.is_dir():
                self._add_place(f"Recent: {path.name or path}", path)
                shown.add(path)
        for label, path in suggested_folders():
            if path not in shown:
                self._add_place(label, path)
        if not self.places.count():
            item = QListWidgetItem("No synced photo folders found on this computer; use Choose folder…")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.places.addItem(item)

    def _add_place(self, label: str, path: Path) -> None:
        item = QListWidgetItem(f"{label}    —    {path}")
        item.setData(PATH_ROLE, str(path))
        item.setToolTip(str(path))
        self.places.addItem(item)

    def _place_chosen(self, item: QListWidgetItem) -> None:
        path = item.data(PATH_ROLE)
        if path:
            self.folder_edit.setText(path)

    def browse(self) -> None:
        start = self.folder_edit.text().strip() or str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Folder with the phone's photos", start)
        if chosen:
            self.folder_edit.setText(chosen)

    def folder(self) -> Path | None:
        text = self.folder_edit.text().strip()
        return Path(text).expanduser() if text else None

    def isComplete(self) -> bool:  # noqa: N802 - Qt's names
        return self.job is None and self.folder() is not None

    def validatePage(self) -> bool:  # noqa: N802
        folder = self.folder()
        if folder is None:
            return False
        if self.scanned is not None and self.scanned.folder == folder and self.wiz.plan is self.scanned:
            return True
        self.start_scan(folder)
        return False  # the wizard moves on when the scan is done

    def start_scan(self, folder: Path) -> None:
        self.scan_box.show()
        self.progress.setRange(0, 0)
        self.status.setText("Reading the folder… (photos are only read, never changed)")
        self.job = run_job(scan, folder, self.archive, parent=self, with_progress=True, show_dialog=False,
                           on_progress=self._progress, on_done=self._scanned, on_error=self._failed)
        self.completeChanged.emit()

    def _progress(self, done: int, total: int, _message: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"Reading file {done} of {total}…")

    def cancel_scan(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Stopping…")

    def _finish_job(self) -> None:
        self.job = None
        self.scan_box.hide()
        self.completeChanged.emit()

    def _scanned(self, plan: ImportPlan) -> None:
        self._finish_job()
        self.scanned = plan
        self.wiz.set_plan(plan)
        remember_folder(plan.folder)
        counts = plan.counts()
        log.gui.info("import wizard: folder read (%s)", counts)
        self.status.setText(f"Read {len(plan.entries)} files: {counts['new']} new photos.")
        self.wiz.next()

    def _failed(self, exc: BaseException) -> None:
        self._finish_job()
        if isinstance(exc, Cancelled):
            self.status.setText("Reading stopped. Nothing was imported. Press Next to read the folder again.")
            return
        self.status.setText("The folder could not be read. Nothing was imported.")
        messages.show_error(self, exc, "Reading the folder")
