"""Correcting the record in the app (issue 16): new/edit patient with the NHI checked as you type,
merge, move photos to a lesion or another patient (and undo), delete, edit a lesion, the audit
log viewer; actions that cannot apply are disabled and say why. Real demo archive, real dialogs
driven by keyboard and clicks; ``verify`` stays clean. Screenshots go to $CORRECTIONS_SHOTS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.gui.main_window import PAGE_PATIENT, MainWindow

SHOTS = os.environ.get("CORRECTIONS_SHOTS")


def shot(widget: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


def open_patient(window: MainWindow, qtbot: Any, row: int = 0) -> records.Patient:
    window.patient_table.selectRow(row)
    qtbot.waitUntil(lambda: window.content.currentIndex() == PAGE_PATIENT and window.patient_page.ready
                    and window.patient_page.patient is not None
                    and window.patient_page.patient.id == window.patient_model.patient_at(row).id, timeout=10_000)
    return window.patient_page.patient


def finish(qtbot: Any, dialog: Any, reason: str | None = "corrected in a test") -> None:
    if reason is not None:
        dialog.reason_edit.clear()
        qtbot.keyClicks(dialog.reason_edit, reason)
    assert dialog.ok_button.isEnabled(), dialog.status.text()
    with qtbot.waitSignal(dialog.finished, timeout=20_000):   # then the dialog is deleted (closed windows go)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_new_patient_checks_the_nhi_as_you_type(main_window: MainWindow, qtbot: Any) -> None:
    dialog = main_window.corrections.new_patient()
    qtbot.keyClicks(dialog.nhi_edit, "zzz0017")
    assert "check digit" in dialog.nhi_hint.text() and not dialog.ok_button.isEnabled()
    taken = main_window.patient_model.patient_at(0).nhi
    dialog.nhi_edit.clear()
    qtbot.keyClicks(dialog.nhi_edit, taken)
    assert "already registered" in dialog.nhi_hint.text() and not dialog.ok_button.isEnabled()
    dialog.nhi_edit.clear()
    qtbot.keyClicks(dialog.nhi_edit, "wld9413")
    assert dialog.nhi_hint.text().startswith("✓")
    assert not dialog.ok_button.isEnabled() and "family name" in dialog.status.text()
    qtbot.keyClicks(dialog.family_edit, "Ngata")
    dialog.family_edit.setText("Tūhoe-Ngata")   # QTest types ASCII only
    dialog.given_edit.setText("Ārihi")
    qtbot.keyClicks(dialog.dob_edit, "1975-04-30")
    shot(dialog, "new-patient")
    finish(qtbot, dialog, reason=None)
    patient = records.patient_by_nhi(main_window.archive, "WLD9413")
    assert (patient.family, patient.given, patient.dob) == ("Tūhoe-Ngata", "Ārihi", "1975-04-30")
    qtbot.waitUntil(lambda: main_window.patient_page.patient is not None
                    and main_window.patient_page.patient.id == patient.id, timeout=10_000)


def test_edit_and_merge_patient(main_window: MainWindow, qtbot: Any) -> None:
    archive = main_window.archive
    first = open_patient(main_window, qtbot, 0)
    dialog = main_window.corrections.edit_patient()
    dialog.family_edit.clear()
    qtbot.keyClicks(dialog.family_edit, "Corrected")
    assert not dialog.ok_button.isEnabled() and "reason" in dialog.status.text()
    shot(dialog, "edit-patient")
    finish(qtbot, dialog, "spelling of the family name")
    assert records.get_patient(archive, first.id).family == "Corrected"
    entry = archive.audit.entries(archive.catalogue, action="patient.update")[-1]
    assert entry.details == {"fields": ["family"], "reason": "spelling of the family name"}

    second_images = records.get_patient(archive, main_window.patient_model.patient_at(1).id).image_count
    dialog = main_window.corrections.merge_patient()
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.picker.search, main_window.patient_model.patient_at(1).nhi)
    dialog.picker.list.setCurrentRow(0)
    into = dialog.picker.patient_id()
    shot(dialog, "merge-patients")
    finish(qtbot, dialog, "registered twice")
    assert [p.id for p in records.find_patients(archive)].count(first.id) == 0
    assert records.get_patient(archive, into).image_count == second_images + first.image_count
    qtbot.waitUntil(lambda: main_window.patient_model.total == 2, timeout=10_000)
    assert verify(archive) == []


def test_move_to_patient_then_undo_and_move_to_lesion(main_window: MainWindow, qtbot: Any) -> None:
    archive = main_window.archive
    corrections = main_window.corrections
    patient = open_patient(main_window, qtbot, 0)
    page = main_window.patient_page
    assert not corrections.actions["move_patient"].isEnabled()
    assert corrections.actions["move_patient"].toolTip() == "Select photos in the timeline first."
    assert not corrections.actions["undo_move"].isEnabled()
    photo = next(i for i in page.timeline_model.images() if i.kind == "clinical")
    page.select_images([photo.id])
    assert corrections.actions["move_patient"].isEnabled()

    dialog = corrections.move_to_patient()
    other = main_window.patient_model.patient_at(1)
    qtbot.keyClicks(dialog.picker.search, other.nhi)
    dialog.picker.list.setCurrentRow(0)
    assert dialog.picker.patient_id() == other.id
    shot(dialog, "move-to-patient")
    finish(qtbot, dialog, "wrong patient")
    moved = records.get_image(archive, photo.id)
    assert moved.patient_id == other.id and moved.lesion_id is None
    assert records.get_visit(archive, moved.visit_id).date == photo.visit_date
    qtbot.waitUntil(lambda: corrections.actions["undo_move"].isEnabled(), timeout=5_000)

    corrections.actions["undo_move"].trigger()
    qtbot.waitUntil(lambda: records.get_image(archive, photo.id).patient_id == patient.id, timeout=10_000)
    back = records.get_image(archive, photo.id)
    assert (back.visit_id, back.lesion_id) == (photo.visit_id, photo.lesion_id)
    qtbot.waitUntil(lambda: not corrections.actions["undo_move"].isEnabled(), timeout=5_000)

    qtbot.waitUntil(lambda: page.ready and photo.id in [i.id for i in page.timeline_model.images()], timeout=10_000)
    page.select_images([photo.id])
    lesions = records.lesions(archive, patient.id)
    target = next(l for l in lesions if l.id != photo.lesion_id)
    dialog = corrections.move_to_lesion(target.id)
    assert dialog.lesion_combo.currentData() == target.id
    shot(dialog, "move-to-lesion")
    finish(qtbot, dialog, "wrong lesion")
    assert records.get_image(archive, photo.id).lesion_id == target.id
    assert verify(archive) == []


def test_delete_and_lesion_edit(main_window: MainWindow, qtbot: Any, messages: Any) -> None:
    archive = main_window.archive
    corrections = main_window.corrections
    patient = open_patient(main_window, qtbot, 0)
    page = main_window.patient_page
    photo = next(i for i in page.timeline_model.images() if i.kind == "clinical")
    page.select_images([photo.id])
    blobs_before = archive.catalogue.scalar("SELECT count(*) FROM blob")
    dialog = corrections.delete_photos()
    assert "for good" in dialog.ok_button.text()
    shot(dialog, "delete-photos")
    finish(qtbot, dialog, "duplicate")
    assert photo.id not in [i.id for i in records.images(archive, patient_id=patient.id)]
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") < blobs_before
    assert not archive.blobs.exists(photo.blob_id)

    qtbot.waitUntil(lambda: page.ready, timeout=10_000)
    assert not corrections.actions["edit_lesion"].isEnabled()
    assert corrections.actions["edit_lesion"].toolTip() == "Select a lesion in the list first."
    lesion = records.lesions(archive, patient.id)[0]
    page.select_lesion(lesion.id)
    assert corrections.actions["edit_lesion"].isEnabled()
    dialog = corrections.edit_lesion()
    dialog.site_combo.setCurrentIndex(dialog.site_combo.findData("ear"))
    dialog.laterality.setCurrentIndex(dialog.laterality.findData("left"))
    dialog.status_combo.setCurrentIndex(dialog.status_combo.findData("excised"))
    dialog.diagnosis.clear()
    qtbot.keyClicks(dialog.diagnosis, "basal cell carcinoma")
    dialog.site_combo.setCurrentIndex(dialog.site_combo.findData("scalp"))
    assert "no left or right side" in dialog.status.text() and not dialog.ok_button.isEnabled()
    dialog.site_combo.setCurrentIndex(dialog.site_combo.findData("ear"))
    qtbot.keyClicks(dialog.reason_edit, "histology report")
    shot(dialog, "edit-lesion")
    finish(qtbot, dialog, None)
    edited = records.get_lesion(archive, lesion.id)
    assert (edited.site, edited.laterality, edited.status, edited.diagnosis) == (
        "ear", "left", "excised", "basal cell carcinoma")
    assert verify(archive) == []


def test_audit_log_viewer_filters_exports_and_verifies(main_window: MainWindow, qtbot: Any, messages: Any,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = main_window.archive
    patient = open_patient(main_window, qtbot, 0)
    dialog = main_window.corrections.audit_log()
    total = dialog.model.rowCount()
    assert total > 5
    dialog.action_combo.setCurrentIndex(dialog.action_combo.findData("patient.view"))
    views = dialog.model.rowCount()
    assert 0 < views < total and {e.action for e in dialog.entries} == {"patient.view"}
    qtbot.keyClicks(dialog.patient_edit, patient.nhi)
    assert all(e.subject.get("patient") == patient.id or patient.id in e.subject.get("patients", [])
               for e in dialog.entries)
    assert dialog.entries
    dialog.since_check.setChecked(True)
    dialog.since_edit.setDate(dialog.since_edit.date().addYears(5))
    assert dialog.model.rowCount() == 0 and not dialog.export_button.isEnabled()
    dialog.since_check.setChecked(False)
    shot(dialog, "audit-log")

    out = tmp_path / "audit.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "CSV files (*.csv)"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    lines = out.read_text("utf-8").splitlines()
    assert lines[0] == "seq,at,user,action,subject,details" and len(lines) == len(dialog.entries) + 1
    assert patient.nhi not in out.read_text("utf-8") and patient.family not in out.read_text("utf-8")

    qtbot.mouseClick(dialog.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("Archive verified" in t for t in messages.texts()), timeout=30_000)
    assert archive.audit.entries(archive.catalogue, action="verify")


def test_dragging_photos_onto_a_lesion_moves_them_there(main_window: MainWindow, qtbot: Any) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    archive = main_window.archive
    patient = open_patient(main_window, qtbot, 0)
    page = main_window.patient_page
    photo = next(i for i in page.timeline_model.images() if i.kind == "clinical")
    target = next(l for l in records.lesions(archive, patient.id) if l.id != photo.lesion_id)
    page.select_images([photo.id])
    model = page.timeline_model
    mime = model.mimeData(page.timeline.selectionModel().selectedIndexes())
    row = next(r for r in range(page.lesion_model.rowCount())
               if (l := page.lesion_model.lesion_at(r)) is not None and l.id == target.id)
    centre = QPointF(page.lesion_table.visualRect(page.lesion_model.index(row, 0)).center())
    args = (Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    viewport = page.lesion_table.viewport()
    enter = QDragEnterEvent(centre.toPoint(), *args)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(centre.toPoint(), *args)
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(centre, *args))
    dialog = main_window.corrections.dialog
    assert dialog is not None and dialog.isVisible() and dialog.image_ids == [photo.id]
    assert main_window.dialog_shown is dialog, "registered: lock closes it"
    assert dialog.lesion_combo.currentData() == target.id
    finish(qtbot, dialog, "dragged onto the right lesion")
    assert records.get_image(archive, photo.id).lesion_id == target.id
    assert main_window.corrections.actions["undo_move"].isEnabled()


def test_export_dicom_to_a_usb_folder(main_window: MainWindow, qtbot: Any, messages: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import pydicom

    patient = open_patient(main_window, qtbot, 0)
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "someone else's file.txt").write_text("not empty")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(usb))
    assert main_window.corrections.actions["export_dicom"].isEnabled()
    main_window.corrections.actions["export_dicom"].trigger()
    qtbot.waitUntil(lambda: any("as DICOM" in t for t in messages.texts()), timeout=60_000)
    [folder] = [p for p in usb.iterdir() if p.is_dir()]
    assert folder.name.startswith(f"DICOM {patient.nhi} ")
    ds = pydicom.dcmread(folder / "DICOMDIR")
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "DICOMDIR"]
    assert files and ds.DirectoryRecordSequence
    assert pydicom.dcmread(files[0]).PatientID == patient.nhi


def test_toolbar_actions_say_why_they_cannot_apply(main_window: MainWindow, qtbot: Any) -> None:
    actions = main_window.actions_by_name
    for name in ("compare", "referral", "export", "consent"):
        assert not actions[name].isEnabled() and actions[name].toolTip() == "Choose a patient first."
    open_patient(main_window, qtbot, 0)
    page = main_window.patient_page
    assert actions["consent"].isEnabled()
    assert actions["compare"].toolTip() == "Select exactly two photos to compare."
    photos = [i.id for i in page.timeline_model.images()][:2]
    page.select_images(photos[:1])
    assert actions["referral"].isEnabled() and not actions["compare"].isEnabled()
    page.select_images(photos)
    assert actions["compare"].isEnabled()
    dialog = main_window.corrections.move_to_patient()   # names other patients: lock must close it
    main_window.lock("manual")
    assert not any(a.isEnabled() for a in main_window.corrections.actions.values())
    assert main_window.dialog_shown is None
    import shiboken6
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=5_000)


def test_an_unknown_valid_nhi_searched_for_can_be_added(main_window: MainWindow, qtbot: Any) -> None:
    button = main_window.corrections.add_searched
    qtbot.keyClicks(main_window.search, "zzz0017")   # not a valid NHI: nothing offered
    assert button.isHidden()
    main_window.search.clear()
    qtbot.keyClicks(main_window.search, "wld9413")
    assert not button.isHidden() and button.text() == "Add patient WLD9413…"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = main_window.corrections.dialog
    assert dialog.nhi_edit.text() == "WLD9413" and dialog.nhi_hint.text().startswith("✓")
    dialog.reject()
    main_window.search.clear()
    qtbot.keyClicks(main_window.search, main_window.patient_model.patient_at(0).nhi)
    assert button.isHidden(), "a registered NHI is found, not offered"


def test_an_empty_archive_offers_to_add_a_patient_and_import(qtbot: Any, make_archive: Any, messages: Any) -> None:
    window = MainWindow(make_archive())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    c = window.corrections
    qtbot.waitUntil(lambda: not c.add_first.isHidden() and not c.import_first.isHidden(), timeout=5_000)
    assert "no patients yet" in c.empty_hint.text()
    shot(window, "empty-archive")
    qtbot.mouseClick(c.add_first, Qt.MouseButton.LeftButton)
    dialog = c.dialog
    qtbot.keyClicks(dialog.nhi_edit, "ZZZ0016")
    qtbot.keyClicks(dialog.family_edit, "First")
    finish(qtbot, dialog, reason=None)
    qtbot.waitUntil(lambda: window.patient_model.total == 1 and c.add_first.isHidden() and c.import_first.isHidden(),
                    timeout=10_000)
    window.close()
    window.loader.pool.waitForDone(2000)


def test_a_nurse_may_refile_but_not_delete_or_merge(qtbot: Any, tmp_path: Path, corpus: Path, messages: Any) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive
    from tests.helpers import store_photo

    archive = Archive.create(tmp_path / "a", "rn.ana", "correct horse 42", kdf=CHEAP_TEST_PARAMS, role="nurse")
    patient = records.add_patient(archive, "ZZZ0016", "Ngata")
    records.add_patient(archive, "ZAC5361", "Smith")
    store_photo(archive, patient.id, corpus / "jolla.jpg")
    window = MainWindow(archive)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    window.show_patient(patient.id)
    page = window.patient_page
    qtbot.waitUntil(lambda: page.ready and bool(page.timeline_model.images()), timeout=10_000)
    page.select_images([page.timeline_model.images()[0].id])
    a = window.corrections.actions
    assert a["move_patient"].isEnabled() and a["move_lesion"].isEnabled() and a["edit_patient"].isEnabled()
    for name in ("delete_photos", "merge_patient"):
        assert not a[name].isEnabled() and a[name].toolTip() == "Only clinicians and admins may do this."
    dialog = window.corrections.edit_patient()
    assert dialog.nhi_edit.isReadOnly() and "Only clinicians and admins" in dialog.nhi_edit.toolTip()
    dialog.reject()
    window.close()
    window.loader.pool.waitForDone(2000)
    archive.close()
