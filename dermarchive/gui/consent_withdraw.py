"""Withdraw consent: the reason, the date, and what happens to the visit's photos.

Each photo of the visit is listed with an "essential for care" checkbox (ticked = kept, limited to
the clinical record). With "Delete … not essential" ticked, the others are deleted for real by the
core (:func:`dermarchive.workflows.consent.withdraw_consent`); the button says how many. Photos
already sent to the practice PACS are named before the user confirms (their PACS copies are
deleted too), and afterwards the dialog says what became of them there.
"""

from __future__ import annotations


from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QDateEdit, QDialog, QLabel, QLineEdit, QListWidget,
                               QPushButton, QWidget)

from ..archive import records
from ..archive.archive import Archive
from ..consent.records import affected_images, current
from ..workflows.consent import Withdrawal, withdraw_consent
from ..consent.scopes import LABELS, METHOD_LABELS
from ..dicom.pacs import images_in_pacs
from .jobs import run_job
from . import messages
from .consent_photos import PhotoList
from .forms import child, dialog_form
from .words import day_text, plural

DANGER_STYLE = "QPushButton { background: #b3261e; color: white; border-color: #8c1d18; font-weight: 600; }"


def long_date(iso: str) -> str:
    return day_text(iso)


class WithdrawConsentDialog(QDialog):
    def __init__(self, archive: Archive, visit_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.visit_id = archive, visit_id
        self.result_: Withdrawal | None = None
        visit = records.get_visit(archive, visit_id)
        consent = current(archive, visit_id)
        self.setWindowTitle("Withdraw consent")
        self.form = dialog_form(self, "withdraw_dialog", (16, 16, 16, 12))
        self.reason_edit = child(self.form, QLineEdit, "reasonEdit")
        self.date_edit = child(self.form, QDateEdit, "withdrawnDateEdit")
        self.delete_check = child(self.form, QCheckBox, "deleteCheck")
        self.photo_list = child(self.form, QListWidget, "photoList")
        self.summary_label = child(self.form, QLabel, "summaryLabel")
        self.withdraw_btn = child(self.form, QPushButton, "withdrawButton")
        self.cancel_btn = child(self.form, QPushButton, "cancelButton")

        granted = ", ".join(LABELS[s] for s in consent.scopes) if consent else "nothing"
        method = METHOD_LABELS.get(consent.method, "") if consent else ""
        intro = child(self.form, QLabel, "introLabel")
        intro.setText(f"Withdraw consent for the visit of {long_date(visit.date)}. It currently allows: "
                      f"{granted} ({method.lower()}). Afterwards this visit's photos may only be kept in "
                      f"the patient's clinical record; earlier exports cannot be recalled."
                      + (" The photo of the signed consent form is kept as the record of consent."
                         if any(i.kind == "consent-form" for i in records.images(archive, visit_id=visit_id)) else ""))
        today = QDate.currentDate()
        self.date_edit.setDate(today)
        self.date_edit.setMaximumDate(today)
        self.photos = PhotoList(self.photo_list, archive, affected_images(archive, visit_id), checkable=True,
                                checked={i.id for i in affected_images(archive, visit_id) if i.essential_for_care})
        self._captions = {i: item.text() for i, item in self.photos.items.items()}
        self.in_pacs = set(images_in_pacs(archive, list(self.photos.items)))  # the catalogue's record; no network
        for item in self.photos.items.values():
            item.setToolTip("Tick if this photo is essential for the patient's care: it is then kept.")

        self.reason_edit.textChanged.connect(self._update)
        self.delete_check.toggled.connect(self._update)
        self.photo_list.itemChanged.connect(lambda _item: self._update())
        self.withdraw_btn.clicked.connect(self.withdraw)
        self.cancel_btn.clicked.connect(self.reject)
        self.finished.connect(lambda _r: self.photos.stop())
        self.resize(780, 640)
        self.reason_edit.setFocus()
        self._update()

    def essential(self) -> dict[int, bool]:
        ticked = self.photos.checked_ids()
        return {i: i in ticked for i in self.photos.items}

    def _update(self) -> None:
        marks = self.essential()
        doomed = [i for i, keep in marks.items() if not keep]
        deleting = self.delete_check.isChecked()
        self.photo_list.setEnabled(bool(marks))
        self.photo_list.blockSignals(True)  # captions change below; not a user's tick
        for image_id, keep in marks.items():
            fate = ("Essential for care: kept" if keep else
                    ("Not essential: DELETED, in the PACS too" if image_id in self.in_pacs else
                     "Not essential: DELETED") if deleting else "Not essential: kept for now")
            item = self.photos.items[image_id]
            item.setText(f"{self._captions[image_id]}\n{fate}")
            item.setForeground(QColor("#b3261e") if deleting and not keep else QColor("#22313b"))
        self.photo_list.blockSignals(False)
        if not marks:
            self.summary_label.setText("This visit has no photos besides the consent form.")
        elif deleting:
            in_pacs = sorted(set(doomed) & self.in_pacs)
            self.summary_label.setText(
                f"{plural(len(doomed), 'photo')} will be deleted for good (they cannot be recovered); "
                f"{len(marks) - len(doomed)} essential for care will be kept, limited to the clinical record."
                + (f" {'Photo' if len(in_pacs) == 1 else 'Photos'} {', '.join(map(str, in_pacs))} "
                   f"{'is' if len(in_pacs) == 1 else 'are'} also in the practice PACS and will be "
                   "deleted there too." if in_pacs else ""))
        else:
            kept = "The photo is" if len(marks) == 1 else f"All {len(marks)} photos are"
            self.summary_label.setText(f"{kept} kept, limited to the clinical record.")
        self.summary_label.setStyleSheet("color: #b3261e; font-weight: 600;" if deleting and doomed else "")
        if deleting and doomed:
            self.withdraw_btn.setText(f"Withdraw and delete {len(doomed)} photo{'s' if len(doomed) != 1 else ''}")
            self.withdraw_btn.setStyleSheet(DANGER_STYLE)
        else:
            self.withdraw_btn.setText("Withdraw consent")
            self.withdraw_btn.setStyleSheet("")
        reason = bool(self.reason_edit.text().strip())
        self.withdraw_btn.setEnabled(reason)
        self.withdraw_btn.setToolTip("" if reason else "Enter the reason the patient gave (or \"not given\").")

    def withdraw(self) -> None:
        """Runs in a worker: deleting photos may also delete their copies in the practice PACS."""
        when = self.date_edit.date().toString(Qt.DateFormat.ISODate)
        self.withdraw_btn.setEnabled(False)

        def work() -> Withdrawal:
            return withdraw_consent(self.archive, self.visit_id, reason=self.reason_edit.text(),
                                    withdrawn_at=when, essential=self.essential(),
                                    delete_non_essential=self.delete_check.isChecked())

        def done(result: Withdrawal) -> None:
            self.result_ = result
            if result.left_in_pacs:
                messages.warning(self, "\n".join(result.pacs_lines()), "Withdraw consent")
            elif result.in_pacs:
                messages.info(self, "\n".join(result.pacs_lines()), "Withdraw consent")
            self.accept()

        def failed(exc: BaseException) -> None:
            self.withdraw_btn.setEnabled(True)
            messages.show_error(self, exc, "Withdraw consent")

        run_job(work, parent=self, title="Withdrawing consent…", on_done=done, on_error=failed)

