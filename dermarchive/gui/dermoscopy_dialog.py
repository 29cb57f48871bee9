"""Dermoscopy settings of selected dermoscopic photos (the side panel's "Dermoscopy settings…").

    DermoscopyDialog(archive, image_ids, parent, skipped=0).open()

How a dermoscopic photo was taken (light polarisation, contact or not, immersion medium, optical
magnification), in plain words, pre-filled from the photo's current values
(:func:`~dermarchive.archive.dicom_store.dermoscopy_of`). Saving calls
:func:`~dermarchive.archive.dicom_store.set_dermoscopy_attributes` (validated and audited there)
for all the photos given. When they differ in a setting, that setting starts unchosen and is only
written if the user chooses one, so the others keep their own values. Only changed settings are
written; the core's messages are shown as they are.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QLabel, QPushButton, QRadioButton,
                               QWidget)

from ..errors import DermArchiveError
from ..archive import dicom_store
from . import messages
from .forms import child, dialog_form
from .pacs_dialog import IMMERSION_CHOICES

TITLE = "Dermoscopy settings"
KEEP = "Keep each photo's own"
POLARIZATION_WORDS = {"POLARIZED": "polarised", "NON_POLARIZED": "non-polarised"}
CONTACT_WORDS = {"CONTACT": "contact", "NON_CONTACT": "non-contact"}
IMMERSION_WORDS = {value: label.lower() for label, value in IMMERSION_CHOICES if value}
FIELDS = ("polarization", "contact", "immersion", "magnification")


def describe(d: dicom_store.Dermoscopy) -> str:
    """Short plain words for the side panel: "polarised, contact, mineral oil, 10×"."""
    words = [POLARIZATION_WORDS.get(d.polarization, d.polarization.lower()),
             CONTACT_WORDS.get(d.contact, d.contact.lower())]
    if d.immersion:
        words.append(IMMERSION_WORDS.get(d.immersion, d.immersion.lower()))
    if d.magnification is not None:
        words.append(f"{d.magnification:g}×")
    return ", ".join(words)


def _common(settings: list[dicom_store.Dermoscopy], field: str) -> Any:
    """The value all photos share, or None when they differ."""
    values = {getattr(d, field) for d in settings}
    return values.pop() if len(values) == 1 else None


class DermoscopyDialog(QDialog):
    def __init__(self, archive: Any, image_ids: list[int], parent: QWidget | None = None, *,
                 skipped: int = 0) -> None:
        super().__init__(parent)
        self.archive = archive
        self.image_ids = list(image_ids)
        self.changed = 0  # photos written by the last save
        self.setWindowTitle("Dermoscopy Settings")
        self.form = dialog_form(self, "dermoscopy_dialog")

        self.intro_label = child(self.form, QLabel, "introLabel")
        self.mixed_label = child(self.form, QLabel, "mixedLabel")
        self.polarized_radio = child(self.form, QRadioButton, "polarizedRadio")
        self.non_polarized_radio = child(self.form, QRadioButton, "nonPolarizedRadio")
        self.contact_radio = child(self.form, QRadioButton, "contactRadio")
        self.non_contact_radio = child(self.form, QRadioButton, "nonContactRadio")
        self.immersion_combo = child(self.form, QComboBox, "immersionCombo")
        self.magnification_spin = child(self.form, QDoubleSpinBox, "magnificationSpin")
        self.save_button = child(self.form, QPushButton, "saveButton")
        self.close_btn = child(self.form, QPushButton, "closeButton")
        self.mixed_label.setStyleSheet("color: #5c6770;")
        self.save_button.setDefault(True)

        n = len(self.image_ids)
        if n == 1:
            intro = ("How this dermoscopic photo was taken. These settings go with it when it is sent to a PACS"
                     " or written as DICOM.")
        else:
            intro = (f"How these {n} dermoscopic photos were taken. Saving applies your choices to all {n}; the"
                     " settings go with them when they are sent to a PACS or written as DICOM.")
        if skipped:
            intro += (" The other selected photo is not dermoscopic; it is left unchanged." if skipped == 1 else
                      f" The other {skipped} selected photos are not dermoscopic; they are left unchanged.")
        self.intro_label.setText(intro)
        self.save_button.setText("&Save" if n == 1 else f"&Save for {n} Photos")
        self._prefill([dicom_store.dermoscopy_of(archive, i) for i in self.image_ids])
        self.initial = self.values()

        self.contact_radio.toggled.connect(self._contact_changed)
        self.non_contact_radio.toggled.connect(self._contact_changed)
        self.save_button.clicked.connect(self.save)
        self.close_btn.clicked.connect(self.reject)
        self.resize(max(460, self.sizeHint().width()), self.sizeHint().height())

    def _prefill(self, settings: list[dicom_store.Dermoscopy]) -> None:
        common = {field: _common(settings, field) for field in FIELDS}
        mixed = any(value is None for value in common.values())
        self.polarized_radio.setChecked(common["polarization"] == "POLARIZED")
        self.non_polarized_radio.setChecked(common["polarization"] == "NON_POLARIZED")
        self.contact_radio.setChecked(common["contact"] == "CONTACT")
        self.non_contact_radio.setChecked(common["contact"] == "NON_CONTACT")
        if common["immersion"] is None:
            self.immersion_combo.addItem(KEEP, None)
        for label, value in IMMERSION_CHOICES:
            self.immersion_combo.addItem(label, value)
        self.immersion_combo.setCurrentIndex(max(0, self.immersion_combo.findData(common["immersion"])))
        magnifications = [d.magnification for d in settings if d.magnification is not None]
        if any(m != round(m) for m in magnifications):
            self.magnification_spin.setDecimals(1)
        if common["magnification"] is None and len(settings) > 1:
            self.magnification_spin.setMinimum(0)  # 0 shows as "keep each photo's own"
            self.magnification_spin.setSpecialValueText(KEEP)
            self.magnification_spin.setValue(0)
        else:
            self.magnification_spin.setValue(float(common["magnification"] or 10))
        self.mixed_label.setVisible(mixed and len(settings) > 1)
        self._contact_changed()

    # -- state --------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """What the dialog shows; None where a setting is left unchosen (each photo keeps its own)."""
        def pick(a: QRadioButton, b: QRadioButton, va: str, vb: str) -> str | None:
            return va if a.isChecked() else vb if b.isChecked() else None

        magnification = self.magnification_spin.value()
        return {
            "polarization": pick(self.polarized_radio, self.non_polarized_radio, "POLARIZED", "NON_POLARIZED"),
            "contact": pick(self.contact_radio, self.non_contact_radio, "CONTACT", "NON_CONTACT"),
            "immersion": self.immersion_combo.currentData(),
            "magnification": magnification if magnification >= 1 else None,
        }

    def changes(self) -> dict[str, Any]:
        """The settings to write: those the user changed. An immersion medium goes with the
        contact it applies to; choosing non-contact clears the medium."""
        now = self.values()
        attrs = {k: v for k, v in now.items() if v is not None and v != self.initial[k]}
        if now["contact"] == "NON_CONTACT" and "contact" in attrs:
            attrs["immersion"] = ""
        elif "immersion" in attrs:
            attrs["contact"] = now["contact"]
        return attrs

    def _contact_changed(self, _checked: bool = False) -> None:
        """Immersion only applies to contact dermoscopy: chosen only once "Contact" is."""
        contact = self.contact_radio.isChecked()
        self.immersion_combo.setEnabled(contact)
        if self.non_contact_radio.isChecked():
            self.immersion_combo.setCurrentIndex(self.immersion_combo.findData(""))

    # -- actions ------------------------------------------------------------------------------
    def save(self) -> None:
        attrs = self.changes()
        if attrs:
            try:
                self.changed = dicom_store.set_dermoscopy_attributes(self.archive, self.image_ids, **attrs)
            except DermArchiveError as exc:
                messages.show_error(self, exc, TITLE)
                return
        self.accept()
