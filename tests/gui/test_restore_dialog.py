"""Start screen ▸ Restore from a backup…: a clinic that lost its computer restores its backup in the GUI.

Real archives with real photos, real backups made by the core, the archive closed before the
restore (as on a new computer); the dialog is driven through its buttons and fields.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QLineEdit, QProgressDialog, QPushButton

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.archive.verify import verify
from dermarchive.backup import create as core
from dermarchive.gui import settings
from dermarchive.gui.restore_dialog import RestoreDialog
from dermarchive.gui.start_screen import StartScreen

from tests.conftest import PASSPHRASE, USER
from tests.helpers import folder_state, store_photo

pytestmark = pytest.mark.gui

KIM, KIM_PASSPHRASE = "dr.kim", "another pass 77"


class Clinic:
    """What the lost computer's archive held, and where its backup is."""

    def __init__(self, backup: Path, patients: list[Any], images: list[Any], first_photo: bytes) -> None:
        self.backup, self.patients, self.images, self.first_photo = backup, patients, images, first_photo


@pytest.fixture
def clinic(make_archive: Any, corpus: Path, tmp_path: Path) -> Clinic:
    archive = make_archive(tmp_path / "lost-computer" / "archive")
    archive.add_user(KIM, "clinician", KIM_PASSPHRASE, kdf=CHEAP_TEST_PARAMS)
    hine = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine", "1961-04-02")
    tama = records.add_patient(archive, "ZZZ0024", "Parata", "Tama")
    store_photo(archive, hine.id, corpus / "landscape_1.jpg")
    store_photo(archive, tama.id, corpus / "frame_size.mpo")
    (tmp_path / "usb").mkdir()
    dest = tmp_path / "usb" / "DermArchive backup"
    core.backup(archive, dest, create=True)
    images = records.images(archive)
    found = Clinic(dest, records.find_patients(archive), images, archive.read_blob(images[0].blob_id))
    archive.close()  # the computer is gone: nothing is open
    return found


def start_restore(qtbot: Any, monkeypatch: pytest.MonkeyPatch, backup: Path) -> tuple[StartScreen, RestoreDialog]:
    """Start screen → Restore from a backup… → Choose… the backup folder."""
    start = StartScreen()
    qtbot.addWidget(start)
    start.show()
    qtbot.waitExposed(start)
    qtbot.mouseClick(w(start, QPushButton, "restoreButton"), Qt.MouseButton.LeftButton)
    dialog = start.restore_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(backup))
    qtbot.mouseClick(w(dialog, QPushButton, "browseBackupButton"), Qt.MouseButton.LeftButton)
    return start, dialog


def w(parent: Any, cls: Any, name: str) -> Any:
    found = parent.findChild(cls, name)
    assert found is not None, name
    return found


def fill(qtbot: Any, dialog: RestoreDialog, *, user: str, passphrase: str, target: Path) -> None:
    w(dialog, QComboBox, "userCombo").setCurrentText(user)
    qtbot.keyClicks(w(dialog, QLineEdit, "passphraseEdit"), passphrase)
    w(dialog, QLineEdit, "targetEdit").clear()
    qtbot.keyClicks(w(dialog, QLineEdit, "targetEdit"), str(target))


