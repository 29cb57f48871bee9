"""Practice details printed on referrals (the ``practice.letterhead`` archive setting).

    LetterheadDialog(archive, parent).exec()  # saves through exports.referral.set_letterhead
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from ..archive.archive import Archive
from ..exports import referral
from . import messages
from .forms import child, load_form


class LetterheadDialog(QDialog):
    def __init__(self, archive: Archive, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.setWindowTitle("Practice details for referrals")
        self.form = load_form("referral_letterhead", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        self.name_edit = child(self.form, QLineEdit, "nameEdit")
        self.address_edit = child(self.form, QPlainTextEdit, "addressEdit")
        self.phone_edit = child(self.form, QLineEdit, "phoneEdit")
        self.email_edit = child(self.form, QLineEdit, "emailEdit")
        current = referral.letterhead(archive)
        self.name_edit.setText(current.name)
        self.address_edit.setPlainText(current.address)
        self.phone_edit.setText(current.phone)
        self.email_edit.setText(current.email)
        buttons = child(self.form, QDialogButtonBox, "buttonBox")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_btn = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.resize(460, self.sizeHint().height())

    def save(self) -> None:
        try:
            referral.set_letterhead(self.archive, name=self.name_edit.text(), address=self.address_edit.toPlainText(),
                                    phone=self.phone_edit.text(), email=self.email_edit.text())
        except Exception as exc:  # noqa: BLE001 - shown to the user; a bug gets the generic sentence
            messages.show_error(self, exc, "Practice details")
            return
        self.accept()
