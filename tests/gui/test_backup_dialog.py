"""The Backup… dialog: choose a folder (remembered), back up, check, repair, restore — real archive."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.backup import create as core
from dermarchive.gui import messages
from dermarchive.gui.backup_dialog import BackupDialog

from tests.conftest import PASSPHRASE, USER
from tests.helpers import store_photo

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def shown(archive, corpus):
    """A message recorder and an archive with two real photos."""
    patient = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine")
    for name in ("landscape_1.jpg", "frame_size.mpo"):
        store_photo(archive, patient.id, corpus / name)
    return archive


@pytest.fixture
def said(monkeypatch):
    got: list[tuple[str, str]] = []
    monkeypatch.setattr(messages, "sink", lambda parent, level, title, text: got.append((level, text)))
    return got


def open_dialog(qtbot, archive) -> BackupDialog:
    dialog = BackupDialog(archive)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def w(dialog, cls, name):
    found = dialog.findChild(cls, name)
    assert found is not None, name
    return found


def click_and_wait(qtbot, dialog, name):
    qtbot.mouseClick(w(dialog, QPushButton, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)


def choose_folder(monkeypatch, folder: Path):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))


def test_first_backup_from_the_dialog_is_remembered_and_clears_the_reminder(qtbot, shown, said, monkeypatch, tmp_path):
    archive = shown
    dialog = open_dialog(qtbot, archive)
    assert w(dialog, QLabel, "lastBackupLabel").text() == "This archive has never been backed up."
    assert w(dialog, QLabel, "overdueLabel").isVisible()
    assert not w(dialog, QPushButton, "backupButton").isEnabled()  # no folder yet

    usb = tmp_path / "usb"
    usb.mkdir()
    choose_folder(monkeypatch, usb)
    qtbot.mouseClick(w(dialog, QPushButton, "browseButton"), Qt.MouseButton.LeftButton)
    assert w(dialog, QLineEdit, "destinationEdit").text() == str(usb)
    assert archive.setting("backup.destination") == str(usb)

    click_and_wait(qtbot, dialog, "backupButton")
    assert said == []
    assert "Backed up 2 photo(s)" in w(dialog, QPlainTextEdit, "resultText").toPlainText()
    assert w(dialog, QLabel, "lastBackupLabel").text().endswith("(today).")
    assert not w(dialog, QLabel, "overdueLabel").isVisible()
    assert core.verify_backup(usb, passphrase=PASSPHRASE).ok

    dialog.close()
    again = open_dialog(qtbot, archive)
    assert w(again, QLineEdit, "destinationEdit").text() == str(usb)
    assert w(again, QPushButton, "backupButton").isEnabled()


def test_check_finds_damage_and_back_up_and_repair_fixes_it(qtbot, shown, said, tmp_path):
    archive = shown
    dest = tmp_path / "backup"
    core.backup(archive, dest, create=True)
    image = records.images(archive)[0]
    victim = dest / "blobs" / image.preview_blob_id[:2] / image.preview_blob_id
    data = bytearray(victim.read_bytes())
    data[100] ^= 1
    victim.write_bytes(bytes(data))

    dialog = open_dialog(qtbot, archive)
    click_and_wait(qtbot, dialog, "verifyButton")
    text = w(dialog, QPlainTextEdit, "resultText").toPlainText()
    assert f"image {image.id} (preview): damaged at the backup" in text
    button = w(dialog, QPushButton, "backupButton")
    assert button.text() == "Back Up and Repair"

    click_and_wait(qtbot, dialog, "backupButton")
    assert "Replaced 1 damaged file(s)" in w(dialog, QPlainTextEdit, "resultText").toPlainText()
    assert button.text() == "Back Up Now"
    click_and_wait(qtbot, dialog, "verifyButton")
    assert "every file decrypts" in w(dialog, QPlainTextEdit, "resultText").toPlainText()
    assert said == []


def test_restore_drill_into_an_empty_folder(qtbot, shown, said, monkeypatch, tmp_path):
    archive = shown
    core.backup(archive, tmp_path / "backup", create=True)
    dialog = open_dialog(qtbot, archive)
    target = tmp_path / "drill"
    target.mkdir()
    choose_folder(monkeypatch, target)
    click_and_wait(qtbot, dialog, "restoreButton")
    assert said and said[-1][0] == "info" and "Restored the backup" in said[-1][1]
    drill = archive.audit.entries(archive.catalogue, action="restore")
    assert len(drill) == 1 and drill[0].details["drill"] is True and drill[0].details["images"] == 2
    with Archive.open(target, USER, PASSPHRASE) as restored:
        assert len(records.images(restored)) == 2 and verify(restored) == []


def test_another_archives_backup_is_refused_with_a_message(qtbot, shown, said, make_archive, tmp_path):
    archive = shown
    other = make_archive(tmp_path / "other")
    core.backup(other, tmp_path / "their-backup", create=True)
    with archive.transaction() as tx:
        archive.set_setting(tx, "backup.destination", str(tmp_path / "their-backup"))
    dialog = open_dialog(qtbot, archive)
    click_and_wait(qtbot, dialog, "backupButton")
    assert said and said[-1][0] == "error" and "backup of another archive" in said[-1][1]
    assert w(dialog, QPushButton, "backupButton").isEnabled()
    assert core.last_backup(archive) is None
    assert verify(archive) == []


def test_reminder_days_are_a_setting(qtbot, shown, said, tmp_path):
    archive = shown
    dialog = open_dialog(qtbot, archive)
    spin = w(dialog, QSpinBox, "reminderSpin")
    assert spin.value() == 7
    spin.setValue(14)
    assert core.reminder_days(archive) == 14
