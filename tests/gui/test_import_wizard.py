"""The import wizard driven like a nurse would, on copies of real phone photos from the corpus,
with the archive checked afterwards (real SQLCipher archive, real encryption, real files)."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import piexif
import pytest
from PIL import Image
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDateEdit, QLabel, QLineEdit, QListWidget, QPushButton,
                               QRadioButton, QTableView)

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.consent import records as consent_records
from dermarchive.gui.import_wizard import ImportWizard, run_pages, source
from dermarchive.gui.import_wizard.review import C_CONSENT, C_FILE, C_LOCATION, C_REASON
from dermarchive.gui.import_wizard.wizard import (PAGE_CONSENT, PAGE_FINISH, PAGE_IMPORT, PAGE_LOCATION,
                                                  PAGE_ORGANISE, PAGE_PATIENT, PAGE_REVIEW, PAGE_SOURCE)
from dermarchive.ingest import scan
from tests.test_faults import needs_root, small_mount  # noqa: F401 - the real small-disk fixture

pytestmark = pytest.mark.gui

GPS = ("iphone_hdr_NO.jpg", "pug.heic")            # real phone photos that record a location
PLAIN = ("jolla.jpg", "Apple iPhone 4S.jpg")          # real phone photos without one
BAD = ("corrupted.heic", "note.txt")                  # cannot be used / not a photo


def open_wizard(qtbot: Any, archive: Any, **kwargs: Any) -> ImportWizard:
    wizard = ImportWizard(archive, **kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def press_next(qtbot: Any, wizard: ImportWizard, expect: int, timeout: int = 60_000) -> None:
    if wizard.currentId() == PAGE_ORGANISE and expect != PAGE_ORGANISE:
        confirm_file_dates(wizard)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == expect, timeout=timeout)


def confirm_file_dates(wizard: ImportWizard) -> None:
    """What the nurse does for each visit the camera gave no date: select a photo of it and set
    the date shown (the file's day) — the wizard does not go on before."""
    page = wizard.organise
    assert page.model is not None
    for visit in page.undated_visits():
        row = next(r for r, e in enumerate(page.model.entries) if page.model.photo(r).visit == visit)
        organise_rows(wizard, page.model.entries[row].rel)
        page.w(QPushButton, "setVisitDateButton").click()
    assert page.undated_visits() == [] and page.isComplete()


def read_folder(qtbot: Any, wizard: ImportWizard, folder: Path) -> None:
    edit = wizard.source.w(QLineEdit, "folderEdit")
    edit.clear()
    qtbot.keyClicks(edit, str(folder))
    press_next(qtbot, wizard, PAGE_REVIEW)


def review_row(wizard: ImportWizard, name: str) -> int:
    model = wizard.review.model
    assert model is not None
    return model.row_of[name]


def choose_patient(qtbot: Any, wizard: ImportWizard, nhi: str) -> None:
    page = wizard.patient
    qtbot.keyClicks(page.w(QLineEdit, "patientSearch"), nhi)
    results = page.w(QListWidget, "patientList")
    assert results.count() == 1 and nhi in results.item(0).text()
    press_next(qtbot, wizard, PAGE_ORGANISE)


def organise_rows(wizard: ImportWizard, *names: str) -> None:
    page = wizard.organise
    assert page.model is not None
    table = page.w(QTableView, "organiseTable")
    table.clearSelection()
    for row, entry in enumerate(page.model.entries):
        if entry.rel in names:
            table.selectionModel().select(page.model.index(row, 0), table.selectionModel().SelectionFlag.Select |
                                          table.selectionModel().SelectionFlag.Rows)


def pick(combo: QComboBox, data: Any) -> None:
    """Choose an entry the way a click does (``activated`` is what the page listens to)."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def run_import_page(qtbot: Any, wizard: ImportWizard) -> None:
    press_next(qtbot, wizard, PAGE_IMPORT)
    qtbot.waitUntil(lambda: wizard.importing.finished, timeout=120_000)


def gps_of(archive: Any, image: records.ImageRecord) -> dict[Any, Any]:
    data = records.image_bytes(archive, image)
    exif = Image.open(io.BytesIO(data)).info.get("exif")
    return piexif.load(exif).get("GPS", {}) if exif else {}


def test_whole_wizard_imports_real_phone_photos(qtbot: Any, archive: Any, corpus_copy: Any, messages: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    phone = corpus_copy(*GPS, *PLAIN, *BAD)
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha", "1984-03-02")
    records.add_lesion(archive, patient.id, "L1", site="forearm", laterality="left")
    wizard = open_wizard(qtbot, archive)

    # 1. Source → 2. Review: what was found, with reasons and badges
    read_folder(qtbot, wizard, phone)
    review = wizard.review
    model = review.model
    assert model is not None
    assert model.plan.counts() == {"new": 4, "already-imported": 0, "duplicate": 0, "skipped": 1, "rejected": 1}
    assert "cannot be used" in review.w(QLabel, "reviewSummary").text()
    bad = model.index(review_row(wizard, "corrupted.heic"), C_REASON).data()
    assert bad and "corrupted.heic" not in bad  # a reason in words, not just the name
    located = [model.index(review_row(wizard, n), C_LOCATION).data() for n in GPS]
    assert located == ["Has location", "Has location"]
    qtbot.waitUntil(lambda: len(wizard.thumbs) == 4, timeout=60_000)  # grid thumbnails decoded off-thread
    assert not wizard.thumbs["pug.heic"].isNull()
    # large preview on click
    review.show_preview(review_row(wizard, "jolla.jpg"))
    qtbot.waitUntil(lambda: review.w(QLabel, "previewLabel").pixmap() is not None
                    and not review.w(QLabel, "previewLabel").pixmap().isNull(), timeout=30_000)
    # leave one photo out, and mark the photographed consent form
    model.setData(model.index(review_row(wizard, "Apple iPhone 4S.jpg"), C_FILE), Qt.CheckState.Unchecked.value,
                  Qt.ItemDataRole.CheckStateRole)
    table = review.w(QTableView, "fileTable")
    table.selectRow(review_row(wizard, "jolla.jpg"))
    review.w(QPushButton, "markConsentButton").click()
    assert model.index(review_row(wizard, "jolla.jpg"), C_CONSENT).data(Qt.ItemDataRole.CheckStateRole) == \
        Qt.CheckState.Checked
    assert "3 photos of 4 new will be imported" in review.w(QLabel, "reviewSummary").text()

    # 3. Patient by NHI
    press_next(qtbot, wizard, PAGE_PATIENT)
    choose_patient(qtbot, wizard, "ZZZ0016")

    # 4. Organise: one visit; a new lesion with site and side; an existing lesion; a note
    page = wizard.organise
    assert page.model is not None and len(page.model.entries) == 3
    assert len(page.model.dates) == 3  # 2014, 2015 and 2023: three capture sessions suggested
    page.w(type(page.gap), "gapSpin").setValue(720)
    page.w(QPushButton, "regroupButton").click()
    organise_rows(wizard, "iphone_hdr_NO.jpg", "jolla.jpg")
    pick(page.w(QComboBox, "visitCombo"), 0)
    organise_rows(wizard, "pug.heic")
    pick(page.w(QComboBox, "visitCombo"), 0)
    assert len(page.model.dates) == 1
    organise_rows(wizard, "iphone_hdr_NO.jpg")
    qtbot.keyClicks(page.w(QLineEdit, "lesionLabelEdit"), "Back mole")
    pick(page.w(QComboBox, "siteCombo"), "back")
    pick(page.w(QComboBox, "lateralityCombo"), "right")
    qtbot.keyClicks(page.w(QLineEdit, "siteTextEdit"), "below scapula")
    page.w(QPushButton, "addLesionButton").click()
    organise_rows(wizard, "pug.heic")
    pick(page.w(QComboBox, "lesionCombo"), "L1")
    pick(page.w(QComboBox, "kindCombo"), "dermoscopic")
    qtbot.keyClicks(page.w(QLineEdit, "notesEdit"), "after cryotherapy")
    page.w(QPushButton, "applyNotesButton").click()

    # 5. Consent: the photographed form (pre-chosen because a photo is marked), with education
    press_next(qtbot, wizard, PAGE_CONSENT)
    consent = wizard.consent
    assert consent.w(QComboBox, "methodCombo").currentData() == "photographed-form"
    consent.scope_checks["education"].setChecked(True)

    # 6. Location: counted and removed by default
    press_next(qtbot, wizard, PAGE_LOCATION)
    assert "2 of the 3 photos" in wizard.location.w(QLabel, "locationSummary").text()
    assert not wizard.location.w(QCheckBox, "keepLocationCheck").isChecked()

    # 7. Import
    run_import_page(qtbot, wizard)
    assert "3 photos imported" in wizard.importing.w(QLabel, "importSummary").text()
    assert messages.texts("error") == []

    # the archive afterwards
    images = records.images(archive, patient_id=patient.id)
    assert len(images) == 3
    assert len({i.visit_id for i in images}) == 1
    visit_id = images[0].visit_id
    by_kind = {i.kind: i for i in images}
    assert set(by_kind) == {"clinical", "consent-form", "dermoscopic"}
    lesions = {l.label: l for l in records.lesions(archive, patient.id)}
    assert lesions["Back mole"].site == "back" and lesions["Back mole"].laterality == "right"
    assert lesions["Back mole"].site_text == "below scapula"
    assert by_kind["clinical"].lesion_id == lesions["Back mole"].id
    assert by_kind["dermoscopic"].lesion_id == lesions["L1"].id
    assert by_kind["dermoscopic"].notes == "after cryotherapy"
    assert by_kind["consent-form"].lesion_id is None
    current = consent_records.current(archive, visit_id)
    assert current is not None and current.method == "photographed-form"
    assert current.form_image_id == by_kind["consent-form"].id
    assert "education" in current.scopes and current.obtained_by == archive.user.name
    for image in images:  # no location kept: neither in the catalogue nor in the stored bytes
        assert not image.location_kept
        assert gps_of(archive, image) == {}
    assert sum(i.had_location for i in images) == 2

    # 8. Finish: originals stay unless asked, and only after the confirmation names the count
    press_next(qtbot, wizard, PAGE_FINISH)
    remove = wizard.finish.w(QPushButton, "removeOriginalsButton")
    assert "3 originals" in remove.text()
    asked: list[str] = []
    answers = iter([False, True])

    def confirm(_parent: Any, _title: str, text: str) -> bool:
        asked.append(text)
        return next(answers)

    monkeypatch.setattr(run_pages, "confirm", confirm)
    remove.click()
    assert sorted(p.name for p in phone.iterdir()) == sorted([*GPS, *PLAIN, *BAD])  # declined: all kept
    remove.click()
    qtbot.waitUntil(lambda: wizard.finish.job is None and bool(wizard.finish.removed), timeout=30_000)
    assert all("Remove 3 original photos" in text for text in asked)
    left = sorted(p.name for p in phone.iterdir())
    assert left == sorted(["Apple iPhone 4S.jpg", *BAD])  # the one left out, and the unusable files
    assert wizard.finish.w(QLabel, "removeStatus").text() == \
        "Removed 3 originals from the phone folder: iphone_hdr_NO.jpg, jolla.jpg, pug.heic."
    wizard.accept()
    assert verify(archive) == []


def test_stopping_the_import_leaves_a_consistent_archive(qtbot: Any, archive: Any, corpus_copy: Any,
                                                         messages: Any) -> None:
    names = [f"landscape_{n}.jpg" for n in range(1, 9)]
    phone = corpus_copy(*names)
    patient = records.add_patient(archive, "ZAC5361", "Example", "Ben")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    press_next(qtbot, wizard, PAGE_REVIEW)
    wizard.choices.workers = 1  # at most 2 photos in flight, whatever the machine: the stop lands mid-import
    press_next(qtbot, wizard, PAGE_PATIENT)
    assert "ZAC5361" in wizard.patient.w(QLabel, "patientChoice").text()  # pre-selected
    press_next(qtbot, wizard, PAGE_ORGANISE)
    press_next(qtbot, wizard, PAGE_CONSENT)
    press_next(qtbot, wizard, PAGE_LOCATION)
    wizard.next()
    assert wizard.currentId() == PAGE_IMPORT
    wizard.importing.w(QPushButton, "cancelImportButton").click()  # before the first photo is done
    qtbot.waitUntil(lambda: wizard.importing.finished, timeout=60_000)
    outcome = wizard.outcome
    assert outcome is not None and outcome.result.cancelled
    imported = outcome.count("imported")
    assert 0 < imported < len(names)
    assert outcome.count("cancelled") == len(names) - imported
    assert "Import stopped" in wizard.importing.w(QLabel, "importStatus").text()
    assert len(records.images(archive, patient_id=patient.id)) == imported
    for visit in records.visits(archive, patient.id):  # what was imported has its consent
        current = consent_records.current(archive, visit.id)
        assert current is not None and current.method == "verbal"
    assert verify(archive) == []
    # a second run imports the rest exactly once
    again = scan(phone, archive)
    assert again.counts()["already-imported"] == imported and again.counts()["new"] == len(names) - imported
    wizard.reject()


def test_no_consent_needs_a_reason_and_is_audited(qtbot: Any, archive: Any, corpus_copy: Any,
                                                  messages: Any) -> None:
    phone = corpus_copy("67-0_length_string.jpg", "noexif.jpg")
    records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone)
    press_next(qtbot, wizard, PAGE_REVIEW)
    press_next(qtbot, wizard, PAGE_PATIENT)

    # a new patient: the NHI is checked as it is typed, a duplicate is offered as the existing patient
    page = wizard.patient
    page.w(QRadioButton, "newPatientRadio").setChecked(True)
    nhi = page.w(QLineEdit, "nhiEdit")
    qtbot.keyClicks(nhi, "ZZZ0017")
    assert "check digit" in page.w(QLabel, "nhiStatus").text()
    nhi.clear()
    qtbot.keyClicks(nhi, "zzz0016")
    assert "Already in the archive" in page.w(QLabel, "nhiStatus").text()
    assert page.w(QPushButton, "useExistingButton").isVisibleTo(page)
    assert not page.isComplete()
    nhi.clear()
    qtbot.keyClicks(nhi, "ZZZ0024")
    assert page.w(QLabel, "nhiStatus").text() == "Valid NHI number."
    qtbot.keyClicks(page.w(QLineEdit, "familyEdit"), "Newpatient")
    qtbot.keyClicks(page.w(QLineEdit, "givenEdit"), "Mere")
    page.w(QCheckBox, "dobUnknownCheck").setChecked(True)
    assert page.isComplete()
    press_next(qtbot, wizard, PAGE_ORGANISE)
    assert records.find_patients(archive, "ZZZ0024") == []  # created only when the import starts
    press_next(qtbot, wizard, PAGE_CONSENT)

    consent = wizard.consent
    assert not consent.w(QRadioButton, "existingConsentRadio").isEnabled()  # a new patient has no visits
    consent.w(QRadioButton, "noConsentRadio").setChecked(True)
    wizard.next()
    assert wizard.currentId() == PAGE_CONSENT
    assert any("needs a reason" in t for t in messages.texts("error"))
    qtbot.keyClicks(consent.w(QLineEdit, "noConsentReasonEdit"), "patient sedated; consent at follow-up")
    press_next(qtbot, wizard, PAGE_LOCATION)

    # keeping a location needs an explicit choice and a reason
    location = wizard.location
    location.w(QCheckBox, "keepLocationCheck").setChecked(True)
    wizard.next()
    assert wizard.currentId() == PAGE_LOCATION
    assert any("needs a reason" in t for t in messages.texts("warning"))
    qtbot.keyClicks(location.w(QLineEdit, "locationReasonEdit"), "home visit wound check")
    run_import_page(qtbot, wizard)

    patient = records.patient_by_nhi(archive, "ZZZ0024")
    assert (patient.family, patient.given, patient.dob) == ("Newpatient", "Mere", None)
    images = records.images(archive, patient_id=patient.id)
    assert len(images) == 2
    assert [i.location_kept for i in images if i.had_location] == [True]
    visits = {i.visit_id for i in images}
    assert all(consent_records.current(archive, v) is None for v in visits)
    entry = archive.audit.entries(archive.catalogue, action="consent.none")[-1]
    assert entry.details["reason"] == "patient sedated; consent at follow-up"
    assert sorted(entry.subject["visits"]) == sorted(visits)
    kept = archive.audit.entries(archive.catalogue, action="image.import")[-1]
    assert kept.details["location_kept"] == 1
    assert "Newpatient" not in json.dumps(kept.details) and "ZZZ0024" not in json.dumps(entry.as_json())
    # the finish page says so and opens the consent editor for the new visit, to record it later
    press_next(qtbot, wizard, PAGE_FINISH)
    assert "1 new visit has no consent recorded" in wizard.finish.w(QLabel, "consentSummary").text()
    wizard.finish.w(QPushButton, "openConsentButton").click()
    editor = wizard.finish.consent_dialog
    assert editor is not None and editor.isVisible() and editor.visit_id in visits
    editor.reject()
    wizard.accept()
    assert verify(archive) == []


def test_folder_problems_get_a_plain_message(qtbot: Any, archive: Any, tmp_path: Path, messages: Any) -> None:
    wizard = open_wizard(qtbot, archive, folder=tmp_path / "gone")
    wizard.next()
    qtbot.waitUntil(lambda: wizard.source.job is None and bool(messages.entries), timeout=10_000)
    assert wizard.currentId() == PAGE_SOURCE
    assert "does not exist" in messages.texts("error")[0]
    assert "Nothing was imported" in wizard.source.w(QLabel, "scanStatus").text()
    wizard.reject()


def test_recent_and_suggested_folders(qtbot: Any, archive: Any, corpus_copy: Any, tmp_path: Path,
                                      messages: Any) -> None:
    phone = corpus_copy("noexif.jpg")
    wizard = open_wizard(qtbot, archive, folder=phone)
    press_next(qtbot, wizard, PAGE_REVIEW)
    wizard.reject()
    assert source.recent_folders() == [phone.resolve()]
    again = open_wizard(qtbot, archive)
    places = again.source.w(QListWidget, "placesList")
    assert places.count() >= 1 and str(phone.resolve()) in places.item(0).text()
    places.itemClicked.emit(places.item(0))
    assert again.source.w(QLineEdit, "folderEdit").text() == str(phone.resolve())
    again.reject()
    home = tmp_path / "home"
    (home / "Dropbox" / "Camera Uploads").mkdir(parents=True)
    (home / "Pictures").mkdir()
    found = {label: path for label, path in source.suggested_folders(home)}
    assert found["Dropbox camera uploads"] == home / "Dropbox" / "Camera Uploads"
    assert found["Pictures"] == home / "Pictures"
    assert "iCloud Drive" not in found


def drive_to_import(qtbot: Any, wizard: ImportWizard, patient_id: int | None = None) -> None:
    """Source → … → Import with the defaults (the patient pre-selected, verbal consent)."""
    press_next(qtbot, wizard, PAGE_REVIEW)
    press_next(qtbot, wizard, PAGE_PATIENT)
    press_next(qtbot, wizard, PAGE_ORGANISE)
    press_next(qtbot, wizard, PAGE_CONSENT)
    press_next(qtbot, wizard, PAGE_LOCATION)


def test_a_photo_removed_after_the_scan_is_reported_not_imported(qtbot: Any, archive: Any, corpus_copy: Any,
                                                                  messages: Any) -> None:
    phone = corpus_copy("noexif.jpg", "noapp01.jpg")
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    drive_to_import(qtbot, wizard)
    (phone / "noapp01.jpg").unlink()  # the phone's sync deleted it meanwhile
    run_import_page(qtbot, wizard)
    problems = wizard.importing.w(QListWidget, "problemList")
    assert problems.count() == 1 and problems.item(0).text().startswith("noapp01.jpg: it can no longer be read")
    assert "1 photo could not be used" in wizard.importing.w(QLabel, "importSummary").text()
    assert len(records.images(archive, patient_id=patient.id)) == 1
    assert verify(archive) == []
    wizard.accept()


@needs_root
def test_full_disk_gets_a_plain_message_and_the_archive_stays_consistent(qtbot: Any, make_archive: Any,
                                                                         small_mount: Path, corpus_copy: Any,
                                                                         messages: Any) -> None:
    from tests.conftest import PASSPHRASE, USER

    archive = make_archive(small_mount / "arch")  # a real 3 MiB disk: three phone photos do not fit
    phone = corpus_copy("iphone_hdr_NO.jpg", "HMD_Nokia_8.3_5G.jpg", "jolla.jpg", "Apple iPhone 4S.jpg")
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    drive_to_import(qtbot, wizard)
    run_import_page(qtbot, wizard)
    said = " ".join(messages.texts())
    assert "disk is full" in said
    assert not any(f.name.startswith(".tmp-") for f in (small_mount / "arch").rglob("*"))
    imported = len(records.images(archive, patient_id=patient.id))
    assert imported < 4
    wizard.reject()
    archive.close()
    with type(archive).open(small_mount / "arch", USER, PASSPHRASE) as again:
        assert len(records.images(again, patient_id=patient.id)) == imported
        assert verify(again) == []


def test_locking_the_window_during_an_import_stops_it_safely(qtbot: Any, main_window: Any, demo_archive: Any,
                                                              corpus_copy: Any, messages: Any) -> None:
    phone = corpus_copy(*[f"landscape_{n}.jpg" for n in range(1, 9)])
    main_window.import_photos()  # File ▸ Import photos… opens the wizard
    wizard = main_window.dialog_shown
    assert isinstance(wizard, ImportWizard) and wizard.isVisible()
    patient_id = records.find_patients(main_window.archive)[0].id
    wizard.source.w(QLineEdit, "folderEdit").setText(str(phone))
    wizard.patient.preselect = patient_id
    drive_to_import(qtbot, wizard)
    wizard.next()
    assert wizard.currentId() == PAGE_IMPORT and wizard.importing.job is not None
    main_window.lock("idle")  # the idle lock fires mid-import
    assert wizard.importing.job is None or wizard.importing.job.finished.is_set()
    assert not wizard.isVisible()
    qtbot.wait(200)  # the stopped job reports back after the lock; nothing may touch the closed archive
    assert messages.texts("error") == []
    with demo_archive.open() as again:
        assert verify(again) == []
        imported = records.images(again, patient_id=patient_id)
        assert len({i.id for i in imported}) == len(imported)


def test_photos_can_join_an_earlier_visit_that_has_consent(qtbot: Any, archive: Any, corpus_copy: Any,
                                                           messages: Any) -> None:
    phone = corpus_copy("noexif.jpg", "exif_gps.jpg")
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    earlier = records.add_visit(archive, patient.id, "2026-01-05")
    consent_records.record_consent(archive, earlier, scopes=["clinical.documentation", "clinical.referral"],
                                   method="verbal", obtained_by="Dr Rangi")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    press_next(qtbot, wizard, PAGE_REVIEW)
    press_next(qtbot, wizard, PAGE_PATIENT)
    press_next(qtbot, wizard, PAGE_ORGANISE)
    press_next(qtbot, wizard, PAGE_CONSENT)
    page = wizard.consent
    radio = page.w(QRadioButton, "existingConsentRadio")
    assert radio.isEnabled()
    combo = page.w(QComboBox, "existingVisitCombo")
    assert combo.count() == 1 and "5 Jan 2026" in combo.itemText(0) and "Referral" in combo.itemText(0)
    radio.setChecked(True)
    press_next(qtbot, wizard, PAGE_LOCATION)
    run_import_page(qtbot, wizard)
    assert messages.entries == []
    assert "added to the earlier visit of 5 Jan 2026" in wizard.importing.w(QLabel, "importSummary").text()
    images = records.images(archive, patient_id=patient.id)
    assert len(images) == 2 and {i.visit_id for i in images} == {earlier}
    assert [v.id for v in records.visits(archive, patient.id)] == [earlier]
    assert len(consent_records.history(archive, earlier)) == 1  # the consent already there covers them
    wizard.accept()


def test_stopping_the_folder_scan_stays_on_the_first_page(qtbot: Any, archive: Any, corpus_copy: Any,
                                                          messages: Any) -> None:
    phone = corpus_copy(*[f"landscape_{n}.jpg" for n in range(1, 9)])
    wizard = open_wizard(qtbot, archive, folder=phone)
    wizard.next()
    page = wizard.source
    assert page.job is not None and not page.isComplete()  # Next is greyed out while reading
    page.w(QPushButton, "cancelScanButton").click()
    qtbot.waitUntil(lambda: page.job is None, timeout=30_000)
    assert wizard.currentId() == PAGE_SOURCE and wizard.plan is None
    assert "Reading stopped" in page.w(QLabel, "scanStatus").text()
    assert messages.entries == []  # the nurse stopped it: no error box
    press_next(qtbot, wizard, PAGE_REVIEW)  # and reading again works
    wizard.reject()


def test_a_visit_without_camera_dates_gets_the_date_the_nurse_sets(qtbot: Any, archive: Any, corpus_copy: Any,
                                                                   messages: Any) -> None:
    # Forwarded photos carry no EXIF date: the file time is when they were saved, not taken.
    phone = corpus_copy("noexif.jpg", "67-0_length_string.jpg")
    saved = datetime(2024, 6, 30, 18, 0).timestamp()
    for name in ("noexif.jpg", "67-0_length_string.jpg"):
        os.utime(phone / name, (saved, saved))
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    press_next(qtbot, wizard, PAGE_REVIEW)
    press_next(qtbot, wizard, PAGE_PATIENT)
    press_next(qtbot, wizard, PAGE_ORGANISE)
    page = wizard.organise
    assert page.model is not None
    assert "30 Jun 2024 (file time: check)" in page.w(QLabel, "visitSummary").text()
    assert "camera recorded no date for visit 1" in page.w(QLabel, "visitSummary").text()
    assert not page.isComplete()
    assert not wizard.button(wizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    assert wizard.currentId() == PAGE_ORGANISE, "a visit dated by file time stops the wizard"
    assert "camera recorded no date for visit 1" in messages.texts("info")[-1]
    messages.entries.clear()
    organise_rows(wizard, "noexif.jpg")  # one photo selected: its whole visit gets the date
    page.w(QDateEdit, "visitDateEdit").setDate(QDate(2024, 6, 12))
    page.w(QPushButton, "setVisitDateButton").click()
    summary = page.w(QLabel, "visitSummary").text()
    assert "12 Jun 2024 (set by you)" in summary and "file time" not in summary
    assert page.w(QDateEdit, "visitDateEdit").maximumDate() == QDate.currentDate()  # no future visits
    press_next(qtbot, wizard, PAGE_CONSENT)
    press_next(qtbot, wizard, PAGE_LOCATION)
    run_import_page(qtbot, wizard)
    assert messages.entries == []
    assert [(v.date, v.image_count) for v in records.visits(archive, patient.id)] == [("2024-06-12", 2)]
    wizard.accept()


def test_removing_originals_takes_the_phones_second_copy_of_a_photo_too(qtbot: Any, archive: Any, corpus_copy: Any,
                                                                        messages: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    phone = corpus_copy("jolla.jpg", "Apple iPhone 4S.jpg")
    (phone / "jolla (1).jpg").write_bytes((phone / "jolla.jpg").read_bytes())  # saved twice by the phone
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    wizard = open_wizard(qtbot, archive, folder=phone, patient_id=patient.id)
    for page in (PAGE_REVIEW, PAGE_PATIENT, PAGE_ORGANISE, PAGE_CONSENT, PAGE_LOCATION):
        press_next(qtbot, wizard, page)
    run_import_page(qtbot, wizard)
    press_next(qtbot, wizard, PAGE_FINISH)
    remove = wizard.finish.w(QPushButton, "removeOriginalsButton")
    assert "3 originals" in remove.text()  # two photos, one of them with a second copy
    monkeypatch.setattr(run_pages, "confirm", lambda *_args: True)
    remove.click()
    qtbot.waitUntil(lambda: wizard.finish.job is None and bool(wizard.finish.removed), timeout=30_000)
    assert list(phone.iterdir()) == []
    assert len(records.images(archive, patient_id=patient.id)) == 2
    wizard.accept()
