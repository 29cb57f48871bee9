"""The "Create referral…" dialog under pytest-qt: live preview, consent refusal, save with a
password, "open when saved", practice details."""

from __future__ import annotations

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from dermarchive.exports import referral
from dermarchive.gui import messages
from dermarchive.gui.referral_dialog import ReferralDialog
from dermarchive.gui.referral_letterhead import LetterheadDialog
from tests.test_referral import NHI, embedded_images, seed, text_of

pytestmark = [
    pytest.mark.gui,
    # Qt's offscreen platform says this for every top-level window with a layout; not our warning.
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def shown(monkeypatch):
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(messages, "sink", lambda parent, level, title, text: recorded.append((level, text)))
    return recorded


@pytest.fixture
def opened(monkeypatch):
    urls: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: urls.append(url.toLocalFile()) or True))
    return urls


def open_dialog(qtbot, archive, patient_id, image_ids) -> ReferralDialog:
    dialog = ReferralDialog(archive, patient_id, image_ids)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def wait_for_preview(qtbot, dialog: ReferralDialog) -> None:
    qtbot.waitUntil(lambda: dialog._preview_job is None and dialog._timer.remainingTime() < 0, timeout=20000)


def test_preview_follows_the_fields_and_save_writes_encrypted_pdf(qtbot, archive, corpus, tmp_path, shown, opened,
                                                                   monkeypatch):
    s = seed(archive, corpus, ("landscape_6.jpg", "iphone_hdr_NO.jpg"))
    dialog = open_dialog(qtbot, archive, s.patient_id, s.image_ids)
    wait_for_preview(qtbot, dialog)
    assert dialog.preview.has_page
    assert dialog.pages_label.text().startswith("Page 1 of 1")
    photos = dialog.findChild(QLabel, "photosLabel").text()
    assert "2 photos will be attached" in photos

    qtbot.keyClicks(dialog.findChild(QPlainTextEdit, "toEdit"), "Dr A. Specialist, Dermatology Service")
    qtbot.keyClicks(dialog.findChild(QPlainTextEdit, "questionEdit"), "Melanoma? Please assess and excise.")
    dialog.urgency_combo.setCurrentIndex(dialog.urgency_combo.findData("urgent"))
    dialog.password_group.setChecked(True)
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordEdit"), "harbour-lights-7")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordRepeatEdit"), "harbour-lights-7")
    wait_for_preview(qtbot, dialog)
    assert dialog.preview.has_page

    out = tmp_path / "sent" / "referral"  # no suffix: the dialog adds .pdf
    out.parent.mkdir()
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (asked.append(a) or str(out), "PDF documents (*.pdf)")))
    with qtbot.waitSignal(dialog.saved, timeout=20000) as saved:
        qtbot.mouseClick(dialog.findChild(QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    pdf = out.with_suffix(".pdf")
    assert saved.args[0]["path"] == str(pdf) and saved.args[0]["encrypted"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert opened == [str(pdf)]  # "Open when saved" is on by default
    reader = PdfReader(pdf)
    assert reader.is_encrypted and reader.decrypt("harbour-lights-7")
    text = text_of(reader)
    assert "Melanoma? Please assess and excise." in text and "URGENT" in text and NHI in text
    assert len(embedded_images(reader)) == 2
    assert not [m for m in shown if m[0] == "error"]


def test_missing_question_and_password_mismatch_are_said_before_asking_where(qtbot, archive, corpus, monkeypatch,
                                                                             shown, opened):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    dialog = open_dialog(qtbot, archive, s.patient_id, s.image_ids)
    called = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: called.append(a) or ("", "")))
    qtbot.keyClicks(dialog.findChild(QPlainTextEdit, "toEdit"), "Dr B")
    dialog.password_group.setChecked(True)
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordEdit"), "secret-one")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordRepeatEdit"), "secret-two")
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    status = dialog.findChild(QLabel, "statusLabel").text()
    assert "Write the clinical question." in status and "The two PDF passwords differ." in status
    assert called == []
    wait_for_preview(qtbot, dialog)
    dialog.reject()


def test_unconsented_photos_are_named_and_save_is_disabled(qtbot, archive, corpus, tmp_path, shown, opened):
    ok = seed(archive, corpus, ("landscape_1.jpg",))
    bad = seed(archive, corpus, ("landscape_2.jpg",), scopes=("clinical.documentation",), label="L2")
    dialog = open_dialog(qtbot, archive, ok.patient_id, ok.image_ids + bad.image_ids)
    photos = dialog.findChild(QLabel, "photosLabel").text()
    assert f"image {bad.image_ids[0]} lacks 'clinical.referral'" in photos
    assert f"image {ok.image_ids[0]} " not in photos
    assert not dialog.save_btn.isEnabled()
    assert not dialog.preview.has_page and "No preview" in dialog.preview.text()
    assert list(tmp_path.glob("**/*.pdf")) == []
    dialog.reject()


