"""Import (progress, Stop, summary) and Finish (remove the verified originals, on confirmation)."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QLabel, QListWidget, QMessageBox, QProgressBar, QPushButton, QWidget,
                               QWizard)

from ... import log
from ...archive import records
from ...consent import records as consent_records
from ...consent.scopes import METHOD_LABELS
from ...ingest import remove_originals
from .. import messages
from ..jobs import Job, run_job
from .base import FormPage
from ...workflows.import_visit import WizardOutcome, carry_out
from .common import long_date, plural


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask yes/no (tests replace this function, as they replace ``messages.sink``)."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class ImportPage(FormPage):
    form_name = "import_wizard_import"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Importing", "Step 7 of 8 — photos are cleaned of hidden data, encrypted and checked.",
                         parent)
        self.status = self.w(QLabel, "importStatus")
        self.bar = self.w(QProgressBar, "importProgress")
        self.stop_button = self.w(QPushButton, "cancelImportButton")
        self.summary = self.w(QLabel, "importSummary")
        self.problems = self.w(QListWidget, "problemList")
        self.stop_button.clicked.connect(self.cancel)
        self.job: Job | None = None
        self.finished = False

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        wiz = self.wiz
        assert wiz.plan is not None
        total = len(wiz.choices.included(wiz.plan))
        self.finished = False
        self.summary.clear()
        self.problems.clear()
        self.problems.hide()
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.status.setText(f"Importing {plural(total, 'photo')}…")
        self.stop_button.setEnabled(True)
        self.stop_button.show()
        self.job = run_job(carry_out, wiz.archive, wiz.plan, wiz.choices, parent=self, with_progress=True,
                           show_dialog=False, on_progress=self._progress, on_done=self._done, on_error=self._failed)
        self.completeChanged.emit()

    def _progress(self, done: int, total: int, _message: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        if self.job is not None and not self.job.cancel_event.is_set():
            self.status.setText(f"Importing photo {done} of {total}…")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after the photos being stored now…")

    def _end(self) -> None:
        self.job = None
        self.finished = True
        self.stop_button.hide()
        self.wiz.setButtonText(QWizard.WizardButton.CancelButton, "Close")  # nothing left to cancel
        self.completeChanged.emit()
        # the Stop button had the focus: hand it to Next, so Enter goes on (not to "Close")
        self.wiz.button(QWizard.WizardButton.NextButton).setFocus()

    def _done(self, outcome: WizardOutcome) -> None:
        self._end()
        self.wiz.outcome = outcome
        result = outcome.result
        imported = outcome.count("imported")
        if result.cancelled:
            self.status.setText(f"Import stopped. {plural(imported, 'photo')} imported before you stopped "
                                "are safely in the archive; the rest were not imported.")
        else:
            self.status.setText("Import finished.")
            self.bar.setValue(self.bar.maximum())
        existing = self.wiz.choices.consent.visit_id if self.wiz.choices.consent.mode == "existing" else None
        where = (f"added to the earlier visit of {long_date(records.get_visit(self.archive, existing).date)}"
                 if existing is not None else f"into {plural(len(result.visits), 'new visit')}")
        lines = [f"<b>{plural(imported, 'photo')} imported</b> {where}."]
        for status, words in (("already-imported", "already in the archive"), ("rejected", "could not be used"),
                              ("failed", "failed"), ("cancelled", "not imported (stopped)")):
            n = outcome.count(status)
            if n:
                lines.append(f"{plural(n, 'photo')} {words}.")
        if outcome.consent_recorded:
            lines.append(f"Consent recorded for {plural(len(outcome.consent_recorded), 'visit')}.")
        elif self.wiz.choices.consent.mode == "none" and result.visits:
            lines.append("No consent recorded (reason kept in the audit log); these photos are limited to the "
                         "clinical record.")
        if self.wiz.choices.keep_location:
            lines.append("Locations were kept, as you chose.")
        self.summary.setText("<br>".join(lines))
        trouble = [f"{o.rel}: {o.reason}" for o in result.outcomes if o.status in ("rejected", "failed")]
        trouble += outcome.consent_problems
        for line in trouble:
            self.problems.addItem(line)
        self.problems.setVisible(bool(trouble))
        failed = [o for o in result.outcomes if o.status == "failed"]
        if failed:  # e.g. the disk filled up: say so now, not only in the list
            messages.warning(self, f"{plural(len(failed), 'photo')} could not be stored. {failed[0].reason} "
                                   "The photos that were imported are safe; run the import again once this is "
                                   "solved: nothing is imported twice.", "Import")
        log.gui.info("import wizard: %s", result.counts())

    def _failed(self, exc: BaseException) -> None:
        self._end()
        self.status.setText("The import stopped because of a problem. Photos imported before it are safely in "
                            "the archive; nothing half-imported was kept.")
        messages.show_error(self, exc, "Import")

    def isComplete(self) -> bool:  # noqa: N802
        return self.finished

    def wait(self, seconds: float = 60.0) -> None:
        """Stop a running import and wait for it (closing or locking the window)."""
        if self.job is not None:
            self.job.cancel()
            self.job.finished.wait(seconds)


class FinishPage(FormPage):
    form_name = "import_wizard_finish"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Done", "Step 8 of 8 — the photos are in the archive.", parent)
        self.summary = self.w(QLabel, "finishSummary")
        self.explanation = self.w(QLabel, "removeExplanation")
        self.remove_button = self.w(QPushButton, "removeOriginalsButton")
        self.remove_status = self.w(QLabel, "removeStatus")
        self.remove_button.clicked.connect(self.remove)
        self.consent_visit = self.w(QComboBox, "consentVisitCombo")
        self.w(QPushButton, "openConsentButton").clicked.connect(self.open_consent)
        self.job: Job | None = None
        self.removed: list[str] = []
        self.consent_dialog: QWidget | None = None

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return -1  # the last page (the clinic-day page, numbered after it, is not "next")

    def verified_count(self) -> int:
        outcome = self.wiz.outcome
        if outcome is None:
            return 0
        return len(outcome.result.removable())

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        outcome = self.wiz.outcome
        self.removed = []
        self.remove_status.clear()
        imported = outcome.count("imported") if outcome else 0
        self.summary.setText(f"<b>{plural(imported, 'photo')} imported.</b> They are in the patient's timeline; "
                             "close this window to see them." if outcome else
                             "The import did not complete; see the previous page.")
        n = self.verified_count()
        self.remove_button.setEnabled(n > 0)
        self.remove_button.setText(f"Remove {plural(n, 'original')} from the phone folder…" if n else
                                   "Remove originals…")
        self.explanation.setText(
            f"The archive now holds a checked copy of {plural(n, 'photo')} from this folder. You may remove "
            "those originals from the phone folder (and so from the synced phone). Only photos whose stored "
            "copy was read back and verified are removed; everything else stays." if n else
            "No originals can be removed: no photo from this folder has a verified copy in the archive.")
        self._fill_consent()

    def _fill_consent(self) -> None:
        outcome = self.wiz.outcome
        visits = outcome.result.visits if outcome else []
        self.consent_visit.clear()
        for visit_id in visits:
            visit = records.get_visit(self.archive, visit_id)
            current = consent_records.current(self.archive, visit_id)
            state = METHOD_LABELS[current.method] if current else "no consent recorded"
            self.consent_visit.addItem(f"{long_date(visit.date)} · {plural(visit.image_count, 'photo')} · {state}",
                                       visit_id)
        self.w(QWidget, "consentBox").setVisible(bool(visits))
        missing = sum(1 for v in visits if consent_records.current(self.archive, v) is None)
        self.w(QLabel, "consentSummary").setText(
            (f"{plural(missing, 'new visit')} {'has' if missing == 1 else 'have'} no consent recorded. "
             if missing else "Consent is recorded for every new visit. ") +
            "To add a signature, change what the patient agreed to, or record consent later, open the "
            "consent editor for a visit.")

    def open_consent(self) -> None:
        visit_id = self.consent_visit.currentData()
        if visit_id is None:
            return
        from ..consent_editor import ConsentEditorDialog  # the consent feature's own editor

        dialog = ConsentEditorDialog(self.archive, visit_id, parent=self)
        dialog.finished.connect(lambda _r: self._fill_consent())
        self.consent_dialog = dialog
        dialog.open()

    def remove(self) -> None:
        outcome = self.wiz.outcome
        n = self.verified_count()
        if outcome is None or not n:
            return
        if not confirm(self, "Remove originals",
                       f"Remove {plural(n, 'original photo')} from the folder {outcome.result.folder}?\n\n"
                       "Each has a verified copy in the archive. This cannot be undone."):
            return
        self.remove_button.setEnabled(False)
        self.job = run_job(remove_originals, self.archive, outcome.result, parent=self,
                           on_done=self._removed, on_error=self._failed)

    def _removed(self, removed: list[str]) -> None:
        self.job = None
        self.removed = removed
        kept = self.verified_count() - len(removed)
        text = f"Removed {plural(len(removed), 'original')} from the phone folder"
        shown = sorted(removed)[:12]
        text += (": " + ", ".join(shown) + (f" and {len(removed) - len(shown)} more" if len(removed) > 12 else "")
                 + "." if removed else ".")
        if kept:
            text += (f" {plural(kept, 'file')} stayed because it changed since the import or could not be "
                     "removed.")
        self.remove_status.setText(text)
        self.remove_button.setText("Originals removed")

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        self.remove_button.setEnabled(True)
        messages.show_error(self, exc, "Remove originals")
