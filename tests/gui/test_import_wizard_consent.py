"""The import wizard's Consent step offers what the consent editor offers: notes, a signature pad
with Undo/Redo/Clear, and each scope's one-line explanation, in the editor's words. Driven like a
nurse would on copies of real phone photos (real archive, pytest-qt offscreen), then the recorded
consent is read back from the archive."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.consent import records as consent_records
from dermarchive.consent.scopes import DESCRIPTIONS, PURPOSES
from dermarchive.gui.consent_editor import ConsentEditorDialog, scope_object_name
from dermarchive.gui.forms import child, load_form
from dermarchive.gui.import_wizard.wizard import (PAGE_CONSENT, PAGE_LOCATION, PAGE_ORGANISE, PAGE_PATIENT,
                                                  PAGE_REVIEW)
from tests.gui.test_consent_editor import sign
from tests.gui.test_import_wizard import PLAIN, open_wizard, pick, press_next, run_import_page

pytestmark = pytest.mark.gui

NOTE = "Daughter interpreted; patient kept a copy of the form"
PAD_BUTTONS = ("undoSignatureButton", "redoSignatureButton", "clearSignatureButton")


def to_consent_step(qtbot: Any, archive: Any, corpus_copy: Any) -> tuple[Any, int]:
    phone = corpus_copy(*PLAIN)
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    for page in (PAGE_REVIEW, PAGE_PATIENT, PAGE_ORGANISE, PAGE_CONSENT):
        press_next(qtbot, wizard, page)
    return wizard, patient.id


def click(qtbot: Any, button: QPushButton) -> None:
    assert button.isEnabled() and button.isVisible(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_consent_step_records_notes_and_a_signature_drawn_with_undo_redo(
        qtbot: Any, archive: Any, corpus_copy: Any, messages: Any) -> None:
    wizard, patient_id = to_consent_step(qtbot, archive, corpus_copy)
    page = wizard.consent
    assert wizard.height() <= 720  # the page fits the wizard's size, it does not push it taller

    # each scope: its checkbox, with the one-line explanation right under it, shown in full
    for purpose in PURPOSES:
        check = page.w(QCheckBox, scope_object_name(purpose))
        note = page.w(QLabel, scope_object_name(purpose) + "_note")
        assert note.text() == DESCRIPTIONS[purpose]
        assert note.isVisible() and note.width() >= note.sizeHint().width()  # one line, not cut off
        assert note.parent() is check.parent() and check.geometry().bottom() < note.geometry().top()
        assert note.geometry().top() - check.geometry().bottom() < 10

    pick(page.w(QComboBox, "methodCombo"), "written-signature")
    qtbot.keyClicks(page.w(QLineEdit, "notesEdit"), NOTE)
    page.w(QCheckBox, "scope_education").setChecked(True)

    undo, redo, clear = (page.w(QPushButton, name) for name in PAD_BUTTONS)
    assert not undo.isEnabled() and not redo.isEnabled() and not clear.isEnabled()  # nothing drawn yet
    pad = page.pad
    sign(qtbot, pad, [(30, 70), (90, 30), (150, 80)])
    sign(qtbot, pad, [(170, 40), (240, 85), (300, 35)])
    assert len(pad.strokes) == 2 and undo.isEnabled() and clear.isEnabled() and not redo.isEnabled()
    first, second = [list(s) for s in pad.strokes]

    click(qtbot, undo)
    assert pad.strokes == [first] and redo.isEnabled()
    click(qtbot, redo)
    assert pad.strokes == [first, second] and not redo.isEnabled()

    # undoing every stroke leaves a blank pad, which the step refuses like the editor does
    click(qtbot, undo)
    click(qtbot, undo)
    assert pad.is_empty() and not undo.isEnabled() and not clear.isEnabled()
    wizard.next()
    assert wizard.currentId() == PAGE_CONSENT
    assert any("needs the patient's signature" in t for t in messages.texts("error"))
    click(qtbot, redo)
    click(qtbot, redo)
    assert pad.strokes == [first, second]

    # signed on paper: the pad and its buttons are off; back to the pad: on again
    paper = page.w(QCheckBox, "signedOnPaperCheck")
    paper.setChecked(True)
    assert not pad.isEnabled() and not any(page.w(QPushButton, n).isEnabled() for n in PAD_BUTTONS)
    paper.setChecked(False)
    assert pad.isEnabled() and undo.isEnabled()

    press_next(qtbot, wizard, PAGE_LOCATION)
    assert wizard.choices.consent.notes == NOTE and wizard.choices.consent.signature
    run_import_page(qtbot, wizard)
    assert len(messages.entries) == 1  # only the blank-pad refusal above

    visits = records.visits(archive, patient_id)
    assert visits and sum(v.image_count for v in visits) == len(PLAIN)
    for visit in visits:
        versions = consent_records.history(archive, visit.id)
        assert len(versions) == 1
        v = consent_records.current(archive, visit.id)
        assert v is not None and v.method == "written-signature" and v.notes == NOTE
        assert "education" in v.scopes and not v.signature_on_paper
        png = consent_records.signature_png(archive, v)
        assert png is not None
        with Image.open(io.BytesIO(png)) as img:  # both strokes, not a blank image
            ink = img.convert("RGBA").getchannel("A").getbbox()
            assert ink is not None and ink[2] - ink[0] > img.width * 250 / pad.width()  # wider than one stroke

    # the consent editor shows the same explanations, and the note the wizard recorded
    editor = ConsentEditorDialog(archive, visits[0].id)
    qtbot.addWidget(editor)
    for purpose in PURPOSES:
        assert child(editor.form, QLabel, scope_object_name(purpose) + "_note").text() == \
            page.w(QLabel, scope_object_name(purpose) + "_note").text()
    assert f"Notes: {NOTE}" in editor.history_detail.text()
    editor.reject()
    wizard.accept()
    assert verify(archive) == []


def test_consent_step_uses_the_editors_words_and_keyboard_shortcuts(qtbot: Any, archive: Any, corpus_copy: Any,
                                                           messages: Any) -> None:
    wizard, patient_id = to_consent_step(qtbot, archive, corpus_copy)
    page = wizard.consent
    editor_form = load_form("consent_editor")
    qtbot.addWidget(editor_form)
    for name in PAD_BUTTONS:  # "&Undo stroke", "&Redo stroke", "C&lear": same text, same Alt keys
        assert page.w(QPushButton, name).text() == child(editor_form, QPushButton, name).text()
    notes = page.w(QLineEdit, "notesEdit")
    assert notes.placeholderText() == child(editor_form, QLineEdit, "notesEdit").placeholderText()
    assert page.w(QLabel, "notesCaption").buddy() is notes

    # from the keyboard (Alt+N is the wizard's Next, so Notes is Alt+T here)
    wizard.activateWindow()
    qtbot.waitActive(wizard)
    method = page.w(QComboBox, "methodCombo")
    assert method.currentData() == "verbal"  # the default
    pick(method, "written-signature")
    pad = page.pad
    sign(qtbot, pad, [(30, 70), (90, 30), (150, 80)])
    sign(qtbot, pad, [(170, 40), (240, 85)])
    window = wizard.windowHandle()
    for key, strokes in ((Qt.Key.Key_U, 1), (Qt.Key.Key_R, 2), (Qt.Key.Key_L, 0), (Qt.Key.Key_R, 1)):
        QTest.keyClick(window, key, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(lambda n=strokes: len(pad.strokes) == n)  # a button's mnemonic animates a click
    QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    assert wizard.focusWidget() is notes
    qtbot.keyClicks(notes, "  phone interpreter used  ")

    # verbal consent with a note: the note reaches the record, the pad's strokes do not
    pick(method, "verbal")
    press_next(qtbot, wizard, PAGE_LOCATION)
    run_import_page(qtbot, wizard)
    assert messages.entries == []
    for visit in records.visits(archive, patient_id):
        v = consent_records.current(archive, visit.id)
        assert v is not None and v.method == "verbal" and v.notes == "phone interpreter used"
        assert consent_records.signature_png(archive, v) is None
    wizard.accept()


def test_keeping_the_photos_in_the_clinical_record_cannot_be_unticked(qtbot: Any, archive: Any,
                                                                      corpus_copy: Any, messages: Any) -> None:
    wizard, _patient = to_consent_step(qtbot, archive, corpus_copy)
    page = wizard.consent
    method = page.w(QComboBox, "methodCombo")
    for index in range(method.count()):  # whatever the method, as in the consent editor
        pick(method, method.itemData(index))
        record = page.scope_checks["clinical.documentation"]
        assert record.isChecked() and not record.isEnabled(), method.itemText(index)
        assert page.scope_checks["clinical.referral"].isEnabled() == (method.itemData(index) != "exemption")
    wizard.reject()
