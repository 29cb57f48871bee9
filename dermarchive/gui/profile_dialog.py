"""Tools ▸ My profile…: the signed-in user's full name, title and registration number, which sign
their referrals ("From" and "Referred by")."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ..archive import profiles
from ..errors import DermArchiveError
from . import messages


class ProfileDialog(QDialog):
    def __init__(self, archive: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.setWindowTitle("My profile")
        current = profiles.profile(archive)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 14)
        intro = QLabel(f"How {archive.user.name} signs referrals: the letter's “From” and “Referred by”.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name_edit = self._edit("fullNameEdit", "Full name", current.full_name, "e.g. Jane Smith")
        self.title_edit = self._edit("titleEdit", "Title", current.title, "e.g. Dr, GP, Nurse practitioner")
        self.registration_edit = self._edit("registrationEdit", "Registration number", current.registration,
                                            "e.g. Medical Council number")
        form.addRow("&Full name:", self.name_edit)
        form.addRow("&Title:", self.title_edit)
        form.addRow("&Registration number:", self.registration_edit)
        layout.addLayout(form)
        self.sample = QLabel()
        self.sample.setObjectName("signatureSample")
        self.sample.setWordWrap(True)
        layout.addWidget(self.sample)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("saveButton")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        for edit in (self.name_edit, self.title_edit, self.registration_edit):
            edit.textChanged.connect(self._update)
        self.setMinimumWidth(480)
        self._update()

    def _edit(self, name: str, accessible: str, text: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(text)
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(profiles.MAX_LENGTH)
        return edit

    def _profile(self) -> profiles.Profile:
        return profiles.Profile(self.name_edit.text().strip(), self.title_edit.text().strip(),
                                self.registration_edit.text().strip())

    def _update(self, *_: Any) -> None:
        signature = self._profile().signature
        self.sample.setText(f"Referrals will say: Referred by {signature}" if signature
                            else "Without a full name, referrals are signed with the user name.")

    def save(self) -> None:
        p = self._profile()
        try:
            profiles.set_profile(self.archive, full_name=p.full_name, title=p.title, registration=p.registration)
        except DermArchiveError as exc:
            messages.show_error(self, exc)
            return
        self.accept()
