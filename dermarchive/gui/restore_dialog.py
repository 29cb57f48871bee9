"""Start screen ▸ Restore from a backup…: rebuild an archive from its backup folder on any computer.

    dialog = RestoreDialog(parent); dialog.openRequested.connect(...); dialog.open()

For the clinic whose workstation was lost: no archive is open, so the backup is unlocked with a
user's passphrase (the key slots travel in the backup's manifest, whose user list is read without
a key). The restore itself is :func:`dermarchive.backup.restore.restore`, run through
``gui.jobs.run_job`` with progress and Cancel; it builds the archive in a hidden sibling folder,
verifies it end to end and only then renames it into place, so it never overwrites anything and a
failure or Cancel leaves nothing behind. The passphrase goes to the core and nowhere else: it is
not logged, not remembered, and not handed on to the unlock prompt.
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QStandardPaths, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QLabel, QLineEdit, QPushButton,
                               QWidget)

from .. import log
from ..errors import Cancelled, DermArchiveError, WrongPassphrase
from ..backup import create as core
from ..backup.set import Manifest, require_manifest
from . import messages, settings
from .forms import child, dialog_form
from .icons import icon
from .jobs import Job, run_job

TITLE = "Restore from a backup"
DEFAULT_NAME = "DermArchive restored"
_MUTED, _BAD, _GOOD = "#5c6770", "#a23b2a", "#2a7f62"


class RestoreDialog(QDialog):
    """Backup folder → user and passphrase → new folder → Restore; then offers to open the result.

    Emits ``openRequested(path, user)`` when the user asks to open the restored archive.
    """

    openRequested = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore from a Backup")
        self.setWindowIcon(icon("backup"))
        self.form = dialog_form(self, "restore_dialog")

        self.backup_edit = child(self.form, QLineEdit, "backupEdit")
        self.browse_backup_button = child(self.form, QPushButton, "browseBackupButton")
        self.backup_info = child(self.form, QLabel, "backupInfoLabel")
        self.user_combo = child(self.form, QComboBox, "userCombo")
        self.passphrase = child(self.form, QLineEdit, "passphraseEdit")
        self.target_edit = child(self.form, QLineEdit, "targetEdit")
        self.browse_target_button = child(self.form, QPushButton, "browseTargetButton")
        self.status = child(self.form, QLabel, "statusLabel")
        self.restore_button = child(self.form, QPushButton, "restoreButton")
        self.open_button = child(self.form, QPushButton, "openArchiveButton")
        self.close_btn = child(self.form, QPushButton, "closeButton")
        child(self.form, QLabel, "iconLabel").setPixmap(icon("backup").pixmap(40, 40))
        title = child(self.form, QLabel, "titleLabel")
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        title.setFont(font)
        child(self.form, QLabel, "targetHint").setStyleSheet(f"color: {_MUTED};")
        self.restore_button.setIcon(icon("backup"))
        self.restore_button.setDefault(True)
        self.open_button.setIcon(icon("open"))
        self.open_button.hide()
        for label in (self.backup_info, self.status):
            label.setTextFormat(Qt.TextFormat.RichText)
        self.status.hide()

        self.job: Job | None = None
        self.manifest: Manifest | None = None
        self.restored: Path | None = None   # the restored archive, once there is one
        self.restored_user: str | None = None
        self._default_target = ""

        self.browse_backup_button.clicked.connect(self.choose_backup)
        self.browse_target_button.clicked.connect(self.choose_target)
        self.restore_button.clicked.connect(self.start_restore)
        self.open_button.clicked.connect(self.open_restored)
        self.close_btn.clicked.connect(self.reject)
        self.passphrase.returnPressed.connect(self.start_restore)
        for edit in (self.passphrase, self.target_edit):
            edit.textChanged.connect(lambda _text: self.refresh())
        self.user_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh()
        self.setMinimumWidth(560)
        self.resize(600, 0)

    # -- state --------------------------------------------------------------------------------
    def backup_folder(self) -> Path | None:
        text = self.backup_edit.text().strip()
        return Path(text) if text else None

    def target(self) -> Path | None:
        text = self.target_edit.text().strip()
        return Path(text).expanduser() if text else None

    def refresh(self) -> None:
        """Which buttons and fields make sense now."""
        busy = self.job is not None
        done = self.restored is not None
        ready = (self.manifest is not None and bool(self.user_combo.currentText())
                 and bool(self.passphrase.text()) and self.target() is not None)
        for w in (self.browse_backup_button, self.user_combo, self.passphrase, self.target_edit,
                  self.browse_target_button):
            w.setEnabled(not busy and not done)
        self.restore_button.setEnabled(ready and not busy and not done)
        self.restore_button.setText("Restoring…" if busy else "Restore")
        self.restore_button.setVisible(not done)
        self.open_button.setVisible(done)
        self.close_btn.setText("Close" if done else "Cancel")

    def _say(self, text: str, colour: str = _MUTED) -> None:
        self.status.setText(f"<span style='color:{colour}'>{html.escape(text)}</span>")
        self.status.setVisible(bool(text))
        self._fit()

    def _fit(self) -> None:
        """Grow to fit wrapped text that got longer (a top-level window does not do it by itself)."""
        # The form and its group boxes have layouts of their own: a changed label reaches this
        # dialog's layout through a posted layout request per level, so handle those first.
        for _level in range(4):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        self.layout().activate()
        needed = self.heightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._fit()  # measured with the style sheet's padding, which applies only once shown

    # -- choosing -----------------------------------------------------------------------------
    def choose_backup(self) -> None:
        start = str(self.backup_folder() or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Choose the backup folder", start)
        if chosen:
            self.use_backup(Path(chosen))

    def use_backup(self, folder: Path) -> bool:
        """Read the backup's manifest (no key needed) to list the users who can open it."""
        self.backup_edit.setText(str(folder))
        self.user_combo.clear()
        self.manifest = None
        self._say("")
        try:
            manifest = require_manifest(folder.absolute())
            users = manifest.key_header().users()
        except DermArchiveError as exc:
            self.backup_info.setText(f"<span style='color:{_BAD}'>{html.escape(str(exc))}</span>")
            messages.show_error(self, exc, TITLE)
            self.refresh()
            return False
        self.manifest = manifest
        photos = len(manifest.images)
        self.backup_info.setText(html.escape(
            f"Backup made {core.display_time(manifest.created)}: {photos} photo{'' if photos == 1 else 's'}. "
            f"It opens with the passphrase of {_names(users)}."))
        self.user_combo.addItems(users)
        self._fit()
        if not self.target_edit.text().strip() or self.target_edit.text() == self._default_target:
            self._default_target = str(default_target())
            self.target_edit.setText(self._default_target)
        self.refresh()
        self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    def choose_target(self) -> None:
        target = self.target()
        start = str(target.parent if target is not None else _documents())
        chosen = QFileDialog.getExistingDirectory(self, "Choose a new or empty folder for the restored archive", start)
        if chosen:
            self.target_edit.setText(chosen)

    # -- restoring ----------------------------------------------------------------------------
    def start_restore(self) -> None:
        folder, target, user = self.backup_folder(), self.target(), self.user_combo.currentText()
        if self.job is not None or self.restored is not None or folder is None or target is None or not user:
            return
        if not self.passphrase.text():
            self._say("Type the passphrase of the user chosen above.", _BAD)
            return
        self._say("Restoring… every file is checked against the backup, then the whole archive is verified.")
        self.job = run_job(partial(core.restore, user=user, passphrase=self.passphrase.text()),
                           folder.absolute(), target.absolute(), parent=self,
                           title="Restoring the archive from the backup…", with_progress=True,
                           on_done=partial(self._restored, user), on_error=self._failed)
        self.refresh()

    def _restored(self, user: str, summary: core.RestoreSummary) -> None:
        self.job = None
        self.passphrase.clear()
        self.restored, self.restored_user = Path(summary.archive), user
        settings.add_recent(self.restored)  # listed on the start screen even if not opened now
        log.gui.info("archive restored from a backup")
        self._say(" ".join(summary.lines()) + " Open it now to check it, or close this window and open it later.",
                  _GOOD)
        self.refresh()
        self.open_button.setDefault(True)
        self.open_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        if isinstance(exc, Cancelled):  # the user pressed Cancel: no box, the line says so
            self._say(f"{exc} Nothing was restored.")
        else:
            self._say(messages.in_words(exc) if isinstance(exc, DermArchiveError)
                      else f"The backup could not be restored ({type(exc).__name__}).", _BAD)
            messages.show_error(self, exc, TITLE)
        self.refresh()
        if isinstance(exc, WrongPassphrase):
            self.passphrase.clear()
            self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_restored(self) -> None:
        if self.restored is None:
            return
        path, user = self.restored, self.restored_user
        self.accept()
        self.openRequested.emit(path, user)

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.finished.wait(30)
        self.passphrase.clear()
        super().reject()


def _names(users: list[str]) -> str:
    quoted = [f"‘{u}’" for u in users]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _documents() -> Path:
    docs = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
    return docs if docs.is_dir() else Path.home()


def default_target() -> Path:
    """'DermArchive restored' in the user's documents, numbered so that it names a new folder."""
    docs = _documents()
    candidate, n = docs / DEFAULT_NAME, 2
    while candidate.exists():
        candidate, n = docs / f"{DEFAULT_NAME} {n}", n + 1
    return candidate
