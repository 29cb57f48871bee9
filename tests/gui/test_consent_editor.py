"""The consent editor and withdrawal dialog, driven like a nurse would (pytest-qt, offscreen)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.consent import policy
from dermarchive.consent.records import current, history, record_consent, signature_png
from dermarchive.gui.consent_editor import ConsentEditorDialog
from dermarchive.gui.forms import child
from tests.test_consent_support import add_photo, make_patient, signature_png as drawn_signature

pytestmark = pytest.mark.gui


@pytest.fixture
def visit(archive: Archive) -> int:
    return records.add_visit(archive, make_patient(archive), "2024-05-01")


def open_editor(qtbot: Any, archive: Archive, visit_id: int) -> ConsentEditorDialog:
    dialog = ConsentEditorDialog(archive, visit_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def sign(qtbot: Any, pad: Any, points: list[tuple[int, int]]) -> None:
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(pad, QPoint(*p))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def tick(qtbot: Any, box: QCheckBox) -> None:
    """Click the box itself (as a user does; the empty space right of its label is not clickable)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def choose_method(dialog: ConsentEditorDialog, method: str) -> None:
    combo = child(dialog.form, QComboBox, "methodCombo")
    combo.setCurrentIndex(combo.findData(method))


def test_nurse_records_a_signed_consent(qtbot: Any, archive: Archive, visit: int) -> None:
    add_photo(archive, visit)
    dialog = open_editor(qtbot, archive, visit)
    assert "No consent is recorded" in child(dialog.form, QLabel, "statusLabel").text()
    tick(qtbot, child(dialog.form, QCheckBox, "scope_clinical_referral"))
    tick(qtbot, child(dialog.form, QCheckBox, "scope_education"))
    assert child(dialog.form, QCheckBox, "scope_education").isChecked()
    sign(qtbot, dialog.pad, [(40, 100), (90, 40), (140, 110), (200, 45), (260, 100)])
    assert not dialog.pad.is_empty()
    name = child(dialog.form, QLineEdit, "obtainedByEdit")
    name.clear()
    qtbot.keyClicks(name, "RN Ana Kowhai")

    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(child(dialog.form, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)

    v = current(archive, visit)
    assert v is not None and v.method == "written-signature" and v.obtained_by == "RN Ana Kowhai"
    assert set(v.scopes) == {"clinical.documentation", "clinical.referral", "education"}
    png = signature_png(archive, v)
    with Image.open(io.BytesIO(png)) as img:  # the drawn strokes, not a blank image
        ink = img.convert("RGBA").getchannel("A").getbbox()
        assert ink is not None and ink[2] - ink[0] > img.width // 3
    assert dialog.result() == dialog.DialogCode.Accepted
    image = records.images(archive, visit_id=visit)[0].id
    assert policy.allowed(archive, image, "education") and not policy.allowed(archive, image, "research")


def test_pad_undo_redo_clear_and_blank_pad_is_refused(qtbot: Any, archive: Archive, visit: int) -> None:
    dialog = open_editor(qtbot, archive, visit)
    sign(qtbot, dialog.pad, [(30, 60), (120, 90)])
    sign(qtbot, dialog.pad, [(150, 60), (220, 90)])
    assert len(dialog.pad.strokes) == 2
    qtbot.mouseClick(child(dialog.form, QPushButton, "undoSignatureButton"), Qt.MouseButton.LeftButton)
    assert len(dialog.pad.strokes) == 1
    qtbot.mouseClick(child(dialog.form, QPushButton, "redoSignatureButton"), Qt.MouseButton.LeftButton)
    assert len(dialog.pad.strokes) == 2
    qtbot.mouseClick(child(dialog.form, QPushButton, "clearSignatureButton"), Qt.MouseButton.LeftButton)
    assert dialog.pad.is_empty()
    qtbot.mouseClick(child(dialog.form, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    assert "needs the patient's signature" in child(dialog.form, QLabel, "errorLabel").text()
    assert history(archive, visit) == [] and dialog.isVisible()


def test_verbal_and_exemption_limit_the_scopes(qtbot: Any, archive: Archive, visit: int) -> None:
    dialog = open_editor(qtbot, archive, visit)
    education = child(dialog.form, QCheckBox, "scope_education")
    education.setChecked(True)
    choose_method(dialog, "verbal")
    assert not education.isEnabled() and not education.isChecked()
    choose_method(dialog, "exemption")
    assert all(child(dialog.form, QCheckBox, f"scope_clinical_{s}").isChecked()
               for s in ("referral", "second_opinion", "triage"))
    qtbot.mouseClick(child(dialog.form, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    assert "needs its reason" in child(dialog.form, QLabel, "errorLabel").text()
    qtbot.keyClicks(dialog.reason_edit, "Suspected non-accidental injury")
    qtbot.mouseClick(child(dialog.form, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    v = current(archive, visit)
    assert v is not None and v.method == "exemption" and v.exemption_reason == "Suspected non-accidental injury"


def test_consent_form_photo_is_picked_from_the_visit(qtbot: Any, archive: Archive, visit: int) -> None:
    photo = add_photo(archive, visit, "landscape_1.jpg")
    form_shot = add_photo(archive, visit, "clipboard_target.png")  # imported as "clinical" by mistake
    dialog = open_editor(qtbot, archive, visit)
    choose_method(dialog, "photographed-form")
    child(dialog.form, QCheckBox, "scope_research").setChecked(True)
    dialog.form_photos.select(form_shot)
    qtbot.mouseClick(child(dialog.form, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    v = current(archive, visit)
    assert v is not None and v.form_image_id == form_shot
    assert records.get_image(archive, form_shot).kind == "consent-form"
    assert policy.allowed(archive, photo, "research") and not policy.allowed(archive, form_shot, "research")


def test_withdrawal_dialog_deletes_only_unticked_photos(qtbot: Any, archive: Archive, visit: int,
                                                        messages: Any) -> None:
    keep = add_photo(archive, visit, "landscape_1.jpg", essential=True)
    drop = add_photo(archive, visit, "landscape_2.jpg")
    now_essential = add_photo(archive, visit, "landscape_3.jpg")
    record_consent(archive, visit, scopes=["clinical.referral", "education"], method="written-signature",
                   obtained_by="RN", signature=drawn_signature())
    editor = open_editor(qtbot, archive, visit)
    qtbot.mouseClick(child(editor.form, QPushButton, "withdrawButton"), Qt.MouseButton.LeftButton)
    dialog = editor.withdraw_dialog
    qtbot.waitExposed(dialog)
    button = child(dialog.form, QPushButton, "withdrawButton")
    assert not button.isEnabled()  # a reason first
    qtbot.keyClicks(child(dialog.form, QLineEdit, "reasonEdit"), "Patient asked")
    assert dict(dialog.essential()) == {keep: True, drop: False, now_essential: False}
    dialog.photos.items[now_essential].setCheckState(Qt.CheckState.Checked)
    child(dialog.form, QCheckBox, "deleteCheck").setChecked(True)
    assert button.text() == "Withdraw and delete 1 photo"
    assert "1 photo will be deleted" in child(dialog.form, QLabel, "summaryLabel").text()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_ is not None, timeout=10_000)  # runs in a worker

    assert {i.id for i in records.images(archive, visit_id=visit)} == {keep, now_essential}
    assert records.get_image(archive, now_essential).essential_for_care
    v = current(archive, visit)
    assert v is not None and v.withdrawn and v.withdrawn_reason == "Patient asked"
    status = child(editor.form, QLabel, "statusLabel").text()
    assert "WITHDRAWN" in status and "Deleted 1 photo" in status
    assert not child(editor.form, QPushButton, "withdrawButton").isEnabled()
    assert set(editor.form_photos.items) == {keep, now_essential}
    assert not policy.allowed(archive, keep, "clinical.referral")
    assert verify(archive) == [] and messages.entries == []


def test_withdrawal_without_deletion_keeps_all(qtbot: Any, archive: Archive, visit: int) -> None:
    photos = {add_photo(archive, visit, f"landscape_{n}.jpg") for n in (1, 2)}
    record_consent(archive, visit, scopes=["clinical.referral"], method="verbal", obtained_by="RN")
    editor = open_editor(qtbot, archive, visit)
    editor.withdraw()
    dialog = editor.withdraw_dialog
    qtbot.keyClicks(child(dialog.form, QLineEdit, "reasonEdit"), "not given")
    assert "All 2 photos are kept" in child(dialog.form, QLabel, "summaryLabel").text()
    qtbot.mouseClick(child(dialog.form, QPushButton, "withdrawButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_ is not None, timeout=10_000)
    assert {i.id for i in records.images(archive, visit_id=visit)} == photos
    assert current(archive, visit).withdrawn


def test_main_window_opens_the_editor_on_the_demo_archive(qtbot: Any, main_window: Any, open_demo: Archive) -> None:
    patient = records.find_patients(open_demo)[0]
    visit = records.visits(open_demo, patient.id)[0]
    main_window.edit_consent(visit.id)
    dialog = main_window.dialog_shown
    assert isinstance(dialog, ConsentEditorDialog) and dialog.visit_id == visit.id
    qtbot.waitExposed(dialog)
    versions = history(open_demo, visit.id)
    assert dialog.history_tree.topLevelItemCount() == len(versions)
    dialog.reject()


def test_pad_draws_with_a_finger_and_a_pen(qtbot: Any) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QPointingDevice, QTabletEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from dermarchive.gui.signature_pad import SignaturePad

    pad = SignaturePad()
    qtbot.addWidget(pad)
    pad.resize(400, 160)
    pad.show()
    qtbot.waitExposed(pad)
    finger = QTest.createTouchDevice()
    QTest.touchEvent(pad, finger).press(0, QPoint(20, 100)).commit()
    QTest.touchEvent(pad, finger).move(0, QPoint(120, 40)).commit()
    QTest.touchEvent(pad, finger).move(0, QPoint(200, 110)).commit()
    QTest.touchEvent(pad, finger).release(0, QPoint(200, 110)).commit()
    assert len(pad.strokes) == 1 and len(pad.strokes[0]) >= 3

    pen = QPointingDevice.primaryPointingDevice()
    for kind, pos, pressure in ((QTabletEvent.Type.TabletPress, (220, 60), 0.2),
                                (QTabletEvent.Type.TabletMove, (300, 120), 0.9),
                                (QTabletEvent.Type.TabletRelease, (300, 120), 0.0)):
        point = QPointF(*pos)
        event = QTabletEvent(kind, pen, point, pad.mapToGlobal(point), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier,
                             Qt.MouseButton.LeftButton if kind != QTabletEvent.Type.TabletRelease else Qt.MouseButton.NoButton,
                             Qt.MouseButton.LeftButton if kind != QTabletEvent.Type.TabletRelease else Qt.MouseButton.NoButton)
        QApplication.sendEvent(pad, event)
    assert len(pad.strokes) == 2
    pressures = [p for _x, _y, p in pad.strokes[1]]
    assert pressures[0] == pytest.approx(0.2) and max(pressures) == pytest.approx(0.9)  # the pen's pressure
    png = pad.to_png()
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.getchannel("A").getbbox() is not None
