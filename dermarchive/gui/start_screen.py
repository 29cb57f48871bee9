"""Start screen (recent archives, Create archive…, Open…, Restore from a backup…, Open demo) and the Create
archive dialog."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..archive import Archive
from ..archive.keys import KdfParams, passphrase_problems, passphrase_strength
from ..errors import DermArchiveError
from . import settings
from .forms import child, load_form
from .icons import icon
from .jobs import run_job
from .restore_dialog import RestoreDialog
from .words import day_text


class StartScreen(QWidget):
    """Emits ``openArchive(path, user, prefill)`` and ``archiveCreated(Archive)``."""

    openArchive = Signal(object, object, object)
    archiveCreated = Signal(object)
    demoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startScreen")
        self.setWindowTitle("DermArchive")
        form = load_form("start_screen", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)
        self.recent = child(form, QListWidget, "recentList")
        self.create_button = child(form, QPushButton, "createButton")
        self.open_button = child(form, QPushButton, "openButton")
        self.restore_button = child(form, QPushButton, "restoreButton")
        self.demo_button = child(form, QPushButton, "demoButton")
        self.open_recent_button = child(form, QPushButton, "openRecentButton")
        self.forget_button = child(form, QPushButton, "forgetButton")
        # The style sheet's big, left-aligned start buttons: these, not the buttons of dialogs
        # opened from here (a '#startScreen QPushButton' rule reached into those too).
        for button in form.findChildren(QPushButton):
            button.setProperty("startAction", True)
        for button, name in ((self.create_button, "create"), (self.open_button, "open"),
                             (self.restore_button, "backup"), (self.demo_button, "demo")):
            button.setIcon(icon(name))
        self.create_button.clicked.connect(self.create_archive)
        self.open_button.clicked.connect(self.choose_archive)
        self.restore_button.clicked.connect(self.restore_backup)
        self.demo_button.clicked.connect(self.demoRequested)
        self.open_recent_button.clicked.connect(self.open_selected)
        self.forget_button.clicked.connect(self.forget_selected)
        self.recent.itemActivated.connect(lambda _item: self.open_selected())
        self.recent.currentItemChanged.connect(lambda *_: self._update_buttons())
        QShortcut(QKeySequence.StandardKey.Open, self, self.choose_archive)
        QShortcut(QKeySequence.StandardKey.New, self, self.create_archive)
        self.kdf: KdfParams | None = None  # tests pass cheap parameters; the default is calibrated
        self.create_dialog: CreateArchiveDialog | None = None
        self.restore_dialog: RestoreDialog | None = None
        self.refresh_recent()
        self.resize(760, 420)

    def refresh_recent(self) -> None:
        self.recent.clear()
        for path in settings.recent_archives():
            exists = (path / "archive.json").exists()
            opened = settings.last_opened(path)
            when = f" · last opened {day_text(opened)}" if opened else ""
            item = QListWidgetItem(icon("open"), f"{path.name}\n{path.parent}{when}" + ("" if exists else "  (not found)"))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            if not exists:
                item.setForeground(Qt.GlobalColor.gray)
            self.recent.addItem(item)
        if self.recent.count():
            self.recent.setCurrentRow(0)
        else:
            placeholder = QListWidgetItem("No archives opened yet. Create one, open one, or try the demo.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            placeholder.setData(Qt.ItemDataRole.UserRole, "")
            self.recent.addItem(placeholder)
        self._update_buttons()

    def _selected_path(self) -> Path | None:
        item = self.recent.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item else None
        return Path(value) if value else None

    def _update_buttons(self) -> None:
        has = self._selected_path() is not None
        self.open_recent_button.setEnabled(has)
        self.forget_button.setEnabled(has)

    def open_selected(self) -> None:
        path = self._selected_path()
        if path is not None:
            self.openArchive.emit(path, None, None)

    def forget_selected(self) -> None:
        path = self._selected_path()
        if path is not None:
            settings.forget_recent(path)
            self.refresh_recent()

    def choose_archive(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open archive folder")
        if folder:
            self.openArchive.emit(Path(folder), None, None)

    def create_archive(self) -> CreateArchiveDialog:
        dialog = CreateArchiveDialog(self, kdf=self.kdf)
        dialog.created.connect(self.archiveCreated)
        self.create_dialog = dialog
        dialog.open()
        return dialog

    def restore_backup(self) -> RestoreDialog:
        """Restore a backup into a new folder; then, if asked, open it (unlock prompt with that user)."""
        dialog = RestoreDialog(self)
        dialog.openRequested.connect(lambda path, user: self.openArchive.emit(path, user, None))
        dialog.finished.connect(lambda _result: self.refresh_recent())
        self.restore_dialog = dialog
        dialog.open()
        return dialog


class CreateArchiveDialog(QDialog):
    """Folder, first user, passphrase twice; the policy is shown as you type."""

    created = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, kdf: KdfParams | None = None) -> None:
        super().__init__(parent)
        self.kdf = kdf
        form = load_form("create_archive_dialog", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(form)
        self.setWindowTitle("Create archive — DermArchive")
        self.folder = child(form, QLineEdit, "folderEdit")
        self.user = child(form, QLineEdit, "userEdit")
        self.passphrase = child(form, QLineEdit, "passphraseEdit")
        self.repeat = child(form, QLineEdit, "repeatEdit")
        self.policy = child(form, QLabel, "policyLabel")
        self.error = child(form, QLabel, "createError")
        self.buttons = child(form, QDialogButtonBox, "buttonBox")
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create archive")
        self.buttons.accepted.connect(self.create)
        self.buttons.rejected.connect(self.reject)
        child(form, QPushButton, "browseButton").clicked.connect(self._browse)
        for edit in (self.folder, self.user, self.passphrase, self.repeat):
            edit.textChanged.connect(self._check)
        self.strength = child(form, QProgressBar, "strengthBar")
        self.show_check = child(form, QCheckBox, "showPassphraseCheck")
        self.show_check.toggled.connect(self._show_passphrase)
        self.busy = False
        self.error.hide()
        self.setMinimumWidth(520)
        self._check()

    def _show_passphrase(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        for edit in (self.passphrase, self.repeat):
            edit.setEchoMode(mode)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new archive")
        if folder:
            self.folder.setText(folder)

    def problems(self) -> list[str]:
        out = passphrase_problems(self.passphrase.text())
        if self.repeat.text() != self.passphrase.text():
            out.append("The two passphrases differ." if self.repeat.text() else "Type the passphrase again below.")
        return out

    def _check(self) -> None:
        problems = self.problems()
        score, word = passphrase_strength(self.passphrase.text())
        self.strength.setValue(score if self.passphrase.text() else 0)
        self.strength.setFormat(word.capitalize() if self.passphrase.text() else "Nothing typed yet")
        self.strength.setAccessibleDescription(self.strength.format())
        if not self.passphrase.text():
            self.policy.setText("<span style='color:#5c6770'>The passphrase needs at least 10 characters, "
                                "with letters and at least one digit. A short sentence is easy to remember.</span>")
        elif problems:
            self.policy.setText("".join(f"<div style='color:#a23b2a'>✗ {html.escape(p)}</div>" for p in problems))
        else:
            self.policy.setText("<div style='color:#2a7f62'>✓ The passphrase meets the policy.</div>")
        ready = not problems and bool(self.folder.text().strip()) and bool(self.user.text().strip())
        self.ok.setEnabled(ready and not self.busy)

    def create(self) -> None:
        if self.busy or self.problems():
            return
        self.busy = True
        self.ok.setEnabled(False)
        self.ok.setText("Creating…")
        self.error.hide()
        run_job(_create, Path(self.folder.text().strip()).expanduser(), self.user.text().strip(),
                self.passphrase.text(), self.kdf, on_done=self._created, on_error=self._failed)

    def _created(self, archive: Archive) -> None:
        self.busy = False
        self.passphrase.clear()
        self.repeat.clear()
        self.created.emit(archive)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.ok.setText("Create archive")
        self.error.setText(str(exc) if isinstance(exc, DermArchiveError)
                           else f"The archive could not be created ({type(exc).__name__}).")
        self.error.show()
        self._check()

    def reject(self) -> None:
        if not self.busy:
            super().reject()


def _create(path: Path, user: str, passphrase: str, kdf: KdfParams | None) -> Any:
    """Worker thread: calibrate the KDF (about a second) and create the archive."""
    return Archive.create(path, user, passphrase, kdf=kdf, role="admin")
