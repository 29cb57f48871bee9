"""Consent and Location.

Consent belongs to a visit, and the visits exist only once the photos are imported, so this page
collects the choice and :func:`~dermarchive.workflows.import_visit.carry_out` records it (``consent.records.record_consent``)
for every visit the import creates. Three ways: record it now (purposes, each with the consent
editor's one-line explanation; method, who, when, notes; and the evidence: signature on the pad,
with Undo/Redo/Clear as in the editor, or on paper, a photographed form marked on the Review page,
verbal, or an exemption with its reason); add the photos to an earlier visit that already has
consent; or no consent record, with a reason that goes into the audit log.

Location: how many photos record where they were taken; the location is removed unless the nurse
explicitly keeps it with a reason (audited by the core)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDateEdit, QGroupBox, QLabel, QLineEdit, QPushButton,
                               QRadioButton, QWidget, QWizard)

from ...archive import records
from ...consent import records as consent_records
from ...consent.scopes import (CLINICAL, DESCRIPTIONS, LABELS, METHOD_LABELS, METHODS, PURPOSES, SECONDARY,
                               WRITTEN_METHODS)
from ...errors import InvalidInput
from .. import messages
from ..consent_editor import ALWAYS, scope_note, scope_text
from ..forms import place
from ..signature_pad import SignaturePad
from .base import FormPage
from ...workflows.import_visit import ConsentChoice, check_consent
from .common import long_date, plural

METHOD_HINTS = {
    "written-signature": "The patient signs on the pad above (mouse, finger or pen), or on paper.",
    "photographed-form": "Uses the photo you marked as 'Consent form' in each visit; it is imported with the visit.",
    "verbal": "Verbal consent covers clinical use only (record, referral, second opinion, triage).",
    "exemption": "No consent was asked. Covers clinical use only; the reason is recorded.",
}


class ConsentPage(FormPage):
    form_name = "import_wizard_consent"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Consent", "Step 5 of 8 — how the patient agreed to these photos being taken and used.",
                         parent)
        self.record_radio = self.w(QRadioButton, "recordConsentRadio")
        self.existing_radio = self.w(QRadioButton, "existingConsentRadio")
        self.none_radio = self.w(QRadioButton, "noConsentRadio")
        self.method = self.w(QComboBox, "methodCombo")
        self.obtained_by = self.w(QLineEdit, "obtainedByEdit")
        self.obtained_on = self.w(QDateEdit, "obtainedDateEdit")
        self.exemption = self.w(QLineEdit, "exemptionReasonEdit")
        self.on_paper = self.w(QCheckBox, "signedOnPaperCheck")
        self.hint = self.w(QLabel, "methodHint")
        self.existing_visit = self.w(QComboBox, "existingVisitCombo")
        self.none_reason = self.w(QLineEdit, "noConsentReasonEdit")
        self.notes = self.w(QLineEdit, "notesEdit")
        self.existing_visit.setPlaceholderText("This patient has no earlier visit with consent recorded")
        self.pad = SignaturePad()
        self.pad.setMinimumSize(320, 110)
        place(self.w(QWidget, "signaturePlaceholder"), self.pad)
        self.w(QPushButton, "undoSignatureButton").clicked.connect(self.pad.undo)
        self.w(QPushButton, "redoSignatureButton").clicked.connect(self.pad.redo)
        self.w(QPushButton, "clearSignatureButton").clicked.connect(self.pad.clear)
        self.pad.changed.connect(self._pad_changed)
        self.pad.set_keyboard_route("Keyboard only or no pen: tick “Signed on paper instead” above.")
        scopes_box = self.w(QGroupBox, "scopesBox")
        self.scope_checks: dict[str, QCheckBox] = {}
        for purpose in PURPOSES:
            check = QCheckBox(LABELS[purpose], scopes_box)
            check.setObjectName("scope_" + purpose.replace(".", "_"))
            check.setToolTip(DESCRIPTIONS[purpose])
            check.setChecked(purpose in CLINICAL)
            scopes_box.layout().addWidget(check)
            note = scope_note(purpose, wrap=False)  # the consent editor's words and look, one line each
            scopes_box.layout().addWidget(note)
            self.scope_checks[purpose] = check
        for method in METHODS:
            self.method.addItem(METHOD_LABELS[method], method)
        self.method.setCurrentIndex(METHODS.index("verbal"))
        self.obtained_on.setMaximumDate(QDate.currentDate())
        self.obtained_on.setDate(QDate.currentDate())
        for radio in (self.record_radio, self.existing_radio, self.none_radio):
            radio.toggled.connect(lambda _on: self._update())
        self.method.currentIndexChanged.connect(lambda _i: self._update())
        self.on_paper.toggled.connect(lambda _on: self._update())
        self.initialised_for: int | None | str = "never"

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        choices = self.wiz.choices
        if not self.obtained_by.text():
            self.obtained_by.setText(self.archive.user.name)
        if any(p.include and p.kind == "consent-form" for p in choices.photos.values()) \
                and self.initialised_for == "never":
            self.method.setCurrentIndex(METHODS.index("photographed-form"))
        if self.initialised_for != choices.patient_id:
            self.existing_visit.clear()
            if choices.patient_id is not None:
                for visit in records.visits(self.archive, choices.patient_id):
                    current = consent_records.current(self.archive, visit.id)
                    if current is None or current.withdrawn:
                        continue
                    scopes = ", ".join(LABELS[s] for s in current.scopes)
                    self.existing_visit.addItem(
                        f"{long_date(visit.date)} · {plural(visit.image_count, 'photo')} · "
                        f"{METHOD_LABELS[current.method]} · {scopes}", visit.id)
            has = self.existing_visit.count() > 0
            self.existing_visit.setCurrentIndex(self.existing_visit.count() - 1)  # the latest visit
            self.existing_radio.setEnabled(has)
            self.existing_radio.setToolTip("" if has else "This patient has no earlier visit with consent recorded.")
            if not has and self.existing_radio.isChecked():
                self.record_radio.setChecked(True)
            self.initialised_for = choices.patient_id
        self._update()

    def _update(self) -> None:
        method = self.method.currentData()
        recording = self.record_radio.isChecked()
        self.w(QWidget, "recordBox").setEnabled(recording)
        self.w(QWidget, "existingBox").setEnabled(self.existing_radio.isChecked())
        self.w(QWidget, "noConsentBox").setEnabled(self.none_radio.isChecked())
        self.w(QWidget, "signatureBox").setVisible(method == "written-signature")
        self._pad_changed()
        for name in ("exemptionCaption", "exemptionReasonEdit"):
            self.w(QWidget, name).setVisible(method == "exemption")
        for purpose, check in self.scope_checks.items():
            allowed = method in WRITTEN_METHODS or (purpose in CLINICAL and method != "exemption")
            if purpose == ALWAYS:  # as in the consent editor: keeping it in the record is a given
                allowed = False
                check.setChecked(True)
            check.setEnabled(allowed)
            check.setText(scope_text(purpose, purpose not in SECONDARY or method in WRITTEN_METHODS))
            if purpose in SECONDARY and method not in WRITTEN_METHODS:
                check.setChecked(False)
            if method == "exemption":
                check.setChecked(purpose in CLINICAL)
        self.hint.setText(METHOD_HINTS[method])

    def _pad_changed(self) -> None:
        """As in the consent editor: Undo/Clear only with a stroke to undo, Redo with one to redo."""
        usable = not self.on_paper.isChecked()
        self.pad.setEnabled(usable)
        self.w(QPushButton, "undoSignatureButton").setEnabled(usable and self.pad.can_undo())
        self.w(QPushButton, "redoSignatureButton").setEnabled(usable and self.pad.can_redo())
        self.w(QPushButton, "clearSignatureButton").setEnabled(usable and self.pad.can_undo())

    def choice(self) -> ConsentChoice:
        if self.none_radio.isChecked():
            return ConsentChoice(mode="none", reason=self.none_reason.text().strip())
        if self.existing_radio.isChecked():
            return ConsentChoice(mode="existing", visit_id=self.existing_visit.currentData())
        method = self.method.currentData()
        signature = None
        if method == "written-signature" and not self.on_paper.isChecked() and not self.pad.is_empty():
            signature = self.pad.to_png()
        return ConsentChoice(
            mode="record", method=method, scopes=tuple(p for p, c in self.scope_checks.items() if c.isChecked()),
            obtained_by=self.obtained_by.text().strip(), obtained_at=self.obtained_on.date().toString("yyyy-MM-dd"),
            exemption_reason=self.exemption.text().strip() if method == "exemption" else "",
            signature=signature, signature_on_paper=method == "written-signature" and self.on_paper.isChecked(),
            notes=self.notes.text().strip())

    def validatePage(self) -> bool:  # noqa: N802
        choices = self.wiz.choices
        plan = self.wiz.plan
        assert plan is not None
        choice = self.choice()
        try:
            check_consent(choice, choices.photos, [e.rel for e in choices.included(plan)])
        except InvalidInput as exc:
            messages.show_error(self, exc, "Consent")
            return False
        choices.consent = choice
        return True


class LocationPage(FormPage):
    form_name = "import_wizard_location"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Where the photos were taken",
                         "Step 6 of 8 — phones record the place a photo was taken. DermArchive removes it.", parent)
        self.summary = self.w(QLabel, "locationSummary")
        self.keep = self.w(QCheckBox, "keepLocationCheck")
        self.reason = self.w(QLineEdit, "locationReasonEdit")
        self.keep.toggled.connect(self._update)
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Import")
        self.plan_summary = QLabel(self)  # what Import will do, checked before it starts
        self.plan_summary.setObjectName("importPlanSummary")
        self.plan_summary.setWordWrap(True)
        self.plan_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard |
                                                  Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plan_summary.setStyleSheet("background: #ffffff; border: 1px solid #d5dde3; border-radius: 4px; "
                                        "padding: 8px;")
        self.layout().addWidget(self.plan_summary)

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        plan = self.wiz.plan
        assert plan is not None
        included = self.wiz.choices.included(plan)
        located = sum(1 for e in included if e.metadata and e.metadata.has_location)
        if located:
            self.summary.setText(
                f"<b>{located} of the {plural(len(included), 'photo')} record where they were taken</b> (GPS "
                "coordinates, usually the patient's home or the clinic). <b>The location will be removed</b> "
                "from the stored copies. Keep it only when where the photo was taken matters for care.")
        else:
            self.summary.setText(f"None of the {plural(len(included), 'photo')} records where it was taken. "
                                 "Nothing to remove.")
        self.keep.setVisible(bool(located))
        if not located:
            self.keep.setChecked(False)
        self._update()

    def _update(self) -> None:
        keep = self.keep.isChecked()
        self.reason.setVisible(keep)
        self.plan_summary.setText(self.summary_text(keep))
        self.w(QLabel, "locationNext").setText(
            ("The locations will be KEPT (encrypted, in the catalogue only, not inside the stored photo) and "
             "your reason is recorded. " if keep else "") +
            "Press Import to start. You can stop the import at any time; photos already imported stay safely "
            "in the archive.")
        self.completeChanged.emit()

    def summary_text(self, keep_location: bool) -> str:
        """Before Import: how many photos, whose, which visits and lesions, what consent, the location."""
        wiz = self.wiz
        if wiz is None or wiz.plan is None:
            return ""
        choices = wiz.choices
        included = choices.included(wiz.plan)
        photos = [choices.photos[e.rel] for e in included if e.rel in choices.photos]
        if choices.new_patient is not None:
            p = choices.new_patient
            who = f"a new patient, {escape(p.family.upper())}, {escape(p.given)} · NHI {escape(p.nhi)}"
        elif choices.patient_id is not None:
            patient = records.get_patient(wiz.archive, choices.patient_id)
            who = f"{escape(patient.display_name)} · NHI {escape(patient.nhi)}"
        else:
            who = "no patient chosen"
        visits = sorted({p.visit for p in photos})
        model = wiz.organise.model
        days = [model.dates.get(v, "") for v in visits] if model is not None else []
        lesions = sorted({p.lesion for p in photos if p.lesion})
        lesion_words = ", ".join(escape(label) + (" (new)" if label in choices.new_lesions else "")
                                 for label in lesions) or "none"
        consent = choices.consent
        if consent.mode == "existing":
            consent_words = "added to an earlier visit that has consent"
        elif consent.mode == "none":
            consent_words = "none recorded (the reason is audited); clinical record only"
        else:
            consent_words = (f"{escape(METHOD_LABELS.get(consent.method, consent.method))}, allowing "
                             f"{escape(', '.join(LABELS[s] for s in consent.scopes))}")
        visit_words = plural(len(visits), "new visit") + (f" ({escape(', '.join(d for d in days if d))})"
                                                        if any(days) and consent.mode != "existing" else "")
        if consent.mode == "existing":
            visit_words = "an earlier visit"
        return ("<b>Import will store:</b><br>"
                f"{plural(len(included), 'photo')} for {who}<br>"
                f"Visits: {visit_words}<br>"
                f"Lesions: {lesion_words}<br>"
                f"Consent: {consent_words}<br>"
                f"Location: {'kept, with your reason' if keep_location else 'removed from the stored copies'}")

    def validatePage(self) -> bool:  # noqa: N802
        choices = self.wiz.choices
        if self.keep.isChecked() and not self.reason.text().strip():
            messages.warning(self, "Keeping the locations needs a reason (e.g. 'home visit: where the photo was "
                                   "taken matters'). Or untick 'Keep the locations'.")
            return False
        choices.keep_location = self.keep.isChecked()
        choices.location_reason = self.reason.text().strip() if choices.keep_location else ""
        return True
