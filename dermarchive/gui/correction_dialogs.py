"""Dialogs that correct the record: new/edit patient, merge, move photos, delete photos, edit lesion.

Each dialog only gathers input and calls one use case of :mod:`dermarchive.workflows.corrections`
(the CLI calls the same) through ``run_job`` (a correction may reach the PACS over the network).
Every dialog asks for the reason the audit log keeps; its main button stays disabled, with a line
saying why, until the input is complete. ``result_`` holds what the use case returned.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import nhi as nhi_mod
from ..archive import bodysites, records
from ..errors import InvalidInput, NotFound
from ..workflows import corrections
from . import messages
from .jobs import run_job
from .words import plural

DANGER_STYLE = "QPushButton { background: #b3261e; color: white; border-color: #8c1d18; font-weight: 600; }"
HINT_STYLE = "color: #5c6770;"
PROBLEM_STYLE = "color: #9a3412;"


def _named(widget: QWidget, name: str, accessible: str) -> QWidget:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    return widget


class CorrectionDialog(QDialog):
    """Form rows, a reason, a status line, and OK/Cancel; ``check()`` says what is missing."""

    ok_text = "Save"
    needs_reason = True

    def __init__(self, archive: Any, title: str, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.result_: Any = None
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 14)
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        self.intro.setObjectName("introLabel")
        layout.addWidget(self.intro)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.reason_edit = _named(QLineEdit(), "reasonEdit", "Reason for the correction")
        self.reason_edit.setPlaceholderText("e.g. filed under the wrong patient")
        self.status = QLabel()
        self.status.setObjectName("statusLabel")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.ok_button = self.buttons.addButton(self.ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setObjectName("okButton")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("cancelButton")
        self.ok_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.reject)
        self._tail = layout
        self.setMinimumWidth(520)

    def finish_layout(self) -> None:
        if self.needs_reason:
            self.form.addRow("&Reason:", self.reason_edit)
            self.reason_edit.textChanged.connect(self.update_state)
        self._tail.addWidget(self.status)
        self._tail.addStretch(1)
        self._tail.addWidget(self.buttons)
        self.update_state()

    def problem(self) -> str | None:  # overridden: what stops the OK button
        return None

    def update_state(self, *_: Any) -> None:
        problem = self.problem()
        if problem is None and self.needs_reason and not self.reason_edit.text().strip():
            problem = "Say why (the reason is kept in the audit log)."
        self.ok_button.setEnabled(problem is None)
        self.status.setText(problem or "")
        self.status.setStyleSheet(PROBLEM_STYLE if problem else HINT_STYLE)

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def work(self) -> Any:  # overridden: call the use case (runs in a worker)
        raise NotImplementedError

    def apply(self) -> None:
        if self.problem() is not None:
            return
        self.ok_button.setEnabled(False)
        self.status.setText("Saving…")

        def done(result: Any) -> None:
            if not shiboken6.isValid(self) or not self.isVisible():  # closed meanwhile (the archive locked)
                return
            self.result_ = result
            lines = self.report(result)
            if lines:
                messages.info(self.parentWidget(), "\n".join(lines))
            self.accept()

        def failed(exc: BaseException) -> None:
            if not shiboken6.isValid(self) or not self.isVisible():
                return
            messages.show_error(self, exc)
            self.update_state()

        self.job = run_job(self.work, parent=self, on_done=done, on_error=failed)

    def report(self, result: Any) -> list[str]:
        pacs = getattr(result, "pacs", None)
        return pacs.lines() if pacs is not None else []


# -- patients ----------------------------------------------------------------------------------
class PatientDialog(CorrectionDialog):
    """New patient (no reason needed) or Edit patient (reason; NHI changes for clinicians/admins)."""

    def __init__(self, archive: Any, patient: records.Patient | None = None, *, nhi: str = "",
                 parent: QWidget | None = None) -> None:
        self.patient = patient
        self.needs_reason = patient is not None
        self.ok_text = "Save changes" if patient else "Add patient"
        super().__init__(archive, "Edit patient" if patient else "New patient",
                         "Correct this patient's details. The change is kept in the audit log with your reason."
                         if patient else "Register a patient. The NHI is checked as you type.", parent)
        self.nhi_edit = _named(QLineEdit(patient.nhi if patient else nhi), "nhiEdit", "NHI number")
        self.nhi_edit.setMaxLength(8)
        self.nhi_hint = _named(QLabel(), "nhiHint", "NHI check")
        self.family_edit = _named(QLineEdit(patient.family if patient else ""), "familyEdit", "Family name")
        self.given_edit = _named(QLineEdit(patient.given if patient else ""), "givenEdit", "Given names")
        self.dob_edit = _named(QLineEdit(patient.dob or "" if patient else ""), "dobEdit", "Date of birth")
        self.dob_edit.setPlaceholderText("YYYY-MM-DD")
        self.form.addRow("&NHI:", self.nhi_edit)
        self.form.addRow("", self.nhi_hint)
        self.form.addRow("&Family name:", self.family_edit)
        self.form.addRow("&Given names:", self.given_edit)
        self.form.addRow("&Date of birth:", self.dob_edit)
        self.reason_edit.setPlaceholderText("e.g. spelling corrected from the practice system")
        if patient is not None and archive.user.role not in corrections.CORRECTORS:
            self.nhi_edit.setReadOnly(True)
            self.nhi_edit.setToolTip("Only clinicians and admins may change an NHI: it re-identifies every photo.")
        for edit in (self.nhi_edit, self.family_edit, self.given_edit, self.dob_edit):
            edit.textChanged.connect(self.update_state)
        self.finish_layout()

    def _nhi_problem(self) -> str | None:
        text = self.nhi_edit.text()
        problem = nhi_mod.problem(text)
        if problem:
            return problem
        value = nhi_mod.normalise(text)
        if self.patient is not None and value == self.patient.nhi:
            return None
        try:
            other = records.patient_by_nhi(self.archive, value)
        except NotFound:
            return None
        return f"NHI {value} is already registered (patient {other.display_name})."

    def problem(self) -> str | None:
        nhi_problem = self._nhi_problem()
        self.nhi_hint.setText(nhi_problem or "✓ A valid NHI number.")
        self.nhi_hint.setStyleSheet(PROBLEM_STYLE if nhi_problem else "color: #1b5e20;")
        if nhi_problem:
            return "Correct the NHI first (see above)."
        if not self.family_edit.text().strip():
            return "A family name is required."
        dob = self.dob_edit.text().strip()
        if dob:
            try:
                records.check_dob(dob)
            except InvalidInput as exc:
                return str(exc)
        return None

    def work(self) -> Any:
        nhi, family, given = nhi_mod.normalise(self.nhi_edit.text()), self.family_edit.text(), self.given_edit.text()
        dob = self.dob_edit.text().strip()
        if self.patient is None:
            return records.add_patient(self.archive, nhi, family, given, dob or None)
        return corrections.edit_patient(self.archive, self.patient.nhi, family=family, given=given,
                                        dob=dob if dob else None,
                                        new_nhi=nhi if nhi != self.patient.nhi else None, reason=self.reason())


class PatientPicker(QWidget):
    """Search as you type, pick one patient (NHI or name)."""

    def __init__(self, archive: Any, exclude: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.exclude = archive, exclude
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = _named(QLineEdit(), "patientSearch", "Search patients by NHI or name")
        self.search.setPlaceholderText("NHI or name")
        self.list = _named(QListWidget(), "patientList", "Matching patients")
        self.list.setMinimumHeight(160)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self.refill)
        self.refill("")

    def refill(self, text: str) -> None:
        self.list.clear()
        for p in records.find_patients(self.archive, text, limit=60):
            if p.id == self.exclude:
                continue
            item = QListWidgetItem(f"{p.display_name} · NHI {p.nhi}" + (f" · born {p.dob}" if p.dob else ""))
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            self.list.addItem(item)

    def patient_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None


class MergeDialog(CorrectionDialog):
    ok_text = "Merge"

    def __init__(self, archive: Any, patient: records.Patient, parent: QWidget | None = None) -> None:
        super().__init__(archive, "Merge patients",
                         f"Merge {patient.display_name} (NHI {patient.nhi}) into the patient you choose: all "
                         "visits with their consent, lesions and photos move there, and this record is no "
                         "longer listed. This cannot be undone.", parent)
        self.patient = patient
        self.picker = PatientPicker(archive, patient.id)
        self.picker.list.currentItemChanged.connect(self.update_state)
        self.form.addRow("&Into:", self.picker)
        self.ok_button.setStyleSheet(DANGER_STYLE)
        self.reason_edit.setPlaceholderText("e.g. the same person registered twice")
        self.finish_layout()

    def problem(self) -> str | None:
        return None if self.picker.patient_id() else "Choose the patient to merge into."

    def work(self) -> Any:
        into = records.get_patient(self.archive, self.picker.patient_id() or 0)
        return corrections.merge_patients(self.archive, self.patient.nhi, into.nhi, reason=self.reason())


# -- photos ------------------------------------------------------------------------------------
def _lesion_combo(archive: Any, patient_id: int | None, name: str) -> QComboBox:
    combo = _named(QComboBox(), name, "Lesion")
    combo.addItem("No lesion (e.g. overview photo)", None)
    if patient_id is not None:
        for lesion in records.lesions(archive, patient_id):
            combo.addItem(f"{lesion.label} — {lesion.site_label}", lesion.id)
    return combo


class MoveToLesionDialog(CorrectionDialog):
    ok_text = "Move"

    def __init__(self, archive: Any, image_ids: list[int], patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(archive, "Move to lesion",
                         f"File {plural(len(image_ids), 'photo')} under another lesion of this patient.", parent)
        self.image_ids, self.patient_id = image_ids, patient_id
        self.lesion_combo = _lesion_combo(archive, patient_id, "lesionCombo")
        self.lesion_combo.currentIndexChanged.connect(self.update_state)
        self.form.addRow("&Lesion:", self.lesion_combo)
        self.finish_layout()

    def work(self) -> Any:
        lesion = self.lesion_combo.currentData()  # None: "No lesion" (taken off their lesion)
        return corrections.move_images(self.archive, self.image_ids, to_patient_id=self.patient_id,
                                       to_lesion_id=lesion, to_no_lesion=lesion is None, reason=self.reason())


class MoveToPatientDialog(CorrectionDialog):
    ok_text = "Move"

    def __init__(self, archive: Any, image_ids: list[int], patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(archive, "Move to another patient",
                         f"File {plural(len(image_ids), 'photo')} under another patient. They join that patient's visit "
                         "of the same day (or a new one) and its consent; this patient's consent does not go "
                         "with them. A copy in the practice PACS is corrected too.", parent)
        self.image_ids = image_ids
        self.picker = PatientPicker(archive, patient_id)
        self.lesion_combo = _lesion_combo(archive, None, "lesionCombo")
        self.picker.list.currentItemChanged.connect(self._patient_changed)
        self.form.addRow("&Patient:", self.picker)
        self.form.addRow("&Lesion:", self.lesion_combo)
        self.finish_layout()

    def _patient_changed(self, *_: Any) -> None:
        self.lesion_combo.clear()
        self.lesion_combo.addItem("No lesion (e.g. overview photo)", None)
        pid = self.picker.patient_id()
        if pid is not None:
            for lesion in records.lesions(self.archive, pid):
                self.lesion_combo.addItem(f"{lesion.label} — {lesion.site_label}", lesion.id)
        self.update_state()

    def problem(self) -> str | None:
        return None if self.picker.patient_id() else "Choose the patient these photos belong to."

    def work(self) -> Any:
        return corrections.move_images(self.archive, self.image_ids, to_patient_id=self.picker.patient_id(),
                                       to_lesion_id=self.lesion_combo.currentData(), reason=self.reason())


class DeletePhotosDialog(CorrectionDialog):
    def __init__(self, archive: Any, image_ids: list[int], parent: QWidget | None = None) -> None:
        from ..dicom.pacs import images_in_pacs

        self.ok_text = f"Delete {plural(len(image_ids), 'photo')} for good"
        in_pacs = sorted(images_in_pacs(archive, image_ids))
        super().__init__(archive, "Delete photos",
                         f"Delete {plural(len(image_ids), 'photo')} for real: their stored files are erased and cannot "
                         "be recovered (backups made earlier still hold them). The audit log keeps the fact "
                         "and your reason, not the photos."
                         + (f" {len(in_pacs)} of them are in the practice PACS and are deleted there too."
                            if in_pacs else ""), parent)
        self.image_ids = image_ids
        self.ok_button.setStyleSheet(DANGER_STYLE)
        self.reason_edit.setPlaceholderText("e.g. duplicate, or photo of the wrong area")
        self.finish_layout()

    def problem(self) -> str | None:
        if self.archive.user.role not in corrections.CORRECTORS:
            return "Only clinicians and admins may delete photos. Ask one of them."
        return None

    def work(self) -> Any:
        return corrections.delete_images(self.archive, self.image_ids, reason=self.reason())

    def report(self, result: Any) -> list[str]:
        return result.pacs.lines(deleting=True)


# -- lesions -----------------------------------------------------------------------------------
class LesionDialog(CorrectionDialog):
    ok_text = "Save changes"

    def __init__(self, archive: Any, lesion: records.Lesion, parent: QWidget | None = None) -> None:
        super().__init__(archive, "Edit lesion", "Correct this lesion's label, body site, diagnosis or status.",
                         parent)
        self.lesion = lesion
        self.label_edit = _named(QLineEdit(lesion.label), "labelEdit", "Lesion label")
        self.site_combo = _named(QComboBox(), "siteCombo", "Body site")
        self.site_combo.addItem("Body site not given", "")
        for site in bodysites.SITES:
            self.site_combo.addItem(site.label, site.key)
        self.site_combo.setCurrentIndex(max(0, self.site_combo.findData(lesion.site)))
        self.site_text = _named(QLineEdit(lesion.site_text), "siteTextEdit", "Site detail")
        self.site_text.setPlaceholderText("detail, e.g. 3 cm below the elbow")
        self.laterality = _named(QComboBox(), "lateralityCombo", "Side")
        for lat in bodysites.LATERALITIES:
            self.laterality.addItem(lat.capitalize() if lat else "Side not given", lat)
        self.laterality.setCurrentIndex(max(0, self.laterality.findData(lesion.laterality)))
        self.diagnosis = _named(QLineEdit(lesion.diagnosis), "diagnosisEdit", "Diagnosis")
        self.status_combo = _named(QComboBox(), "statusCombo", "Status")
        for status in records.LESION_STATUSES:
            self.status_combo.addItem(status.capitalize(), status)
        self.status_combo.setCurrentIndex(max(0, self.status_combo.findData(lesion.status)))
        self.form.addRow("&Label:", self.label_edit)
        self.form.addRow("Body &site:", self.site_combo)
        self.form.addRow("Site &detail:", self.site_text)
        self.form.addRow("Si&de:", self.laterality)
        self.form.addRow("D&iagnosis:", self.diagnosis)
        self.form.addRow("S&tatus:", self.status_combo)
        self.reason_edit.setPlaceholderText("e.g. histology report")
        for edit in (self.label_edit, self.site_text, self.diagnosis):
            edit.textChanged.connect(self.update_state)
        for combo in (self.site_combo, self.laterality, self.status_combo):
            combo.currentIndexChanged.connect(self.update_state)
        self.finish_layout()

    def problem(self) -> str | None:
        if not self.label_edit.text().strip():
            return "A lesion needs a label."
        site, lat = self.site_combo.currentData(), self.laterality.currentData()
        if site and lat in ("left", "right") and not bodysites.BY_KEY[site].lateral:
            return f"{bodysites.BY_KEY[site].label} has no left or right side; choose midline or none."
        return None

    def work(self) -> Any:
        fields = {"label": self.label_edit.text(), "site": self.site_combo.currentData(),
                  "site_text": self.site_text.text(), "laterality": self.laterality.currentData(),
                  "diagnosis": self.diagnosis.text(), "status": self.status_combo.currentData()}
        return corrections.edit_lesion_by_id(self.archive, self.lesion.id, reason=self.reason(), **fields)
