"""Tools ▸ Users…: who may open the archive. Admins add users, change roles, give a user who forgot
their passphrase a new one, and remove users (which changes the archive's keys).

    UsersDialog(archive, parent).open()

Only calls the core (``Archive.add_user``, ``change_role``, ``reset_passphrase``, ``remove_user``);
each runs through ``gui.jobs.run_job``, since a key slot costs about a second of Argon2id and a
removal re-encrypts the catalogue. Passphrases are never shown or kept after use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QWidget,
)

from ..archive.archive import ROLES
from ..archive.keys import KdfParams, passphrase_problems
from ..errors import DermArchiveError
from ..workflows.changes import NOTHING
from .forms import child, dialog_form
from .icons import icon
from .jobs import Job, run_job

OK_STYLE = "color: #166534;"
ERROR_STYLE = "color: #9a3412;"
ROLE_LABELS = {"nurse": "Nurse", "clinician": "Clinician", "admin": "Admin (manages users)"}


class UsersDialog(QDialog):
    changes = NOTHING  # what the main window re-reads when this closes

    def __init__(self, archive: Any, parent: QWidget | None = None, *, kdf: KdfParams | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.kdf = kdf  # tests pass cheap parameters; the default calibrates (never cheap)
        self.job: Job | None = None
        self.setWindowTitle("Users")
        self.setWindowIcon(icon("settings"))
        self.form = dialog_form(self, "users_dialog")
        self.table = child(self.form, QTableView, "usersTable")
        self.name_edit = child(self.form, QLineEdit, "nameEdit")
        self.role_combo = child(self.form, QComboBox, "roleCombo")
        self.passphrase_edit = child(self.form, QLineEdit, "passphraseEdit")
        self.again_edit = child(self.form, QLineEdit, "againEdit")
        self.status_label = child(self.form, QLabel, "statusLabel")
        self.add_button = child(self.form, QPushButton, "addButton")
        self.role_button = child(self.form, QPushButton, "roleButton")
        self.reset_button = child(self.form, QPushButton, "resetButton")
        self.remove_button = child(self.form, QPushButton, "removeButton")
        self.close_btn = child(self.form, QPushButton, "closeButton")
        self.anchor_label = child(self.form, QLabel, "anchorLabel")
        self.acknowledge_button = child(self.form, QPushButton, "acknowledgeButton")
        self.acknowledge_button.clicked.connect(self.acknowledge)
        for role in ROLES:
            self.role_combo.addItem(ROLE_LABELS[role], role)
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["Name", "Role"])
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected_changed())
        self.add_button.clicked.connect(self.add_user)
        self.role_button.clicked.connect(self.change_role)
        self.reset_button.clicked.connect(self.reset_passphrase)
        self.remove_button.clicked.connect(self.remove_user)
        self.close_btn.clicked.connect(self.reject)
        for edit in (self.name_edit, self.passphrase_edit, self.again_edit):
            edit.textChanged.connect(lambda _t: self._show_standing_note())
        self.refresh()
        self.resize(640, 560)

    # -- state --------------------------------------------------------------------------------
    @property
    def is_admin(self) -> bool:
        return bool(self.archive.user.role == "admin")

    def refresh(self) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for user in self.archive.users():
            name = QStandardItem(user.name + (" (you)" if user.id == self.archive.user.id else ""))
            name.setData(user.name)
            role = QStandardItem(user.role.capitalize())
            role.setData(user.role)
            self.model.appendRow([name, role])
        self._selected_changed()
        self._show_anchor_problem()
        self._show_standing_note()

    def _show_anchor_problem(self) -> None:
        """A rolled-back or cut audit log: what is missing, and (admins) the way to go on."""
        problem = self.archive.anchor_problem
        self.anchor_label.setText(problem or "")
        self.anchor_label.setStyleSheet(ERROR_STYLE)
        self.anchor_label.setVisible(bool(problem))
        self.acknowledge_button.setVisible(bool(problem) and self.is_admin)

    def acknowledge(self) -> None:
        answer = QMessageBox.question(
            self, "Acknowledge audit problem",
            "Accept the archive as it is now? Your name and this problem are recorded in the audit log, "
            "and the archive can be changed again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.archive.acknowledge_anchor()
        except DermArchiveError as exc:
            self._status(str(exc), ok=False)
            return
        self.refresh()
        self._status("Acknowledged and recorded in the audit log. The archive can be changed again.")

    def _show_standing_note(self) -> None:
        """Why the buttons are off (not an admin, read-only archive), or nothing."""
        if not self.is_admin:
            self._status("Only an admin can add, change or remove users.", ok=True)
        elif self.archive.anchor_problem:
            self._status("Changes are off until an admin acknowledges the problem above.", ok=False)
        elif self.archive.read_only_reason:
            self._status(self.archive.read_only_reason, ok=False)
        else:
            self._status("")

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return str(self.model.item(rows[0].row(), 0).data()) if rows else None

    def select(self, name: str) -> None:
        for row in range(self.model.rowCount()):
            if self.model.item(row, 0).data() == name:
                self.table.selectRow(row)

    def _selected_changed(self) -> None:
        selected = self.selected_name()
        can = self.is_admin and self.job is None and not self.archive.read_only_reason
        self.add_button.setEnabled(can)
        for button in (self.role_button, self.reset_button, self.remove_button):
            button.setEnabled(can and selected is not None)
        if selected is not None:
            rows = self.table.selectionModel().selectedRows()
            self.name_edit.setText(selected)
            self.role_combo.setCurrentIndex(self.role_combo.findData(self.model.item(rows[0].row(), 1).data()))

    def _status(self, text: str, ok: bool = True) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)

    def _new_passphrase(self) -> str | None:
        first, again = self.passphrase_edit.text(), self.again_edit.text()
        problems = passphrase_problems(first)
        if first != again:
            problems.append("The two passphrases differ.")
        if problems:
            self._status(" ".join(problems), ok=False)
            self.passphrase_edit.setFocus()
            return None
        return first

    # -- actions ------------------------------------------------------------------------------
    def _run(self, busy_text: str, fn: Callable[..., Any], *args: Any, done_text: Callable[[Any], str],
             with_progress: bool = False) -> None:
        def done(result: Any) -> None:
            self.job = None
            self.passphrase_edit.clear()
            self.again_edit.clear()
            self.refresh()
            if self.name_edit.text() not in {u.name for u in self.archive.users()}:
                self.name_edit.clear()  # a removed user's name
            self._status(done_text(result))

        def failed(exc: BaseException) -> None:
            self.job = None
            self._selected_changed()
            self._status(str(exc) if isinstance(exc, DermArchiveError) else
                         f"Something went wrong ({type(exc).__name__}); nothing was changed.", ok=False)

        self._status(busy_text)
        self.job = run_job(fn, *args, parent=self, title=busy_text, on_done=done, on_error=failed,
                           with_progress=with_progress)
        self._selected_changed()

    def add_user(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self._status("Type the new user's name.", ok=False)
            self.name_edit.setFocus()
            return
        passphrase = self._new_passphrase()
        if passphrase is None:
            return
        role = self.role_combo.currentData()
        self._run("Adding the user…", lambda: self.archive.add_user(name, role, passphrase, kdf=self.kdf),
                  done_text=lambda user: f"Added {user.name} ({user.role}). Tell them their passphrase in person.")

    def change_role(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        role = self.role_combo.currentData()
        self._run("Changing the role…", lambda: self.archive.change_role(name, role),
                  done_text=lambda user: f"{user.name} is now {ROLE_LABELS[user.role].split(' (')[0].lower()}.")

    def reset_passphrase(self) -> None:
        name = self.selected_name()
        passphrase = self._new_passphrase() if name else None
        if name is None or passphrase is None:
            return
        self._run("Resetting the passphrase…",
                  lambda: self.archive.reset_passphrase(name, passphrase, kdf=self.kdf),
                  done_text=lambda _r: f"{name} can now unlock with the new passphrase; their old one opens "
                                       "nothing.")

    def remove_user(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self, "Remove user",
            f"Remove {name}? They will no longer be able to unlock this archive. The archive's keys are "
            "changed, which takes a moment; everyone else keeps their passphrase.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return

        def remove(progress: Callable[[int, int, str], None], cancelled: Callable[[], bool]) -> Any:
            return self.archive.remove_user(name, progress)

        self._run("Removing the user and changing the keys…", remove, with_progress=True,
                  done_text=lambda user: f"Removed {user.name}. The archive's keys were changed.")
