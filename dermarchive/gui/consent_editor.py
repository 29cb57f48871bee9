"""The consent editor for one visit: what the patient agrees to, how, by whom, when; history.

    ConsentEditorDialog(archive, visit_id, parent).open()

Scopes are grouped checkboxes, each with its one-line explanation (``scopes.DESCRIPTIONS``). The
method decides the evidence page: the signature pad, the visit's consent-form photo, a note on
verbal consent, or the exemption reason. Saving records a new version through the core
(:func:`dermarchive.consent.records.record_consent`), which validates everything; its message is
shown under the fields. "Withdraw consent…" opens :class:`WithdrawConsentDialog`.
"""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDateEdit, QDialog, QGroupBox, QLabel, QLineEdit,
                               QListWidget, QPlainTextEdit, QPushButton, QStackedWidget, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ..archive import records
from ..archive.archive import Archive
from ..consent import records as consent_records
from ..consent.records import ConsentVersion
from ..consent.scopes import CLINICAL, DESCRIPTIONS, LABELS, METHOD_LABELS, METHODS, SECONDARY, WRITTEN_METHODS
from ..errors import DermArchiveError
from ..workflows.changes import NOTHING, Changes
from ..workflows.consent import record_visit_consent
from .consent_photos import PhotoList
from .consent_withdraw import WithdrawConsentDialog, long_date
from .forms import child, dialog_form, fit_to_screen, place
from .signature_pad import SignaturePad
from .words import day_text, plural

PAGES = {"written-signature": "signaturePage", "photographed-form": "formPage", "verbal": "verbalPage",
         "exemption": "exemptionPage"}
ALWAYS = "clinical.documentation"  # keeping the photo in the record is always allowed
ERROR_STYLE = "color: #b3261e; font-weight: 600;"
SHORT_METHOD = {"written-signature": "Signature", "photographed-form": "Form photo", "verbal": "Verbal",
                "exemption": "Exemption"}


def scope_object_name(purpose: str) -> str:
    return "scope_" + purpose.replace(".", "_")


def scope_note(purpose: str, *, wrap: bool = True) -> QLabel:
    """The scope's one-line plain-language explanation (``scopes.DESCRIPTIONS``), shown under its
    checkbox here and on the import wizard's Consent step, so both say the same words."""
    note = QLabel(DESCRIPTIONS[purpose])
    note.setObjectName(scope_object_name(purpose) + "_note")
    note.setWordWrap(wrap)
    note.setStyleSheet("color: #5c6770; font-size: 9pt; margin-left: 22px; margin-bottom: 4px;")
    # wrapped notes may not be squeezed to a word a line (they overlapped the next box)
    if wrap:
        note.ensurePolished()  # measure in the note's own 9 pt
        width = min(note.fontMetrics().horizontalAdvance(note.text()), note.fontMetrics().averageCharWidth() * 24) + 26
        note.setMinimumWidth(width)
    return note


UNAVAILABLE_WHY = "needs written consent"


def scope_text(purpose: str, available: bool) -> str:
    """A scope's check box text; an unavailable scope says why in words (not only by a grey)."""
    return LABELS[purpose] if available else f"{LABELS[purpose]} — {UNAVAILABLE_WHY}"


def describe(version: ConsentVersion | None) -> str:
    if version is None:
        return ("No consent is recorded for this visit: its photos may only be kept in the clinical record. "
                "Record what the patient agrees to below.")
    allowed = ", ".join(LABELS[s] for s in [ALWAYS] + [s for s in version.scopes if s != ALWAYS])
    if version.withdrawn:
        return (f"Consent was WITHDRAWN on {long_date(version.withdrawn_at or '')} (version {version.version}): "
                f"the photos may only be kept in the clinical record. Recording a new consent replaces this.")
    return (f"Current: version {version.version}, {METHOD_LABELS[version.method].lower()}, obtained by "
            f"{version.obtained_by} on {long_date(version.obtained_at)}. Allows: {allowed}.")


