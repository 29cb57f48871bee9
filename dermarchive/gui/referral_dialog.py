"""Create referral…: the referral letter's fields beside a live preview of page 1.

    ReferralDialog(archive, patient_id, image_ids, parent).exec()

The preview and the saved PDF come from the same core code (``exports.referral``): the preview
is page 1 rendered in memory (PDFium via the core; nothing is written), refreshed shortly after
the user stops typing. Prepared photos are kept in memory for the dialog's lifetime only. Save
asks where (QFileDialog), then builds, checks consent, writes and audits in a worker
(``jobs.run_job``); "Open when saved" hands the file to the desktop's PDF viewer.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap, QResizeEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFileDialog, QFrame, QGroupBox, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QSizePolicy, QWidget)

from ..archive import records
from ..archive.archive import Archive
from ..consent import policy
from ..errors import DermArchiveError
from ..exports import referral
from ..workflows.changes import NOTHING
from . import messages
from .forms import child, dialog_form, fit_to_screen, place
from .jobs import Job, run_job
from .referral_letterhead import LetterheadDialog
from .words import plural

PREVIEW_DELAY_MS = 450
PREVIEW_DPI = 110
ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #2e6b3a;"


class PagePreview(QLabel):
    """Page 1 of the letter, scaled to the space available (or a message instead of a page)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPage")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("QLabel#previewPage { background: #a9b3b9; color: white; padding: 12px; }")
        self._page: QPixmap | None = None

    @property
    def has_page(self) -> bool:
        return self._page is not None

    def set_page(self, png: bytes) -> None:
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self._page = pixmap
        self._rescale()

    def set_message(self, text: str) -> None:
        self._page = None
        self.clear()
        self.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._page is None or self._page.isNull():
            return
        room = self.contentsRect().size()
        room.setWidth(max(room.width() - 24, 50))
        room.setHeight(max(room.height() - 24, 50))
        self.setPixmap(self._page.scaled(room, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))


