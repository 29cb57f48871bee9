"""Patient: find by NHI or name, or add a new one (NHI checked as it is typed, a duplicate NHI
offered as the existing patient, date of birth). A new patient is created only when the import
starts, so leaving the wizard early leaves no empty patient behind."""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (QCheckBox, QDateEdit, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton,
                               QRadioButton, QWidget)

from ... import nhi as nhi_mod
from ...archive import records
from ...errors import NotFound
from .. import messages
from .base import FormPage
from ...workflows.import_visit import NewPatient
from .common import long_date

ID_ROLE = Qt.ItemDataRole.UserRole
OK_STYLE, BAD_STYLE = "color:#2e6b34; font-weight:600", "color:#a23b2a; font-weight:600"


def patient_line(p: records.Patient) -> str:
    born = f"born {long_date(p.dob)}" if p.dob else "date of birth not recorded"
    return f"{p.display_name}    {p.nhi}    {born}    ({p.image_count} photos)"


class PatientPage(FormPage):
    form_name = "import_wizard_patient"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Whose photos are these?",
                         "Step 3 of 8 — find the patient by NHI number or name, or add a new patient.", parent)
        self.existing_radio = self.w(QRadioButton, "existingPatientRadio")
        self.new_radio = self.w(QRadioButton, "newPatientRadio")
        self.search = self.w(QLineEdit, "patientSearch")
        self.results = self.w(QListWidget, "patientList")
        self.nhi = self.w(QLineEdit, "nhiEdit")
        self.nhi_status = self.w(QLabel, "nhiStatus")
        self.use_existing = self.w(QPushButton, "useExistingButton")
        self.family = self.w(QLineEdit, "familyEdit")
        self.given = self.w(QLineEdit, "givenEdit")
        self.dob = self.w(QDateEdit, "dobEdit")
        self.dob_unknown = self.w(QCheckBox, "dobUnknownCheck")
        self.choice = self.w(QLabel, "patientChoice")
        self.dob.setMaximumDate(QDate.currentDate())
        self.dob.setMinimumDate(QDate(1900, 1, 1))
        self.dob.setDate(QDate(1970, 1, 1))
        self.use_existing.hide()
        self.duplicate: records.Patient | None = None
        self.search.textChanged.connect(self.find)
        self.results.currentItemChanged.connect(lambda *_: self._changed())
        self.results.itemDoubleClicked.connect(lambda _i: self.wiz.next())
        self.nhi.textChanged.connect(self.check_nhi)
        for edit in (self.family, self.given):
            edit.textChanged.connect(lambda _t: self._changed())
        self.dob_unknown.toggled.connect(lambda on: (self.dob.setEnabled(not on), self._changed()))
        self.existing_radio.toggled.connect(lambda _on: self._changed())
        self.use_existing.clicked.connect(self.choose_duplicate)
        self.preselect: int | None = None
        self.shown: dict[int, records.Patient] = {}

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        if self.results.count() == 0:
            self.find(self.search.text())
        if self.preselect is not None:
            self.select(self.preselect)
            self.preselect = None
        self.search.setFocus()
        self._changed()

    def find(self, text: str) -> None:
        current = self.selected_id()
        self.results.clear()
        self.shown = {}
        for p in records.find_patients(self.archive, text, limit=200):
            self.shown[p.id] = p
            item = QListWidgetItem(patient_line(p))
            item.setData(ID_ROLE, p.id)
            self.results.addItem(item)
            if p.id == current:
                self.results.setCurrentItem(item)
        if self.results.count() == 1:
            self.results.setCurrentRow(0)
        self._changed()

    def select(self, patient_id: int) -> None:
        self.existing_radio.setChecked(True)
        for row in range(self.results.count()):
            if self.results.item(row).data(ID_ROLE) == patient_id:
                self.results.setCurrentRow(row)
                return
        try:
            p = records.get_patient(self.archive, patient_id)
        except NotFound:
            return
        self.search.setText(p.nhi)  # find() selects the single match

    def selected_id(self) -> int | None:
        item = self.results.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def check_nhi(self, text: str) -> None:
        self.duplicate = None
        self.use_existing.hide()
        if not text.strip():
            self.nhi_status.clear()
        else:
            problem = nhi_mod.problem(text)
            if problem:
                self.nhi_status.setStyleSheet(BAD_STYLE)
                self.nhi_status.setText(problem if len(nhi_mod.normalise(text)) >= 7 else "Keep typing: 7 characters.")
            else:
                try:
                    self.duplicate = records.patient_by_nhi(self.archive, text)
                except NotFound:
                    self.nhi_status.setStyleSheet(OK_STYLE)
                    self.nhi_status.setText("Valid NHI number.")
                else:
                    self.nhi_status.setStyleSheet(BAD_STYLE)
                    self.nhi_status.setText(f"Already in the archive: {self.duplicate.display_name}.")
                    self.use_existing.show()
        self._changed()

    def choose_duplicate(self) -> None:
        if self.duplicate is not None:
            self.search.setText(self.duplicate.nhi)
            self.existing_radio.setChecked(True)

    def new_patient(self) -> NewPatient | None:
        if self.duplicate is not None or nhi_mod.problem(self.nhi.text()) or not self.family.text().strip():
            return None
        dob = None if self.dob_unknown.isChecked() else self.dob.date().toString("yyyy-MM-dd")
        return NewPatient(nhi_mod.normalise(self.nhi.text()), self.family.text().strip(),
                          self.given.text().strip(), dob)

    def _changed(self) -> None:
        existing = self.existing_radio.isChecked()
        self.w(QWidget, "existingPatientBox").setEnabled(existing)
        self.w(QWidget, "newPatientBox").setEnabled(not existing)
        if existing:
            pid = self.selected_id()
            p = self.shown.get(pid) if pid is not None else None
            self.choice.setText(f"Importing for <b>{p.display_name}</b> (NHI {p.nhi}"
                                f"{', born ' + long_date(p.dob) if p.dob else ''})." if p else
                                "Select the patient in the list.")
        else:
            np = self.new_patient()
            if np is None:
                missing = "a valid NHI number that is not already in the archive" if (
                    self.duplicate or nhi_mod.problem(self.nhi.text())) else "the family name"
                self.choice.setText(f"To add the patient, enter {missing}.")
            else:
                self.choice.setText(f"A new patient <b>{np.family.upper()}, {np.given}</b> ({np.nhi}) will be "
                                    "added when the import starts.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return (self.selected_id() is not None) if self.existing_radio.isChecked() else self.new_patient() is not None

    def validatePage(self) -> bool:  # noqa: N802
        choices = self.wiz.choices
        if self.existing_radio.isChecked():
            choices.patient_id, choices.new_patient = self.selected_id(), None
        else:
            np = self.new_patient()
            if np is None:
                messages.warning(self, "Enter a valid NHI number and the family name of the new patient.")
                return False
            choices.patient_id, choices.new_patient = None, np
        self.wiz.patient_changed()
        return True