def test_practice_details_dialog_updates_the_letterhead(qtbot, archive, shown):
    d = LetterheadDialog(archive)
    qtbot.addWidget(d)
    d.show()
    qtbot.keyClicks(d.name_edit, "Harbourside Skin Clinic")
    d.address_edit.setPlainText("12 Quay St\nAuckland 1010")
    qtbot.keyClicks(d.phone_edit, "09 555 0199")
    qtbot.mouseClick(d.save_btn, Qt.MouseButton.LeftButton)
    assert d.result() == QDialog.DialogCode.Accepted
    lh = referral.letterhead(archive)
    assert (lh.name, lh.address, lh.phone) == ("Harbourside Skin Clinic", "12 Quay St\nAuckland 1010", "09 555 0199")


def test_closing_mid_preview_keeps_nothing(qtbot, archive, corpus):
    s = seed(archive, corpus, ("iphone_hdr_NO.jpg", "HMD_Nokia_8.3_5G.jpg", "jolla.jpg"))
    dialog = open_dialog(qtbot, archive, s.patient_id, s.image_ids)
    job = dialog._preview_job
    assert job is not None  # the first preview starts at once
    dialog.reject()  # as the main window does when the archive locks
    assert job.finished.is_set()  # cancelled and waited for: nothing runs on after the lock
    assert dialog._closed and dialog._photo_cache == {} and not dialog.preview.has_page
    qtbot.wait(50)


def test_closing_mid_save_waits_for_the_save(qtbot, archive, corpus, tmp_path, monkeypatch, shown, opened):
    s = seed(archive, corpus, ("iphone_hdr_NO.jpg", "HMD_Nokia_8.3_5G.jpg", "jolla.jpg"))
    dialog = open_dialog(qtbot, archive, s.patient_id, s.image_ids)
    wait_for_preview(qtbot, dialog)
    dialog.to_edit.setPlainText("Dr B")
    dialog.question_edit.setPlainText("Excise?")
    out = tmp_path / "r.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    dialog._timer.stop()
    dialog.save_btn.click()
    job = dialog._save_job
    assert job is not None
    dialog.reject()
    assert job.finished.is_set()
    qtbot.wait(50)
    # either cancelled before writing, or written whole and audited: never half a file
    exported = archive.audit.entries(archive.catalogue, action="export")
    assert out.exists() == bool(exported)
    if out.exists():
        assert len(embedded_images(PdfReader(out))) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_the_referral_is_signed_by_the_users_profile_and_named_for_the_patient(qtbot, archive, corpus, tmp_path,
                                                                                shown, monkeypatch):
    from datetime import date

    from PySide6.QtCore import QStandardPaths

    from dermarchive.archive import records
    from dermarchive.gui.profile_dialog import ProfileDialog

    s = seed(archive, corpus, ("landscape_6.jpg",))
    profile = ProfileDialog(archive)
    qtbot.addWidget(profile)
    qtbot.keyClicks(profile.name_edit, "Jane Smith")
    qtbot.keyClicks(profile.title_edit, "Dr")
    qtbot.keyClicks(profile.registration_edit, "MCNZ 12345")
    assert profile.sample.text() == "Referrals will say: Referred by Dr Jane Smith (registration MCNZ 12345)"
    profile.save_button.click()
    assert profile.result() == QDialog.DialogCode.Accepted
    entry = archive.audit.entries(archive.catalogue, action="user.profile")[-1]
    assert entry.details == {"changed": ["full_name", "registration", "title"]} and "Jane" not in str(entry.details)

    dialog = open_dialog(qtbot, archive, s.patient_id, s.image_ids)
    assert dialog.referrer_edit.text() == "Dr Jane Smith (registration MCNZ 12345)"
    path = dialog.default_path()
    lesion = records.get_lesion(archive, records.get_image(archive, s.image_ids[0]).lesion_id).label
    assert path.name == f"Referral {NHI} {date.today().isoformat()} {lesion}.pdf"
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    assert str(path.parent) == documents
    wait_for_preview(qtbot, dialog)
    qtbot.keyClicks(dialog.findChild(QPlainTextEdit, "toEdit"), "Dermatology Service")
    qtbot.keyClicks(dialog.findChild(QPlainTextEdit, "questionEdit"), "Please assess.")
    wait_for_preview(qtbot, dialog)
    out = tmp_path / "letter.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: False))  # no PDF viewer
    with qtbot.waitSignal(dialog.saved, timeout=20000):
        qtbot.mouseClick(dialog.findChild(QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    [(level, text)] = [m for m in shown if "Referral saved to" in m[1]]
    assert level == "warning" and "could not be opened" in text and str(out) in text
    letter = text_of(PdfReader(out))
    assert "Referred by Dr Jane Smith (registration MCNZ 12345)" in letter
    assert "FROM\nDr Jane Smith (registration MCNZ 12345)" in letter
