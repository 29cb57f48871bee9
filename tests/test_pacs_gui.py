"""The PACS settings dialog and "Send to PACS", driven under pytest-qt against a real Orthanc."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from dermarchive.exports import dicom_store, pacs
from dermarchive.gui import messages
from dermarchive.gui.pacs_dialog import PacsSettingsDialog, send_photos_to_pacs
from tests.orthanc_fixture import orthanc  # noqa: F401 - the fixture
from tests.orthanc_fixture import ORTHANC_PASSWORD, ORTHANC_USER, Orthanc, make_photo_archive

pytestmark = pytest.mark.gui


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(messages, "sink", lambda parent, level, title, text: shown.append((level, text)))
    return shown


def fill(qtbot, dialog: PacsSettingsDialog, url: str, user: str, password: str) -> None:
    for edit, text in ((dialog.url_edit, url), (dialog.user_edit, user), (dialog.password_edit, password)):
        edit.clear()
        qtbot.keyClicks(edit, text)


def test_test_connection_shows_success_and_wrong_password(qtbot, archive, orthanc: Orthanc, recorded) -> None:
    dialog = PacsSettingsDialog(archive)
    qtbot.addWidget(dialog)
    fill(qtbot, dialog, orthanc.dicomweb, ORTHANC_USER, "wrong-password")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None and "refused" in dialog.status_label.text(), timeout=20000)
    assert "user name or password" in dialog.status_label.text()
    fill(qtbot, dialog, orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None and dialog.status_label.text().startswith("✓"), timeout=20000)
    assert pacs.get_target(archive) is None, "testing does not save"
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    saved = pacs.get_target(archive)
    assert (saved.url, saved.user, saved.password) == (orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    assert recorded == []


def test_reopened_dialog_keeps_the_saved_password_and_saves_dermoscopy_defaults(qtbot, archive) -> None:
    pacs.set_target(archive, "http://127.0.0.1:9/dicom-web", "clinic", "kept-secret", test=False)
    dialog = PacsSettingsDialog(archive)
    qtbot.addWidget(dialog)
    assert dialog.url_edit.text() == "http://127.0.0.1:9/dicom-web" and dialog.password_edit.text() == ""
    dialog.polarization_combo.setCurrentIndex(dialog.polarization_combo.findData("NON_POLARIZED"))
    dialog.immersion_combo.setCurrentIndex(dialog.immersion_combo.findData("MINERAL_OIL"))
    dialog.magnification_spin.setValue(20)
    qtbot.keyClicks(dialog.device_serial_edit, "DL4-12345")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    derm = dicom_store.dermoscopy_defaults(archive)
    assert (derm.polarization, derm.immersion, derm.magnification) == ("NON_POLARIZED", "MINERAL_OIL", 20)
    assert dicom_store.dermatoscope(archive).serial == "DL4-12345"
    assert pacs.get_target(archive).password == "kept-secret"
    # non-contact: no immersion fluid can be chosen
    dialog2 = PacsSettingsDialog(archive)
    qtbot.addWidget(dialog2)
    dialog2.contact_combo.setCurrentIndex(dialog2.contact_combo.findData("NON_CONTACT"))
    assert not dialog2.immersion_combo.isEnabled() and dialog2.immersion_combo.currentData() == ""
    dialog2.reject()
    assert dialog2.result() == QDialog.DialogCode.Rejected


def test_send_to_pacs_from_the_main_window(qtbot, archive, corpus: Path, orthanc: Orthanc, recorded) -> None:
    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    pacs.set_target(archive, orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    results: list[dict] = []
    send_photos_to_pacs(None, archive, list(pa.ids.values()), on_done=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30000)
    assert results[0]["sent"] == 2 and len(orthanc.instances()) == 2
    assert recorded == [("info", "Sent 2 photos to the PACS.")]
    assert set(pacs.images_in_pacs(archive, list(pa.ids.values()))) == set(pa.ids.values())  # the badge
    orthanc.stop()
    send_photos_to_pacs(None, archive, [pa.ids["png"]])
    qtbot.waitUntil(lambda: len(recorded) == 2, timeout=30000)
    assert recorded[1][0] == "error" and "cannot be reached" in recorded[1][1]
