"""Export for teaching/research…: de-identified copies of the selected photos, with redaction.

    DeidentifiedExportDialog(archive, patient_id, image_ids, parent).open()

The consent policy is asked up front for the chosen purpose and again by the core when exporting
(refused photos are named; Export stays disabled). Each photo can be blurred or cropped with the
redaction tool; the preview and the export are made by the same core code
(:mod:`dermarchive.exports.deidentified`) in workers via :func:`jobs.run_job`. Decoded previews
live in memory for the dialog's lifetime only.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QLabel, QLineEdit,
                               QListWidget, QPushButton, QWidget)

from ..archive import records
from ..archive.archive import Archive
from ..consent import policy
from ..consent.scopes import LABELS, SECONDARY
from ..exports import deidentified
from ..exports.deidentified import Redaction
from ..workflows.changes import NOTHING
from . import messages
from .consent_photos import PhotoList, photo_caption
from .forms import child, dialog_form, fit_to_screen, place
from .jobs import run_job
from .redaction import RedactionCanvas
from .words import plural

ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #2e6b3a;"
TOOL_STYLE = "QPushButton:checked { background: #cfe3f3; border-color: #2f6f9f; }"


class DeidentifiedExportDialog(QDialog):
    changes = NOTHING  # what the main window re-reads when this closes

    def __init__(self, archive: Archive, patient_id: int, image_ids: list[int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive, self.patient_id = archive, patient_id
        self.images = [i for i in records.images(archive, image_ids=list(image_ids)) if i.patient_id == patient_id]
        self.redactions: dict[int, list[Redaction]] = {}
        self.summary: dict[str, Any] | None = None
        self._pictures: dict[int, bytes] = {}
        self._closed = False
        self._auto_folder = True
        self.export_job: Any = None

        self.setWindowTitle("Export for teaching or research")
        self.form = dialog_form(self, "export_dialog", (16, 14, 16, 12))
        self.purpose_combo = child(self.form, QComboBox, "purposeCombo")
        self.consent_label = child(self.form, QLabel, "consentLabel")
        self.photo_list = child(self.form, QListWidget, "photoList")
        self.result_check = child(self.form, QCheckBox, "resultCheck")
        self.folder_edit = child(self.form, QLineEdit, "folderEdit")
        self.status_label = child(self.form, QLabel, "statusLabel")
        self.export_btn = child(self.form, QPushButton, "exportButton")
        self.drop_btn = child(self.form, QPushButton, "dropRefusedButton")
        self.canvas = RedactionCanvas()
        place(child(self.form, QWidget, "canvasPlaceholder"), self.canvas)
        child(self.form, QWidget, "canvasPlaceholder").setSizePolicy(self.canvas.sizePolicy())

        self.header = child(self.form, QLabel, "headerLabel")
        self.header.setStyleSheet("font-weight: 600; font-size: 11pt;")
        for purpose in SECONDARY:
            self.purpose_combo.addItem(LABELS[purpose], purpose)
        tools = QButtonGroup(self)
        tools.setExclusive(True)
        for name, mode in (("blurButton", "blur"), ("cropButton", "crop")):
            button = child(self.form, QPushButton, name)
            tools.addButton(button)
            button.setStyleSheet(TOOL_STYLE)
            button.toggled.connect(lambda on, m=mode: on and self.canvas.set_mode(m))
        self.photos = PhotoList(self.photo_list, archive, self.images)

        self.purpose_combo.currentIndexChanged.connect(self._purpose_changed)
        self.photo_list.currentItemChanged.connect(lambda *_: self._show_photo())
        self.canvas.changed.connect(self._redactions_changed)
        child(self.form, QPushButton, "undoButton").clicked.connect(self.canvas.undo)
        child(self.form, QPushButton, "clearButton").clicked.connect(self.canvas.clear)
        self.result_check.toggled.connect(lambda _on: self._refresh_result())
        self.folder_edit.textEdited.connect(self._folder_edited)
        child(self.form, QPushButton, "browseButton").clicked.connect(self.browse)
        child(self.form, QPushButton, "cancelButton").clicked.connect(self.reject)
        self.export_btn.clicked.connect(self.export)
        self.drop_btn.clicked.connect(self.leave_out_refused)
        child(self.form, QPushButton, "leaveOutButton").clicked.connect(self.leave_out_current)
        self.canvas.setAccessibleName("Photo to blur or crop")
        self.canvas.setAccessibleDescription("Drawn with a mouse, finger or pen. Without one, leave the photo out "
                                             "with “Leave this photo out”.")
        self.finished.connect(self._cleanup)

        self._purpose_changed()
        if self.images:
            self.photos.select(self.images[0].id)
        fit_to_screen(self, 1120, 780)

    # -- purpose and consent -----------------------------------------------------------------------
    def purpose(self) -> str:
        return str(self.purpose_combo.currentData())

    def _purpose_changed(self) -> None:
        if self._auto_folder:
            documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
            self.folder_edit.setText(str(deidentified.suggest_folder(documents, self.purpose())))
        self._update_state()

    def _update_state(self) -> None:
        ids = [i.id for i in self.images]
        refusals = policy.check(self.archive, ids, self.purpose()) if ids else []
        n = len(ids)
        self.header.setText(f"{n} photo{'s' if n != 1 else ''} will be exported without the patient's name, NHI, "
                            f"date of birth, dates, file names or any metadata.")
        self.drop_btn.setVisible(bool(refusals) and len(refusals) < n)
        self.drop_btn.setText(f"Leave out the {len(refusals)} refused photo{'s' if len(refusals) != 1 else ''}")
        purpose = LABELS[self.purpose()].lower()
        if not ids:
            self.consent_label.setText("No photos are selected.")
            self.consent_label.setStyleSheet(ERROR_STYLE)
        elif refusals:
            lines = "\n".join(f"• photo {r.image_id}: {r.reason}" for r in refusals)
            self.consent_label.setText(f"{len(refusals)} of {plural(len(ids), 'photo')} may not be used for {purpose}:\n"
                                       f"{lines}\nDeselect them, or record the patient's written consent first.")
            self.consent_label.setStyleSheet(ERROR_STYLE)
        else:
            self.consent_label.setText(f"Consent allows {purpose} for every selected photo.")
            self.consent_label.setStyleSheet(OK_STYLE)
        busy = self.export_job is not None
        self.export_btn.setEnabled(bool(ids) and not refusals and bool(self.folder_edit.text().strip()) and not busy)

    def _folder_edited(self, _text: str) -> None:
        self._auto_folder = False
        self._update_state()

    def browse(self) -> None:
        parent = QFileDialog.getExistingDirectory(self, "Where should the export folder be created?",
                                                  str(Path(self.folder_edit.text()).parent))
        if parent:
            self._auto_folder = False
            self.folder_edit.setText(str(deidentified.suggest_folder(parent, self.purpose())))
            self._update_state()

    def leave_out_current(self) -> None:
        """The keyboard route beside the redaction canvas: export the others without this photo."""
        image_id = self.current_id()
        if image_id is not None:
            self._leave_out({image_id})
            if self.images:
                self.photos.select(self.images[0].id)

    def leave_out_refused(self) -> None:
        """Export only the photos consent allows for this purpose (the others stay in the archive)."""
        self._leave_out({r.image_id for r in policy.check(self.archive, [i.id for i in self.images],
                                                          self.purpose())})

    def _leave_out(self, refused: set[int]) -> None:
        self.images = [i for i in self.images if i.id not in refused]
        for image_id in refused:
            self.redactions.pop(image_id, None)
            self._pictures.pop(image_id, None)
            item = self.photos.items.pop(image_id, None)
            if item is not None:
                self.photo_list.takeItem(self.photo_list.row(item))
        self._update_state()

    # -- redaction --------------------------------------------------------------------------------
    def current_id(self) -> int | None:
        return self.photos.current_id()

    def _show_photo(self) -> None:
        image_id = self.current_id()
        if image_id is None:
            return
        if image_id in self._pictures:
            self.canvas.set_picture(self._pictures[image_id], self.redactions.get(image_id))
            self._refresh_result()
            return
        self.canvas.set_message("Loading the photo…")
        run_job(deidentified.redacted_preview, self.archive, image_id, parent=self,
                on_done=partial(self._picture_loaded, image_id), on_error=self._preview_failed)

    def _picture_loaded(self, image_id: int, jpeg: bytes) -> None:
        if self._closed:
            return
        self._pictures[image_id] = jpeg
        if self.current_id() == image_id:
            self.canvas.set_picture(jpeg, self.redactions.get(image_id))
            self._refresh_result()

    def _preview_failed(self, exc: BaseException) -> None:
        if not self._closed:
            self.canvas.set_message("This photo could not be shown.")
            messages.show_error(self, exc)

    def _redactions_changed(self) -> None:
        image_id = self.current_id()
        if image_id is None:
            return
        self.redactions[image_id] = list(self.canvas.redactions)
        if not self.redactions[image_id]:
            del self.redactions[image_id]
        item, image = self.photos.items[image_id], self.photos.images[image_id]
        count = len(self.redactions.get(image_id, []))
        item.setText(photo_caption(image) + (f"\n{count} redaction{'s' if count != 1 else ''}" if count else ""))
        self._refresh_result()

    def _refresh_result(self) -> None:
        image_id = self.current_id()
        if not self.result_check.isChecked() or image_id is None or image_id not in self._pictures:
            self.canvas.set_result(None)
            return
        run_job(deidentified.redacted_preview, self.archive, image_id, list(self.redactions.get(image_id, [])),
                parent=self, on_done=partial(self._result_ready, image_id), on_error=self._preview_failed)

    def _result_ready(self, image_id: int, jpeg: bytes) -> None:
        if not self._closed and self.current_id() == image_id and self.result_check.isChecked():
            self.canvas.set_result(jpeg)

    # -- export -----------------------------------------------------------------------------------
    def export(self) -> None:
        out = Path(self.folder_edit.text().strip())
        task = partial(deidentified.export_deidentified, image_ids=[i.id for i in self.images],
                       redactions={k: list(v) for k, v in self.redactions.items()})
        self.status_label.setText("Exporting…")
        self.export_job = run_job(task, self.archive, self.patient_id, self.purpose(), out, parent=self,
                                  title="Exporting de-identified photos…", with_progress=True,
                                  on_done=self._exported, on_error=self._export_failed)
        self._update_state()

    def _exported(self, summary: dict[str, Any]) -> None:
        self.export_job = None
        self.summary = summary
        if self._closed:
            return
        messages.info(self, f"Exported {plural(summary['count'], 'de-identified photo')} to {summary['out']}, with "
                            f"images.csv and images.json describing them.")
        self.accept()

    def _export_failed(self, exc: BaseException) -> None:
        self.export_job = None
        if self._closed:
            return
        self.status_label.setText("")
        messages.show_error(self, exc, "Export not done")
        self._update_state()

    def _cleanup(self, _result: int) -> None:
        self._closed = True
        self._pictures.clear()
        self.canvas.set_message("")
        self.photos.stop()