class ConsentEditorDialog(QDialog):
    saved = Signal(int)  # the new version number
    changes = NOTHING    # what the main window re-reads when this closes

    def __init__(self, archive: Archive, visit_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.visit_id = archive, visit_id
        self.visit = records.get_visit(archive, visit_id)
        self.patient = records.get_patient(archive, self.visit.patient_id)
        self.setWindowTitle("Consent")
        self.form = dialog_form(self, "consent_editor", (16, 14, 16, 12), scrolls=True)

        self.visit_label = child(self.form, QLabel, "visitLabel")
        self.status_label = child(self.form, QLabel, "statusLabel")
        self.method_combo = child(self.form, QComboBox, "methodCombo")
        self.obtained_by_edit = child(self.form, QLineEdit, "obtainedByEdit")
        self.date_edit = child(self.form, QDateEdit, "obtainedDateEdit")
        self.notes_edit = child(self.form, QLineEdit, "notesEdit")
        self.stack = child(self.form, QStackedWidget, "evidenceStack")
        self.reason_edit = child(self.form, QPlainTextEdit, "exemptionReasonEdit")
        self.form_list = child(self.form, QListWidget, "formPhotoList")
        self.error_label = child(self.form, QLabel, "errorLabel")
        self.history_tree = child(self.form, QTreeWidget, "historyTree")
        self.history_detail = child(self.form, QLabel, "historyDetail")
        self.history_signature = child(self.form, QLabel, "historySignature")
        self.save_btn = child(self.form, QPushButton, "saveButton")
        self.withdraw_btn = child(self.form, QPushButton, "withdrawButton")
        self.pad = SignaturePad()
        place(child(self.form, QWidget, "signaturePlaceholder"), self.pad)

        self.visit_label.setText(f"{self.patient.display_name} · NHI {self.patient.nhi} — visit of "
                                 f"{long_date(self.visit.date)} ({plural(self.visit.image_count, 'photo')})")
        self.visit_label.setStyleSheet("font-weight: 600; font-size: 12pt;")
        child(self.form, QLabel, "historyTitle").setStyleSheet("font-weight: 600;")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.checks = self._build_scopes()
        for method in METHODS:
            self.method_combo.addItem(METHOD_LABELS[method], method)
        self.obtained_by_edit.setText(archive.user.name)
        today = QDate.currentDate()
        self.date_edit.setMaximumDate(today)
        # First consent for a visit: usually obtained at the visit. A change: obtained today.
        first = consent_records.current(archive, visit_id) is None
        self.date_edit.setDate(QDate.fromString(self.visit.date, Qt.DateFormat.ISODate) if first else today)
        self.form_photos = self._load_photos()
        metrics = self.history_tree.fontMetrics()  # wide enough for the text at any text size
        self.history_tree.setColumnWidth(0, metrics.horizontalAdvance("Ver.") + 24)
        self.history_tree.setColumnWidth(1, metrics.horizontalAdvance("30 Sep 2026") + 20)

        self.method_combo.currentIndexChanged.connect(self._method_changed)
        self.pad.changed.connect(self._pad_changed)
        child(self.form, QPushButton, "clearSignatureButton").clicked.connect(self.pad.clear)
        child(self.form, QPushButton, "undoSignatureButton").clicked.connect(self.pad.undo)
        child(self.form, QPushButton, "redoSignatureButton").clicked.connect(self.pad.redo)
        self.form_list.currentItemChanged.connect(lambda *_: self.error_label.clear())
        self.history_tree.currentItemChanged.connect(self._show_version)
        self.save_btn.clicked.connect(self.save)
        self.withdraw_btn.clicked.connect(self.withdraw)
        child(self.form, QPushButton, "closeButton").clicked.connect(self.reject)
        self.finished.connect(lambda _r: self.form_photos.stop())
        self._versions: dict[int, ConsentVersion] = {}

        self.pad.set_keyboard_route("Keyboard only or no pen: choose “Photographed consent form” as the method "
                                    "and photograph the signed paper form.")
        self._set_tab_order()
        self._load_current()
        fit_to_screen(self, 1140, 780)

    # -- building ------------------------------------------------------------------------------
    def _build_scopes(self) -> dict[str, QCheckBox]:
        checks: dict[str, QCheckBox] = {}
        for box_name, purposes in (("clinicalScopesBox", CLINICAL), ("secondaryScopesBox", SECONDARY)):
            box = child(self.form, QGroupBox, box_name)
            column = QVBoxLayout(box)
            column.setSpacing(2)
            for purpose in purposes:
                check = QCheckBox(LABELS[purpose])
                check.setObjectName(scope_object_name(purpose))
                check.setToolTip(DESCRIPTIONS[purpose])
                column.addWidget(check)
                column.addWidget(scope_note(purpose, wrap=False))  # one line: a wrapped note was cut at large text
                checks[purpose] = check
            column.addStretch(1)
        checks[ALWAYS].setChecked(True)
        checks[ALWAYS].setEnabled(False)
        checks[ALWAYS].setToolTip("Keeping the photo in the patient's own record is always allowed.")
        return checks

    def _set_tab_order(self) -> None:
        """Top to bottom as the form reads: what the patient agreed to, how, by whom, when, the
        evidence, then the history and the buttons (Designer's order put the scopes last)."""
        buttons = [child(self.form, QPushButton, n) for n in ("undoSignatureButton", "redoSignatureButton",
                                                             "clearSignatureButton")]
        chain: list[QWidget] = [*self.checks.values(), self.method_combo, self.obtained_by_edit, self.date_edit,
                                self.notes_edit, *buttons, self.form_list, self.reason_edit,
                                self.history_tree, self.withdraw_btn, child(self.form, QPushButton, "closeButton"),
                                self.save_btn]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def _load_photos(self) -> PhotoList:
        photos = records.images(self.archive, visit_id=self.visit_id)
        photos.sort(key=lambda i: i.kind != "consent-form")  # consent forms first
        self.form_list.clear()
        return PhotoList(self.form_list, self.archive, photos)

    def _load_current(self) -> None:
        versions = consent_records.history(self.archive, self.visit_id)
        latest = versions[-1] if versions else None
        self.status_label.setText(describe(latest))
        self.status_label.setStyleSheet(ERROR_STYLE if latest and latest.withdrawn else "")
        self.withdraw_btn.setEnabled(latest is not None and not latest.withdrawn)
        method = latest.method if latest and not latest.withdrawn else "written-signature"
        self.method_combo.setCurrentIndex(METHODS.index(method))
        self._method_changed()
        if latest and not latest.withdrawn:
            for purpose, check in self.checks.items():
                if check.isEnabled():
                    check.setChecked(purpose in latest.scopes)
            self.reason_edit.setPlainText(latest.exemption_reason or "")
            self.form_photos.select(latest.form_image_id)
        self._versions = {v.version: v for v in versions}
        self.history_tree.clear()
        for v in reversed(versions):
            status = "Withdrawn" if v.withdrawn else ("Current" if v is latest else "Replaced")
            item = QTreeWidgetItem([str(v.version), day_text(v.withdrawn_at or v.obtained_at),
                                    SHORT_METHOD[v.method], status])
            item.setData(0, Qt.ItemDataRole.UserRole, v.version)
            self.history_tree.addTopLevelItem(item)
        if versions:
            self.history_tree.setCurrentItem(self.history_tree.topLevelItem(0))
        else:
            self.history_detail.setText("No versions yet.")

    # -- reactions -----------------------------------------------------------------------------
    def method(self) -> str:
        return str(self.method_combo.currentData())

    def _method_changed(self) -> None:
        method = self.method()
        self.stack.setCurrentWidget(child(self.form, QWidget, PAGES[method]))
        written, exemption = method in WRITTEN_METHODS, method == "exemption"
        for purpose in SECONDARY:
            check = self.checks[purpose]
            check.setEnabled(written)
            if not written:
                check.setChecked(False)
            check.setToolTip(DESCRIPTIONS[purpose] if written else
                             "Needs written consent: a signature or a photographed consent form.")
            check.setText(scope_text(purpose, written))
        for purpose in CLINICAL:
            if purpose != ALWAYS:
                self.checks[purpose].setEnabled(not exemption)
                if exemption:
                    self.checks[purpose].setChecked(True)
        self.error_label.clear()

    def _pad_changed(self) -> None:
        child(self.form, QPushButton, "undoSignatureButton").setEnabled(self.pad.can_undo())
        child(self.form, QPushButton, "redoSignatureButton").setEnabled(self.pad.can_redo())
        child(self.form, QPushButton, "clearSignatureButton").setEnabled(self.pad.can_undo())
        self.error_label.clear()

    def _show_version(self, item: QTreeWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        v = self._versions[int(item.data(0, Qt.ItemDataRole.UserRole))]
        lines = [f"<b>Version {v.version}</b> — {METHOD_LABELS[v.method]}",
                 f"Obtained by {v.obtained_by} on {long_date(v.obtained_at)}; recorded by "
                 f"{v.recorded_by or 'unknown'} on {long_date(v.recorded_at)}.",
                 "Allows: " + ", ".join(LABELS[s] for s in v.scopes) + ".",
                 f"Evidence: {v.evidence}."]
        if v.notes:
            lines.append(f"Notes: {v.notes}")
        if v.withdrawn:
            lines.append(f"<span style='color:#b3261e'><b>Withdrawn</b> on {long_date(v.withdrawn_at or '')}: "
                         f"{v.withdrawn_reason}</span>")
        self.history_detail.setText("<br>".join(_escape(line) if not line.startswith("<") else line
                                                for line in lines))
        evidence = consent_records.signature_png(self.archive, v)
        if evidence is None and v.form_image_id is not None:
            evidence = records.image_bytes(self.archive, records.get_image(self.archive, v.form_image_id), "thumb")
        if evidence:
            pix = QPixmap()
            pix.loadFromData(evidence)
            self.history_signature.setPixmap(pix.scaled(320, 160, Qt.AspectRatioMode.KeepAspectRatio,
                                                        Qt.TransformationMode.SmoothTransformation))
            self.history_signature.setStyleSheet("background: white; border: 1px solid #d5dde3;")
        else:
            self.history_signature.clear()
            self.history_signature.setStyleSheet("")

    # -- actions -------------------------------------------------------------------------------
    def chosen_scopes(self) -> list[str]:
        return [p for p, check in self.checks.items() if check.isChecked()]

    def save(self) -> None:
        method = self.method()
        form_id = self.form_photos.current_id() if method == "photographed-form" else None
        try:
            version = record_visit_consent(
                self.archive, self.visit_id, scopes=self.chosen_scopes(), method=method,
                obtained_by=self.obtained_by_edit.text(),
                obtained_at=self.date_edit.date().toString(Qt.DateFormat.ISODate),
                exemption_reason=self.reason_edit.toPlainText() if method == "exemption" else None,
                signature=None if method != "written-signature" or self.pad.is_empty() else self.pad.to_png(),
                form_image_id=form_id, notes=self.notes_edit.text())
        except DermArchiveError as exc:
            self.error_label.setText(str(exc))
            return
        self.changes = self.changes | Changes.of_patient(self.patient.id)
        self.saved.emit(version.version)
        self.accept()

    def withdraw(self) -> None:
        dialog = WithdrawConsentDialog(self.archive, self.visit_id, self)
        dialog.accepted.connect(self._after_withdrawal)
        self.withdraw_dialog = dialog
        dialog.open()

    def _after_withdrawal(self) -> None:
        self.visit = records.get_visit(self.archive, self.visit_id)
        self.form_photos.stop()
        self.form_photos = self._load_photos()
        self._load_current()
        result = self.withdraw_dialog.result_
        if result is not None:
            self.changes = self.changes | result.changes
        if result is not None and result.deleted:
            self.status_label.setText(self.status_label.text() +
                                      f" Deleted {plural(len(result.deleted), 'photo')}; kept {len(result.kept)}.")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

