"""The PACS settings dialog and "Send to PACS", driven under pytest-qt against a real Orthanc."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from dermarchive.archive import dicom_store
from dermarchive.dicom import pacs
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


# the offscreen platform's complaint about window-manager hints (as in tests/gui/conftest.py)
offscreen_noise = pytest.mark.qt_log_ignore(
    r"This plugin does not support (raise\(\)|propagateSizeHints\(\)|requestActivate\(\))")


@offscreen_noise
def test_send_from_the_main_window_shows_the_pacs_badges(qtbot, archive, corpus: Path, orthanc: Orthanc,
                                                         recorded) -> None:
    from dermarchive.gui.main_window import MainWindow

    pa = make_photo_archive(archive, corpus, which=("baseline", "png", "dermoscopic"))
    pacs.set_target(archive, orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    window = MainWindow(archive)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
        window.show_patient(pa.patient.id)
        page = window.patient_page
        qtbot.waitUntil(lambda: page.ready, timeout=10_000)
        model = page.timeline_model

        def pacs_badged() -> set[int]:
            return {i.id for i in model.images() if ("PACS", "A copy is in the practice PACS") in model.badges(i)}

        assert pacs_badged() == set()
        chosen = [pa.ids["baseline"], pa.ids["dermoscopic"]]
        page.select_images(chosen)
        window.send_to_pacs()
        # nothing but the send: the page re-reads itself and the sent photos carry the badge
        qtbot.waitUntil(lambda: pacs_badged() == set(chosen), timeout=30_000)
        assert recorded == [("info", "Sent 2 photos to the PACS.")]
        assert len(orthanc.instances()) == 2
        assert page.patient is not None and page.patient.id == pa.patient.id
    finally:
        window.close()


@offscreen_noise
def test_withdrawal_dialog_names_and_deletes_the_pacs_copies(qtbot, archive, corpus: Path, orthanc: Orthanc,
                                                             recorded) -> None:
    from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton

    from dermarchive.archive import records
    from dermarchive.gui.consent_withdraw import WithdrawConsentDialog
    from dermarchive.gui.forms import child

    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    base, png = pa.ids["baseline"], pa.ids["png"]
    pacs.set_target(archive, orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    pacs.send_to_pacs(archive, pa.patient.id, image_ids=[png])  # only this one is in the PACS
    assert len(orthanc.instances()) == 1
    dialog = WithdrawConsentDialog(archive, pa.visit_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    summary = child(dialog.form, QLabel, "summaryLabel")
    qtbot.keyClicks(child(dialog.form, QLineEdit, "reasonEdit"), "Patient asked")
    assert "PACS" not in summary.text()  # nothing is deleted yet
    child(dialog.form, QCheckBox, "deleteCheck").setChecked(True)
    # before confirming: which of the photos to be deleted are in the PACS, and deleted there too
    assert f"Photo {png} is also in the practice PACS and will be deleted there too." in summary.text()
    assert dialog.photos.items[png].text().endswith("DELETED, in the PACS too")
    assert dialog.photos.items[base].text().endswith("Not essential: DELETED")
    dialog.photos.items[png].setCheckState(Qt.CheckState.Checked)  # essential: kept, so not deleted there
    assert "PACS" not in summary.text()
    dialog.photos.items[png].setCheckState(Qt.CheckState.Unchecked)
    assert f"Photo {png} is also" in summary.text()

    qtbot.mouseClick(child(dialog.form, QPushButton, "withdrawButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_ is not None, timeout=30_000)
    assert records.images(archive, visit_id=pa.visit_id) == []
    assert orthanc.instances() == []
    # afterwards, also when every delete succeeded: what was deleted from the PACS, by image id
    assert recorded == [("info", f"Also deleted from the practice PACS: image(s) {png}.")]
