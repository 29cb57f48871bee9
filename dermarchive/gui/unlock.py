"""Unlock an archive: user + passphrase. Used as a dialog and inside the locked main window.

The key derivation (about a second, on purpose) runs in a worker through ``run_job``. A wrong
passphrase shows the core's sentence under the field, clears the field and keeps the panel open;
the core notes the failure and audits it at the next successful unlock.

The passphrase is taken out of the field the moment Unlock is pressed (the field is emptied, its
undo history with it) as UTF-8 in a bytearray, the one copy this code controls; the worker wipes
that buffer as soon as the archive is open or has refused it, and the finished job keeps nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from .. import log
from ..archive import Archive
from ..archive.keys import wipe
from ..errors import DermArchiveError
from . import messages
from .forms import child, load_form
from .jobs import run_job


class UnlockPanel(QWidget):
    """Emits ``unlocked(Archive)`` on success, ``cancelled()`` on Cancel."""

    unlocked = Signal(object)
    cancelled = Signal()

    def __init__(self, path: Path, *, user: str | None = None, prefill_passphrase: str | None = None,
                 title: str = "Unlock archive", cancel_text: str = "Cancel", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        form = load_form("unlock_panel", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)
        self.user_combo = child(form, QComboBox, "userCombo")
        self.passphrase = child(form, QLineEdit, "passphraseEdit")
        self.error = child(form, QLabel, "unlockError")
        self.unlock_button = child(form, QPushButton, "unlockButton")
        self.cancel_button = child(form, QPushButton, "cancelButton")
        self.title = child(form, QLabel, "unlockTitle")
        self.title.setText(title)
        self.cancel_button.setText(cancel_text)
        child(form, QLabel, "archivePath").setText(str(self.path))
        self.error.hide()
        self.busy = False
        try:
            users = Archive.users_of(self.path)
        except DermArchiveError as exc:
            users = []
            self._show_error(str(exc))
            self.unlock_button.setEnabled(False)
        self.user_combo.addItems(users)
        if user and user in users:
            self.user_combo.setCurrentText(user)
        if prefill_passphrase:
            self.passphrase.setText(prefill_passphrase)
            child(form, QLabel, "archivePath").setText(
                f"{self.path}\nDemo archive: made-up patients only. Its passphrase is filled in: press Unlock.")
        self.unlock_button.clicked.connect(self.unlock)
        self.passphrase.returnPressed.connect(self.unlock)
        self.cancel_button.clicked.connect(self.cancelled)
        self.setFocusProxy(self.passphrase)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for w in (self.unlock_button, self.passphrase, self.user_combo):
            w.setEnabled(not busy)
        self.unlock_button.setText("Unlocking…" if busy else "Unlock")

    def unlock(self) -> None:
        if self.busy:
            return
        if not self.passphrase.text():
            self._show_error("Type your passphrase.")
            return
        self._show_error("")
        self._set_busy(True)
        run_job(_open_and_wipe, self.path, self.user_combo.currentText(), take_passphrase(self.passphrase),
                on_done=self._opened, on_error=self._failed)

    def _opened(self, archive: Archive) -> None:
        self._set_busy(False)
        log.gui.info("archive unlocked")
        if archive.read_only_reason:  # full disk, or a rolled-back catalogue (issue 15)
            messages.warning(self, archive.read_only_reason, "Archive opened read-only")
        self.unlocked.emit(archive)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._show_error(messages.in_words(exc) if isinstance(exc, DermArchiveError)
                         else f"The archive could not be opened ({type(exc).__name__}).")
        self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)


class UnlockDialog(QDialog):
    """Modal unlock; after ``exec()`` returns Accepted, :attr:`archive` is the unlocked archive."""

    def __init__(self, path: Path, *, user: str | None = None, prefill_passphrase: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unlock archive — DermArchive")
        self.archive: Archive | None = None
        self.panel = UnlockPanel(path, user=user, prefill_passphrase=prefill_passphrase, parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        self.panel.unlocked.connect(self._unlocked)
        self.panel.cancelled.connect(self.reject)
        self.setMinimumWidth(440)

    def _unlocked(self, archive: Archive) -> None:
        self.archive = archive
        self.accept()

    def reject(self) -> None:
        if not self.panel.busy:
            super().reject()


def take_passphrase(field: QLineEdit) -> bytearray:
    """The field's text as UTF-8 in a buffer the caller wipes; the field is left empty."""
    text = field.text()
    secret = bytearray(text.encode("utf-8"))
    field.setText("")  # not clear(): clear() keeps the removed text in the field's undo history
    del text
    return secret


def _open_and_wipe(path: Path, user: str, secret: bytearray) -> Archive:
    """Worker: unlock, then wipe the passphrase buffer whatever happened."""
    try:
        return Archive.open(path, user, secret)
    finally:
        wipe(secret)


def archive_title(archive: Any) -> str:
    return f"{Path(archive.path).name} — {archive.user.name} ({archive.user.role})"
