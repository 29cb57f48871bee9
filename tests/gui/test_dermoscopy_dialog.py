"""Per-photo dermoscopy settings from the side panel (real GUI on the demo archive, offscreen)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PySide6.QtCore import Qt

from dermarchive.archive import records
from dermarchive.archive import dicom_store
from dermarchive.gui.dermoscopy_dialog import DermoscopyDialog
from dermarchive.gui.main_window import PAGE_PATIENT, MainWindow

pytestmark = pytest.mark.gui


def _open_patient_with_dermoscopy(window: MainWindow, qtbot: Any) -> tuple[records.Patient, list[records.ImageRecord]]:
    """Open the first patient who has dermoscopic photos; returns them and all their photos."""
    model = window.patient_model
    for row in range(model.rowCount()):
        patient = model.patient_at(row)
        photos = records.images(window.archive, patient_id=patient.id)
        if any(p.kind == "dermoscopic" for p in photos):
            break
    else:
        pytest.fail("the demo archive has no dermoscopic photo")
    window.patient_table.selectRow(row)
    qtbot.waitUntil(lambda: window.content.currentIndex() == PAGE_PATIENT and window.patient_page.ready
                    and window.patient_page.patient.id == patient.id, timeout=10_000)
    return patient, photos


def _open_dialog(window: MainWindow, qtbot: Any) -> DermoscopyDialog:
    panel = window.patient_page.panel
    assert panel.dermoscopy_button.isVisible() and panel.dermoscopy_button.isEnabled()
    qtbot.mouseClick(panel.dermoscopy_button, Qt.MouseButton.LeftButton)
    dialog = panel.dermoscopy_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    return dialog


def test_panel_line_dialog_saves_and_audits(main_window: MainWindow, qtbot: Any, messages: Any) -> None:
    window, archive = main_window, main_window.archive
    patient, photos = _open_patient_with_dermoscopy(window, qtbot)
    derm = next(p for p in photos if p.kind == "dermoscopic")
    page, panel = window.patient_page, window.patient_page.panel

    # The panel shows the photo's current settings (stamped from the practice defaults at import).
    page.select_images([derm.id])
    before = dicom_store.dermoscopy_of(archive, derm.id)
    assert before == dicom_store.Dermoscopy("POLARIZED", "CONTACT", "", 10)
    assert panel.dermoscopy_text() == "Dermoscopy: polarised, contact, 10×"

    # The dialog is pre-filled from those values.
    dialog = _open_dialog(window, qtbot)
    assert dialog.polarized_radio.isChecked() and dialog.contact_radio.isChecked()
    assert dialog.immersion_combo.isEnabled() and dialog.immersion_combo.currentData() == ""
    assert dialog.magnification_spin.value() == 10
    assert not dialog.mixed_label.isVisibleTo(dialog)

    # Non-contact: no immersion medium to choose.
    qtbot.mouseClick(dialog.non_contact_radio, Qt.MouseButton.LeftButton)
    assert not dialog.immersion_combo.isEnabled()
    qtbot.mouseClick(dialog.contact_radio, Qt.MouseButton.LeftButton)
    assert dialog.immersion_combo.isEnabled()

    # Non-polarised, contact, mineral oil, 20×: saved in the core, shown in the panel.
    audit_before = len(archive.audit.entries(archive.catalogue, action="image.update"))
    qtbot.mouseClick(dialog.non_polarized_radio, Qt.MouseButton.LeftButton)
    dialog.immersion_combo.setCurrentIndex(dialog.immersion_combo.findText("Mineral oil"))
    dialog.magnification_spin.setValue(20)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    assert dialog.changed == 1
    assert dicom_store.dermoscopy_of(archive, derm.id) == dicom_store.Dermoscopy(
        "NON_POLARIZED", "CONTACT", "MINERAL_OIL", 20)
    assert panel.dermoscopy_text() == "Dermoscopy: non-polarised, contact, mineral oil, 20×"
    assert messages.entries == []

    # Audited: image ids and column names only, nothing about the patient.
    entries = archive.audit.entries(archive.catalogue, action="image.update")
    assert len(entries) == audit_before + 1
    entry = entries[-1]
    assert entry.subject == {"images": [derm.id]}
    assert set(entry.details) == {"fields"}
    assert set(entry.details["fields"]) <= {"dermoscopy_polarization", "dermoscopy_contact",
                                            "dermoscopy_immersion", "dermoscopy_magnification"}
    assert {"dermoscopy_polarization", "dermoscopy_immersion", "dermoscopy_magnification"} <= set(
        entry.details["fields"])
    text = json.dumps(entry.as_json())
    for private in (patient.nhi, patient.family, patient.given):
        assert private not in text
    assert archive.audit.verify(archive.catalogue) == []

    # Opening again shows the saved values; Cancel writes nothing.
    dialog = _open_dialog(window, qtbot)
    assert dialog.non_polarized_radio.isChecked() and dialog.immersion_combo.currentData() == "MINERAL_OIL"
    assert dialog.magnification_spin.value() == 20
    qtbot.mouseClick(dialog.close_btn, Qt.MouseButton.LeftButton)
    assert len(archive.audit.entries(archive.catalogue, action="image.update")) == audit_before + 1


def test_several_photos_and_clinical_photo(main_window: MainWindow, qtbot: Any, messages: Any) -> None:
    window, archive = main_window, main_window.archive
    _patient, photos = _open_patient_with_dermoscopy(window, qtbot)
    derms = [p for p in photos if p.kind == "dermoscopic"]
    clinical = next(p for p in photos if p.kind == "clinical")
    assert len(derms) >= 2
    page, panel = window.patient_page, window.patient_page.panel

    # A clinical photo: no dermoscopy line, no button.
    page.select_images([clinical.id])
    assert panel.dermoscopy_text() == ""
    assert not panel.dermoscopy_button.isVisible()

    # Two dermoscopic photos with different magnifications, plus a clinical one.
    first, second = derms[0], derms[1]
    dicom_store.set_dermoscopy_attributes(archive, [second.id], magnification=40)
    page.select_images([first.id, second.id, clinical.id])
    assert panel.dermoscopy_text() == "Dermoscopy (2 of 3 photos): settings differ"
    dialog = _open_dialog(window, qtbot)
    assert "these 2 dermoscopic photos" in dialog.intro_label.text()
    assert "The other selected photo is not dermoscopic; it is left unchanged." in dialog.intro_label.text()
    assert dialog.save_button.text() == "&Save for 2 Photos"
    assert dialog.mixed_label.isVisibleTo(dialog)
    assert dialog.magnification_spin.value() == 0  # unchosen: each keeps its own
    assert dialog.magnification_spin.text() == "Keep each photo's own"

    # Only what is chosen is written, to both photos; each keeps its own magnification.
    qtbot.mouseClick(dialog.non_contact_radio, Qt.MouseButton.LeftButton)
    assert not dialog.immersion_combo.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    assert dialog.changed == 2
    assert dicom_store.dermoscopy_of(archive, first.id) == dicom_store.Dermoscopy("POLARIZED", "NON_CONTACT", "", 10)
    assert dicom_store.dermoscopy_of(archive, second.id) == dicom_store.Dermoscopy("POLARIZED", "NON_CONTACT", "", 40)
    assert dicom_store.dermoscopy_of(archive, clinical.id).contact == "CONTACT"  # default: row untouched
    entry = archive.audit.entries(archive.catalogue, action="image.update")[-1]
    assert entry.subject == {"images": [first.id, second.id]}
    assert sorted(entry.details["fields"]) == ["dermoscopy_contact", "dermoscopy_immersion"]
    assert panel.dermoscopy_text() == "Dermoscopy (2 of 3 photos): settings differ"
    page.select_images([first.id])
    assert panel.dermoscopy_text() == "Dermoscopy: polarised, non-contact, 10×"


def test_core_refusal_is_shown_and_dialog_stays(qtbot: Any, open_demo: Any, messages: Any) -> None:
    clinical = records.images(open_demo, kinds=("clinical",))[0]
    dialog = DermoscopyDialog(open_demo, [clinical.id])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.non_polarized_radio, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.changed == 0
    assert len(messages.entries) == 1
    level, title, text = messages.entries[0]
    assert level == "error" and title == "Dermoscopy settings"
    assert "not dermoscopic" in text