class ReferralDialog(QDialog):
    """The "Create referral…" dialog for one patient and the photos selected on their page."""
    changes = NOTHING  # what the main window re-reads when this closes

    saved = Signal(dict)

    def __init__(self, archive: Archive, patient_id: int, image_ids: list[int] | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.patient_id = archive, patient_id
        self.patient = records.get_patient(archive, patient_id)
        self.image_ids = list(image_ids) if image_ids else referral.default_image_ids(archive, patient_id)
        self._photo_cache: dict[int, referral.Photo] = {}
        self._preview_job: Job | None = None
        self._preview_again = False
        self._save_job: Job | None = None
        self._closed = False
        self._refused = False

        self.setWindowTitle("Create referral")
        self.form = dialog_form(self, "referral_dialog", (16, 16, 16, 12))
        self.to_edit = child(self.form, QPlainTextEdit, "toEdit")
        self.referrer_edit = child(self.form, QLineEdit, "referrerEdit")
        self.urgency_combo = child(self.form, QComboBox, "urgencyCombo")
        self.question_edit = child(self.form, QPlainTextEdit, "questionEdit")
        self.history_edit = child(self.form, QPlainTextEdit, "historyEdit")
        self.password_group = child(self.form, QGroupBox, "passwordGroup")
        self.password_edit = child(self.form, QLineEdit, "passwordEdit")
        self.password_repeat = child(self.form, QLineEdit, "passwordRepeatEdit")
        self.open_check = child(self.form, QCheckBox, "openWhenSavedCheck")
        self.status_label = child(self.form, QLabel, "statusLabel")
        self.pages_label = child(self.form, QLabel, "pagesLabel")
        self.letterhead_label = child(self.form, QLabel, "letterheadLabel")
        self.save_btn = child(self.form, QPushButton, "saveButton")
        self.cancel_btn = child(self.form, QPushButton, "cancelButton")
        self.preview = PagePreview()
        place(child(self.form, QWidget, "previewPlaceholder"), self.preview)

        for key, label in referral.URGENCIES.items():
            self.urgency_combo.addItem(label, key)
        self.referrer_edit.setText(referral.default_referrer(archive))
        heading = child(self.form, QLabel, "previewHeading")
        heading.setStyleSheet("font-weight: bold;")
        patient_label = child(self.form, QLabel, "patientLabel")
        born = ""
        if self.patient.dob:
            dob = date.fromisoformat(self.patient.dob)
            born = f" · born {dob.day} {dob:%b %Y} (age {self.patient.age()})"
        patient_label.setText(f"{self.patient.display_name} · NHI {self.patient.nhi}{born}")
        patient_label.setStyleSheet("font-weight: bold; font-size: 12pt;")

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._start_preview)
        for edit in (self.to_edit, self.question_edit, self.history_edit):
            edit.textChanged.connect(self._timer.start)
        self.referrer_edit.textChanged.connect(self._timer.start)
        self.urgency_combo.currentIndexChanged.connect(self._timer.start)
        self.save_btn.clicked.connect(self.save)
        self.cancel_btn.clicked.connect(self.reject)
        child(self.form, QPushButton, "letterheadButton").clicked.connect(self.edit_letterhead)

        self._show_photos()
        self._show_letterhead()
        fit_to_screen(self, 1180, 820)
        self.to_edit.setFocus()
        self.preview.set_message("Preparing the preview…")
        self._start_preview()

    # -- state shown beside the fields ---------------------------------------------------------
    def _show_photos(self) -> None:
        label = child(self.form, QLabel, "photosLabel")
        n = len(self.image_ids)
        refusals = policy.check(self.archive, self.image_ids, referral.PURPOSE) if n else []
        self._refused = bool(refusals)
        if not n:
            label.setText("No photos are selected or consented for referral: the letter will have no photographs.")
            label.setStyleSheet("")
        elif refusals:
            lines = "\n".join(f"• {r}" for r in refusals)
            label.setText(f"{len(refusals)} of {plural(n, 'selected photo')} may not be sent with a referral:\n{lines}\n"
                          "Deselect them on the patient page, or record the patient's consent first.")
            label.setStyleSheet(ERROR_STYLE)
        else:
            label.setText(f"{n} photo{'s' if n != 1 else ''} will be attached; consent allows referral for each.")
            label.setStyleSheet(OK_STYLE)
        self.save_btn.setEnabled(not refusals)

    def _show_letterhead(self) -> None:
        lh = referral.letterhead(self.archive)
        if lh.is_empty:
            self.letterhead_label.setText("No practice details yet: the letter will have no letterhead. "
                                          "Add them with Practice details…")
            self.letterhead_label.setStyleSheet(ERROR_STYLE)
        else:
            self.letterhead_label.setText(f"Letterhead: {lh.name}" + (f", phone {lh.phone}" if lh.phone else ""))
            self.letterhead_label.setStyleSheet("")

    def _fields(self, *, for_preview: bool) -> dict[str, Any]:
        to, question = self.to_edit.toPlainText(), self.question_edit.toPlainText()
        if for_preview:  # show the layout while the letter is being written
            to = to if to.strip() else "[Recipient]"
            question = question if question.strip() else "[Clinical question]"
        return {"image_ids": self.image_ids, "to": to, "question": question,
                "history": self.history_edit.toPlainText(), "urgency": self.urgency_combo.currentData(),
                "referrer": self.referrer_edit.text(), "photo_cache": self._photo_cache}

    # -- preview ----------------------------------------------------------------------------------
    def _start_preview(self) -> None:
        if self._closed:
            return
        if self._preview_job is not None:
            self._preview_again = True
            return
        if self._refused:
            self.preview.set_message("No preview: some selected photos may not be sent with a referral.")
            return
        self.pages_label.setText("Updating the preview…")
        fn = partial(referral.preview_referral, self.archive, self.patient_id, dpi=PREVIEW_DPI,
                     **self._fields(for_preview=True))
        self._preview_job = run_job(fn, with_progress=True, show_dialog=False, on_done=self._preview_done,
                                    on_error=self._preview_failed)

    def _preview_finished(self) -> bool:
        self._preview_job = None
        if self._closed:
            return False
        if self._preview_again:
            self._preview_again = False
            self._start_preview()
        return True

    def _preview_done(self, result: referral.ReferralPreview) -> None:
        if not self._preview_finished():
            return
        self.preview.set_page(result.png)
        rest = " (the other pages continue with the photographs)" if result.pages > 1 else ""
        self.pages_label.setText(f"Page 1 of {result.pages}{rest}")

    def _preview_failed(self, exc: BaseException) -> None:
        if not self._preview_finished():
            return
        self.pages_label.setText("")
        if isinstance(exc, DermArchiveError):
            self.preview.set_message(f"No preview: {exc}")
        else:
            self.preview.set_message(f"The preview could not be drawn ({type(exc).__name__}).")

    # -- save ---------------------------------------------------------------------------------------
    def _problems(self) -> list[str]:
        problems = []
        if not self.to_edit.toPlainText().strip():
            problems.append("Say who the referral is to.")
        if not self.question_edit.toPlainText().strip():
            problems.append("Write the clinical question.")
        if self.password_group.isChecked():
            if len(self.password_edit.text()) < referral.MIN_PASSWORD:
                problems.append(f"The PDF password must be at least {referral.MIN_PASSWORD} characters.")
            elif self.password_edit.text() != self.password_repeat.text():
                problems.append("The two PDF passwords differ.")
        return problems

    def _set_status(self, text: str, style: str = "") -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(style)

    def default_path(self) -> Path:
        """In Documents, named for the patient, the day and the lesion(s): 'Referral ZZZ0016 2026-12-03 L1.pdf'."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        return Path(folder) / referral.file_name(self.archive, self.patient_id, self.image_ids)

    def save(self) -> None:
        problems = self._problems()
        if problems:
            self._set_status(" ".join(problems), ERROR_STYLE)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save referral", str(self.default_path()),
                                              "PDF documents (*.pdf)")
        if not path:
            return
        out = Path(path if path.lower().endswith(".pdf") else path + ".pdf")
        password = self.password_edit.text() if self.password_group.isChecked() else None
        self.save_btn.setEnabled(False)
        self.cancel_btn.setEnabled(False)
        self._set_status("Creating the referral…")
        fn = partial(referral.build_referral, self.archive, self.patient_id, out=out, pdf_password=password,
                     **self._fields(for_preview=False))
        self._save_job = run_job(fn, parent=self, title="Creating the referral…", with_progress=True,
                                 on_done=self._saved, on_error=self._save_failed)

    def _saved(self, summary: dict[str, Any]) -> None:
        self._save_job = None
        self.saved.emit(summary)
        if self._closed:  # closed (e.g. the archive locked) after the file was written and audited
            return
        lock = ", password-protected" if summary["encrypted"] else ""
        text = (f"Referral saved to {summary['path']} ({plural(summary['count'], 'photo')}, "
                f"{plural(summary['pages'], 'page')}{lock}).")
        if self.open_check.isChecked() and not QDesktopServices.openUrl(QUrl.fromLocalFile(summary["path"])):
            messages.warning(self.parentWidget(), text + "\n\nIt could not be opened: no program to show PDF "
                             "files was found. Open it from its folder.", "Referral saved")
        else:
            messages.info(self.parentWidget(), text, "Referral saved")
        self._set_status(text, OK_STYLE)
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self._save_job = None
        if self._closed:
            return
        self.cancel_btn.setEnabled(True)
        self._show_photos()  # consent may have changed since the dialog opened
        text = str(exc) if isinstance(exc, DermArchiveError) else "The referral could not be created."
        self._set_status(text, ERROR_STYLE)
        messages.show_error(self, exc, "Referral not saved")

    def edit_letterhead(self) -> None:
        if LetterheadDialog(self.archive, self).exec() == QDialog.DialogCode.Accepted:
            self._show_letterhead()
            self._start_preview()

    # -- closing ------------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close, also when the archive locks: running jobs are cancelled and waited for (they stop
        between photos), so nothing runs on a closed archive and no patient data stays on screen."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        for job in (self._preview_job, self._save_job):
            if job is not None:
                job.cancel()
                job.finished.wait(15)
        self._photo_cache.clear()
        self.preview.set_message("")
        super().done(result)
