"""Patient ▸ Print photo consent sheet…: choose the visit date and lesion labels, save the PDF.

The PDF is made and written by :func:`dermarchive.sheets.issue.save_sheet` (the same function as
``dermarchive sheet``) through ``run_job``, off the GUI thread.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (QCheckBox, QDateEdit, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QLabel, QPlainTextEdit, QVBoxLayout, QWidget)

from ..workflows.changes import NOTHING
from . import messages
from .jobs import run_job


class SheetDialog(QDialog):
    changes = NOTHING  # what the main window re-reads when this closes

    def __init__(self, archive: Any, patient: Any, *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.patient = archive, patient
        self.saved_to: Path | None = None
        self.setObjectName("sheetDialog")
        self.setWindowTitle("Print photo consent sheet")
        layout = QVBoxLayout(self)
        intro = QLabel(f"A one-page consent form for <b>{patient.display_name}</b> (NHI {patient.nhi}) with a "
                       "code. Photograph it, ticked and signed, before the patient's photos: the import sorts "
                       "the photos that follow to this patient and proposes the consent ticked on it.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.date_check = QCheckBox("For the visit on")
        self.date_check.setObjectName("sheetDateCheck")
        self.date_check.setAccessibleName("Print the visit date on the sheet")
        self.date_check.setChecked(True)
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setObjectName("sheetDate")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("d MMM yyyy")
        self.date_edit.setAccessibleName("Visit date")
        self.date_check.toggled.connect(self.date_edit.setEnabled)
        form.addRow(self.date_check, self.date_edit)
        self.lesions = QPlainTextEdit()
        self.lesions.setObjectName("sheetLesions")
        self.lesions.setAccessibleName("Lesion labels, one per line")
        self.lesions.setPlaceholderText("Optional: one lesion label per line (e.g. L1 left forearm)")
        self.lesions.setTabChangesFocus(True)
        self.lesions.setFixedHeight(90)
        form.addRow("Lesion labels:", self.lesions)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save PDF…")
        buttons.button(QDialogButtonBox.StandardButton.Save).setObjectName("sheetSave")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def labels(self) -> list[str]:
        return [line.strip() for line in self.lesions.toPlainText().splitlines() if line.strip()]

    def visit_date(self) -> str | None:
        return self.date_edit.date().toString("yyyy-MM-dd") if self.date_check.isChecked() else None

    def save(self) -> None:
        from ..sheets.issue import save_sheet

        suggested = str(Path.home() / f"consent-sheet-{self.patient.nhi}.pdf")
        path, _filter = QFileDialog.getSaveFileName(self, "Save the consent sheet", suggested, "PDF (*.pdf)")
        if not path:
            return
        out = Path(path if path.lower().endswith(".pdf") else path + ".pdf")

        def done(_size: int) -> None:
            self.saved_to = out
            messages.info(self, f"Saved the consent sheet to {out}. Print it and photograph it, ticked and "
                                "signed, before the patient's photos.")
            self.accept()

        def failed(exc: BaseException) -> None:
            messages.show_error(self, exc)

        work = partial(save_sheet, self.archive, self.patient.nhi, out, visit_date=self.visit_date(),
                       lesions=self.labels())
        self.job = run_job(work, parent=self, title="Making the consent sheet…", on_done=done, on_error=failed)
