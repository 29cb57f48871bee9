"""The import wizard: eight pages over one :class:`~dermarchive.workflows.import_visit.ImportChoices`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QPushButton, QWidget, QWizard

from ...archive import records
from ...ingest import ImportPlan
from ...workflows.import_visit import ImportChoices, WizardOutcome
from .clinic_day import ClinicDayPage
from .consent_page import ConsentPage, LocationPage
from .organise import OrganisePage, lesions_of
from .patient import PatientPage
from .review import ReviewPage
from .run_pages import FinishPage, ImportPage
from .source import SourcePage

PAGE_SOURCE, PAGE_REVIEW, PAGE_PATIENT, PAGE_ORGANISE, PAGE_CONSENT, PAGE_LOCATION, PAGE_IMPORT, PAGE_FINISH = range(8)
PAGE_CLINIC_DAY = 8  # the "Clinic day" mode: the folder sorted by consent sheets (clinic_day.py)


def wizard_buttons(wizard: QWizard) -> list[QAbstractButton]:
    return [wizard.button(b) for b in (QWizard.WizardButton.BackButton, QWizard.WizardButton.NextButton,
                                       QWizard.WizardButton.CommitButton, QWizard.WizardButton.FinishButton,
                                       QWizard.WizardButton.CancelButton)]


class ImportWizard(QWizard):
    """``ImportWizard(archive, parent=None, *, folder=None, patient_id=None)``.

    ``folder`` and ``patient_id`` pre-fill the first and third pages (e.g. "Import photos for this
    patient…"). After ``finished``, :attr:`outcome` holds what was imported (or None)."""

    def __init__(self, archive: Any, parent: QWidget | None = None, *, folder: Path | str | None = None,
                 patient_id: int | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importWizard")
        self.setWindowTitle("Import photos")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.archive = archive
        self.plan: ImportPlan | None = None
        self.choices = ImportChoices(clinician=archive.user.name)
        self.outcome: WizardOutcome | None = None
        self.lesions: list[records.Lesion] = []
        self.thumbs: dict[str, QPixmap] = {}  # previews of the folder's photos, in memory only
        self.source = SourcePage(Path(folder) if folder else None)
        self.review = ReviewPage()
        self.patient = PatientPage()
        self.patient.preselect = patient_id
        self.organise = OrganisePage()
        self.consent = ConsentPage()
        self.location = LocationPage()
        self.importing = ImportPage()
        self.finish = FinishPage()
        for n, page in enumerate((self.source, self.review, self.patient, self.organise, self.consent,
                                  self.location, self.importing, self.finish)):
            self.setPage(n, page)
        self.clinic_day = ClinicDayPage()
        self.setPage(PAGE_CLINIC_DAY, self.clinic_day)
        self.clinic_day_mode = QCheckBox("Clinic day: sort the photos by the consent sheets photographed among them")
        self.clinic_day_mode.setObjectName("clinicDayMode")
        self.clinic_day_mode.setAccessibleName("Clinic day mode: sort photos by consent sheet")
        self.source.layout().addWidget(self.clinic_day_mode)
        for button in self.findChildren(QPushButton):
            if button not in wizard_buttons(self):
                # Enter means Next/Import/Finish wherever the focus is; Space still presses the
                # focused button. In a dialog every QPushButton is an "auto default" that takes
                # Enter when focused, which made Enter press "Import all" or "Remove originals".
                button.setAutoDefault(False)
                button.setDefault(False)
        self.resize(1080, 720)

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        if self.currentId() == PAGE_SOURCE and self.clinic_day_mode.isChecked():
            return PAGE_CLINIC_DAY
        return super().nextId()

    def set_plan(self, plan: ImportPlan) -> None:
        """A newly read folder: forget choices about the previous one (but keep the patient)."""
        self.plan = plan
        self.thumbs.clear()
        kept = self.choices
        self.choices = ImportChoices(patient_id=kept.patient_id, new_patient=kept.new_patient,
                                     clinician=kept.clinician)

    def patient_changed(self) -> None:
        self.lesions = lesions_of(self.archive, self.choices.patient_id)

    def busy(self) -> bool:
        return any(p.job is not None for p in (self.source, self.importing, self.finish, self.clinic_day))

    def done(self, result: int) -> None:  # noqa: D401 - QDialog.done: closing, cancelling or locking
        """Stop background work first, so the archive is never closed under a running import."""
        if self.source.job is not None:
            self.source.job.cancel()
            self.source.job.finished.wait(30)
        self.importing.wait()
        for job in (self.clinic_day.job, self.clinic_day.thumb_job):
            if job is not None:
                job.cancel()
                job.finished.wait(60)
        if self.finish.job is not None:
            self.finish.job.finished.wait(30)
        self.review.thumbs.stop()
        self.review.large.stop()
        self.review.thumbs.wait()
        self.review.large.wait()
        self.thumbs.clear()
        super().done(result)
