"""Settings ▸ PACS…: where "Send to PACS" sends (DICOMweb address, user, password), with a
"Test Connection" button, and the practice's dermatoscope defaults for dermoscopic photos.

    PacsSettingsDialog(archive, parent).exec()
    send_photos_to_pacs(parent, archive, image_ids, on_done=callback)   # the main window's action

The dialog only calls the core (:mod:`dermarchive.dicom.pacs`, :mod:`dermarchive.archive.dicom_store`); network
work runs through ``gui.jobs.run_job``. The saved password is never shown: leaving the password
field empty keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QLabel, QLineEdit, QPushButton,
                               QWidget)

from ..errors import DermArchiveError
from ..archive import dicom_store
from ..dicom import pacs
from ..workflows.changes import NOTHING
from . import messages
from .forms import child, dialog_form
from .icons import icon
from .jobs import Job, run_job

TITLE = "PACS"
OK_STYLE = "color: #166534;"
ERROR_STYLE = "color: #9a3412;"
POLARIZATION_CHOICES = (("Polarised", "POLARIZED"), ("Non-polarised", "NON_POLARIZED"))
CONTACT_CHOICES = (("Contact (lens on skin)", "CONTACT"), ("Non-contact", "NON_CONTACT"))
IMMERSION_CHOICES = (("None", ""), ("Water", "WATER"), ("Ultrasound gel", "ULTRASOUND_GEL"),
                     ("Alcohol", "ALCOHOL"), ("Mineral oil", "MINERAL_OIL"), ("Plastic cap", "PLASTIC_CAP"))


def _fill(combo: QComboBox, choices: tuple[tuple[str, str], ...], current: str) -> None:
    combo.clear()
    for label, value in choices:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))


class PacsSettingsDialog(QDialog):
    changes = NOTHING  # what the main window re-reads when this closes

    def __init__(self, archive: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.setWindowTitle("PACS Settings")
        self.setWindowIcon(icon("pacs"))
        self.form = dialog_form(self, "pacs_settings")

        self.url_edit = child(self.form, QLineEdit, "urlEdit")
        self.user_edit = child(self.form, QLineEdit, "userEdit")
        self.password_edit = child(self.form, QLineEdit, "passwordEdit")
        self.test_button = child(self.form, QPushButton, "testButton")
        self.status_label = child(self.form, QLabel, "statusLabel")
        self.polarization_combo = child(self.form, QComboBox, "polarizationCombo")
        self.contact_combo = child(self.form, QComboBox, "contactCombo")
        self.immersion_combo = child(self.form, QComboBox, "immersionCombo")
        self.magnification_spin = child(self.form, QDoubleSpinBox, "magnificationSpin")
        self.device_make_edit = child(self.form, QLineEdit, "deviceMakeEdit")
        self.device_model_edit = child(self.form, QLineEdit, "deviceModelEdit")
        self.device_serial_edit = child(self.form, QLineEdit, "deviceSerialEdit")
        self.save_button = child(self.form, QPushButton, "saveButton")
        self.close_btn = child(self.form, QPushButton, "closeButton")
        child(self.form, QLabel, "iconLabel").setPixmap(icon("pacs").pixmap(40, 40))
        self.save_button.setDefault(True)
        self._align_label_columns()

        self.job: Job | None = None
        self.saved: pacs.PacsTarget | None = None
        try:
            self.saved = pacs.get_target(archive)
        except DermArchiveError as exc:
            self._status(str(exc), ok=False)
        if self.saved is not None:
            self.url_edit.setText(self.saved.url)
            self.user_edit.setText(self.saved.user)
            self.password_edit.setPlaceholderText("Saved (leave empty to keep it)")
        derm = dicom_store.dermoscopy_defaults(archive)
        _fill(self.polarization_combo, POLARIZATION_CHOICES, derm.polarization)
        _fill(self.contact_combo, CONTACT_CHOICES, derm.contact)
        _fill(self.immersion_combo, IMMERSION_CHOICES, derm.immersion)
        self.magnification_spin.setValue(float(derm.magnification or 10))
        device = dicom_store.dermatoscope(archive)
        self.device_make_edit.setText(device.manufacturer)
        self.device_model_edit.setText(device.model)
        self.device_serial_edit.setText(device.serial)

        self.test_button.clicked.connect(self.test_connection)
        self.save_button.clicked.connect(self.save)
        self.close_btn.clicked.connect(self.reject)
        self.contact_combo.currentIndexChanged.connect(self._contact_changed)
        for edit in (self.url_edit, self.user_edit, self.password_edit):
            edit.textChanged.connect(lambda _text: self._status(""))
        self._contact_changed()
        self.resize(620, 560)

    def _align_label_columns(self) -> None:
        """The two groups' forms are separate layouts: give their labels one width so the fields
        of both groups start at the same x."""
        labels = [child(self.form, QLabel, name) for name in (
            "urlLabel", "userLabel", "passwordLabel", "polarizationLabel", "contactLabel", "immersionLabel",
            "magnificationLabel", "deviceLabel")]
        for label in labels:
            label.ensurePolished()  # measured with the style sheet's font
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)

    # -- state --------------------------------------------------------------------------------
    def _status(self, text: str, ok: bool = True) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)

    def _contact_changed(self) -> None:
        contact = self.contact_combo.currentData() == "CONTACT"
        self.immersion_combo.setEnabled(contact)
        if not contact:
            self.immersion_combo.setCurrentIndex(0)

    def _busy(self, busy: bool) -> None:
        for w in (self.test_button, self.save_button, self.url_edit, self.user_edit, self.password_edit):
            w.setEnabled(not busy)

    def entered_target(self) -> pacs.PacsTarget:
        """The connection as typed (an empty password field means the saved password)."""
        password = self.password_edit.text() or (self.saved.password if self.saved else "")
        return pacs.make_target(self.url_edit.text(), self.user_edit.text(), password)

    def connection_changed(self) -> bool:
        if self.saved is None:
            return bool(self.url_edit.text().strip() or self.user_edit.text().strip() or self.password_edit.text())
        return (self.url_edit.text().strip().rstrip("/") != self.saved.url or self.user_edit.text().strip()
                != self.saved.user or bool(self.password_edit.text()))

    # -- actions ------------------------------------------------------------------------------
    def _run(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None]) -> None:
        def done(result: Any) -> None:
            self.job = None
            self._busy(False)
            on_done(result)

        def failed(exc: BaseException) -> None:
            self.job = None
            self._busy(False)
            self._status(str(exc) if isinstance(exc, DermArchiveError) else
                         f"Something went wrong ({type(exc).__name__}).", ok=False)

        self._busy(True)
        self._status("Contacting the PACS…")
        self.job = run_job(fn, *args, parent=self, title="Contacting the PACS…", on_done=done, on_error=failed)

    def test_connection(self) -> None:
        try:
            target = self.entered_target()
        except DermArchiveError as exc:
            self._status(str(exc), ok=False)
            return
        self._run(pacs.test_connection, self.archive, target, on_done=lambda text: self._status(f"✓ {text}"))

    def save(self) -> None:
        try:
            self._save_dermoscopy()
            if not self.connection_changed():
                self.accept()
                return
            target = self.entered_target()
        except DermArchiveError as exc:
            messages.show_error(self, exc, TITLE)
            return
        self._run(pacs.set_target, self.archive, target.url, target.user, target.password,
                  on_done=lambda _t: self.accept())

    def _save_dermoscopy(self) -> None:
        dicom_store.set_dermoscopy_defaults(
            self.archive, polarization=self.polarization_combo.currentData(),
            contact=self.contact_combo.currentData(), immersion=self.immersion_combo.currentData(),
            magnification=self.magnification_spin.value())
        device = (self.device_make_edit.text(), self.device_model_edit.text(), self.device_serial_edit.text())
        if device != (lambda d: (d.manufacturer, d.model, d.serial))(dicom_store.dermatoscope(self.archive)):
            dicom_store.set_dermatoscope(self.archive, manufacturer=device[0], model=device[1], serial=device[2])

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.finished.wait(35)
        super().reject()


def send_photos_to_pacs(parent: QWidget | None, archive: Any, image_ids: list[int],
                        on_done: Callable[[dict[str, Any]], None] | None = None,
                        on_error: Callable[[BaseException], None] | None = None) -> Job:
    """The main window's "Send to PACS" on selected photos: progress, Cancel, a plain summary.

    ``on_done`` gets the summary after the message; ``on_error`` the exception after the error is
    shown (photos sent before a failure or a Cancel are marked as sent all the same)."""

    def done(summary: dict[str, Any]) -> None:
        sent, there = summary["sent"], summary["already_there"]
        text = f"Sent {sent} photo{'s' if sent != 1 else ''} to the PACS."
        if there:
            text += f" {there} {'was' if there == 1 else 'were'} there already."
        text = " ".join([text, *summary.get("notes", [])])
        messages.info(parent, text, TITLE)
        if on_done:
            on_done(summary)

    def failed(exc: BaseException) -> None:
        messages.show_error(parent, exc, TITLE)
        if on_error:
            on_error(exc)

    return run_job(pacs.send_images_to_pacs, archive, list(image_ids), parent=parent, title="Sending to the PACS…",
                   with_progress=True, on_done=done, on_error=failed)