def press_restore(qtbot: Any, dialog: RestoreDialog) -> None:
    qtbot.mouseClick(w(dialog, QPushButton, "restoreButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)


def leftovers(folder: Path) -> list[str]:
    """Hidden work folders a restore builds in before renaming into place."""
    return [p.name for p in folder.iterdir() if ".restoring-" in p.name]


def test_the_right_passphrase_restores_and_offers_to_open_the_archive(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, _isolated_state: Path) -> None:
    caplog.set_level(logging.DEBUG)
    start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    combo = w(dialog, QComboBox, "userCombo")
    assert sorted(combo.itemText(i) for i in range(combo.count())) == sorted([USER, KIM])
    info = w(dialog, QLabel, "backupInfoLabel").text()
    assert "2 photos" in info and USER in info and KIM in info
    assert w(dialog, QLineEdit, "targetEdit").text().endswith("DermArchive restored")  # a default, never used here
    restore_button = w(dialog, QPushButton, "restoreButton")
    assert not restore_button.isEnabled()  # no passphrase yet

    (tmp_path / "new-computer").mkdir()
    target = tmp_path / "new-computer" / "Clinic archive"
    fill(qtbot, dialog, user=KIM, passphrase=KIM_PASSPHRASE, target=target)
    assert restore_button.isEnabled()
    press_restore(qtbot, dialog)

    assert messages.entries == []
    status = w(dialog, QLabel, "statusLabel")
    assert status.isVisible() and "Restored the backup" in status.text() and "2 photo(s)" in status.text()
    assert w(dialog, QLineEdit, "passphraseEdit").text() == ""
    assert not restore_button.isVisible()
    open_button = w(dialog, QPushButton, "openArchiveButton")
    assert open_button.isVisible() and open_button.isEnabled()
    assert settings.recent_archives()[0] == target.resolve()
    assert leftovers(target.parent) == []

    with qtbot.waitSignal(start.openArchive, timeout=5_000) as opened:
        qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [target.absolute(), KIM, None]  # the passphrase is not handed on
    assert not dialog.isVisible()

    for user, passphrase in ((KIM, KIM_PASSPHRASE), (USER, PASSPHRASE)):
        with Archive.open(target, user, passphrase) as restored:
            assert verify(restored) == []
            assert records.find_patients(restored) == clinic.patients
            assert [(i.id, i.blob_id, i.visit_id) for i in records.images(restored)] == \
                [(i.id, i.blob_id, i.visit_id) for i in clinic.images]
            assert restored.read_blob(clinic.images[0].blob_id) == clinic.first_photo

    # The passphrase went to the core and nowhere else: not logged, not in any file written.
    secret = KIM_PASSPHRASE.encode()
    assert KIM_PASSPHRASE not in caplog.text
    for root in (tmp_path, _isolated_state):
        assert [p for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()] == []


def test_a_wrong_passphrase_says_so_and_restores_nothing(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path) -> None:
    _start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    target = tmp_path / "restored"
    fill(qtbot, dialog, user=KIM, passphrase="not the passphrase 1", target=target)
    press_restore(qtbot, dialog)

    assert messages.entries == [("error", "Restore from a backup",
                                 f"That is not the passphrase of user '{KIM}'. Check Caps Lock and the keyboard layout, "
                                 "then type it again.")]
    assert not target.exists() and leftovers(tmp_path) == []
    assert w(dialog, QLineEdit, "passphraseEdit").text() == ""  # cleared for another try
    assert dialog.isVisible() and not w(dialog, QPushButton, "openArchiveButton").isVisible()

    # Another try with the right one works from the same dialog.
    qtbot.keyClicks(w(dialog, QLineEdit, "passphraseEdit"), KIM_PASSPHRASE)
    press_restore(qtbot, dialog)
    assert len(messages.entries) == 1
    assert sorted(Archive.users_of(target)) == sorted([USER, KIM])
    assert w(dialog, QPushButton, "openArchiveButton").isVisible()


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path) -> None:
    busy = tmp_path / "Documents"
    busy.mkdir()
    (busy / "letter to the practice manager.txt").write_text("not an archive")
    before = folder_state(busy)
    _start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    fill(qtbot, dialog, user=USER, passphrase=PASSPHRASE, target=busy)
    press_restore(qtbot, dialog)

    assert messages.texts("error") == [f"{busy} is not empty. A restore goes into a new or empty folder."]
    assert folder_state(busy) == before
    assert sorted(p.name for p in busy.iterdir()) == ["letter to the practice manager.txt"]
    assert leftovers(tmp_path) == []
    assert w(dialog, QPushButton, "restoreButton").isEnabled()  # choose another folder and go again


def test_a_folder_that_is_not_a_backup_is_refused_with_a_plain_message(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path) -> None:
    photos = tmp_path / "phone photos"
    photos.mkdir()
    (photos / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff not really")
    _start, dialog = start_restore(qtbot, monkeypatch, photos)

    assert messages.texts("error") == [f"{photos} holds no DermArchive backup (no dermarchive-backup.json)."]
    assert "holds no DermArchive backup" in w(dialog, QLabel, "backupInfoLabel").text()
    assert w(dialog, QComboBox, "userCombo").count() == 0
    qtbot.keyClicks(w(dialog, QLineEdit, "passphraseEdit"), PASSPHRASE)
    assert not w(dialog, QPushButton, "restoreButton").isEnabled()
    assert sorted(p.name for p in photos.iterdir()) == ["IMG_0001.jpg"]


def test_an_altered_manifest_is_refused_and_nothing_is_restored(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path) -> None:
    manifest = clinic.backup / core.MANIFEST_NAME
    data = json.loads(manifest.read_bytes())
    data["images"] = data["images"][:1]  # someone "tidied" the backup by hand
    manifest.write_text(json.dumps(data))
    _start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    target = tmp_path / "restored"
    fill(qtbot, dialog, user=USER, passphrase=PASSPHRASE, target=target)
    press_restore(qtbot, dialog)

    [text] = messages.texts("error")
    assert "fails its authentication check" in text and "Nothing was restored" in text
    assert not target.exists() and leftovers(tmp_path) == []


def test_a_damaged_manifest_is_named_when_the_folder_is_chosen(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any) -> None:
    (clinic.backup / core.MANIFEST_NAME).write_bytes(b'{"format": "dermarchive-backup", "version": 1, "arch')
    _start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    [text] = messages.texts("error")
    assert "is damaged and cannot be read" in text
    assert not w(dialog, QPushButton, "restoreButton").isEnabled()


def test_cancel_during_the_restore_leaves_nothing_behind(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, messages: Any, tmp_path: Path) -> None:
    _start, dialog = start_restore(qtbot, monkeypatch, clinic.backup)
    target = tmp_path / "restored"
    fill(qtbot, dialog, user=USER, passphrase=PASSPHRASE, target=target)
    qtbot.mouseClick(w(dialog, QPushButton, "restoreButton"), Qt.MouseButton.LeftButton)
    progress = dialog.findChild(QProgressDialog)
    assert progress is not None
    progress.findChild(QPushButton).click()  # the progress window's Cancel
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)

    assert messages.entries == []  # the user asked for it: a line in the dialog, no alarm box
    assert w(dialog, QLabel, "statusLabel").text().endswith(
        "The restore was cancelled. Nothing was restored.</span>")
    assert not target.exists() and leftovers(tmp_path) == []
    assert w(dialog, QPushButton, "restoreButton").isEnabled()
