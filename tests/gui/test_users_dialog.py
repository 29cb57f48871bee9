"""Tools ▸ Users…: an admin adds a user, changes a role, resets a forgotten passphrase and removes a
user (keys rotated) — on a real archive, driven through the real widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMessageBox, QPushButton

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive
from dermarchive.archive.header import Header
from dermarchive.errors import WrongPassphrase
from dermarchive.gui.users_dialog import UsersDialog

from ..conftest import USER

pytestmark = [pytest.mark.gui]


def w(dialog, cls, name):
    found = dialog.findChild(cls, name)
    assert found is not None, name
    return found


def open_dialog(qtbot, archive) -> UsersDialog:
    dialog = UsersDialog(archive, kdf=CHEAP_TEST_PARAMS)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, dialog, name):
    qtbot.mouseClick(w(dialog, QPushButton, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)


def fill(qtbot, dialog, name="", passphrase="", role=None):
    for field, text in (("nameEdit", name), ("passphraseEdit", passphrase), ("againEdit", passphrase)):
        edit = w(dialog, QLineEdit, field)
        edit.clear()
        qtbot.keyClicks(edit, text)
    if role:
        combo = w(dialog, QComboBox, "roleCombo")
        combo.setCurrentIndex(combo.findData(role))


def names(dialog):
    return [dialog.model.item(r, 0).data() for r in range(dialog.model.rowCount())]


def test_an_admin_adds_changes_resets_and_removes_users(qtbot, make_archive, tmp_path, monkeypatch):
    path = tmp_path / "clinic"
    archive = make_archive(path)
    dialog = open_dialog(qtbot, archive)
    assert names(dialog) == [USER]

    fill(qtbot, dialog, "dr.lee", "short", "clinician")
    click(qtbot, dialog, "addButton")
    assert "at least 10 characters" in w(dialog, QLabel, "statusLabel").text() and names(dialog) == [USER]
    fill(qtbot, dialog, "dr.lee", "lee passphrase 7", "clinician")
    click(qtbot, dialog, "addButton")
    assert sorted(names(dialog)) == ["dr.lee", USER]
    assert "Added dr.lee (clinician)" in w(dialog, QLabel, "statusLabel").text()

    dialog.select("dr.lee")
    w(dialog, QComboBox, "roleCombo").setCurrentIndex(w(dialog, QComboBox, "roleCombo").findData("admin"))
    click(qtbot, dialog, "roleButton")
    assert {u.name: u.role for u in archive.users()}["dr.lee"] == "admin"

    dialog.select("dr.lee")
    fill(qtbot, dialog, "dr.lee", "forgot it then 9")
    click(qtbot, dialog, "resetButton")
    header = Header.load(path)
    header.slot_for("dr.lee").open("forgot it then 9", header.archive_id)
    with pytest.raises(WrongPassphrase):
        header.slot_for("dr.lee").open("lee passphrase 7", header.archive_id)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.select("dr.lee")
    click(qtbot, dialog, "removeButton")
    assert names(dialog) == [USER]
    assert Header.load(path).users() == [USER] and archive.master.epoch == 1
    entries = [e.action for e in archive.audit.entries(archive.catalogue)]
    assert {"user.add", "user.role", "user.reset", "user.remove"} <= set(entries)
    dialog.grab().save(str(tmp_path / "users.png"))


def test_a_nurse_sees_users_but_cannot_change_them(qtbot, make_archive, tmp_path):
    path = tmp_path / "clinic"
    admin = make_archive(path)
    admin.add_user("rn.kim", "nurse", "kim passphrase 5", kdf=CHEAP_TEST_PARAMS)
    admin.close()
    with Archive.open(path, "rn.kim", "kim passphrase 5") as nurse:
        dialog = open_dialog(qtbot, nurse)
        dialog.select(USER)
        assert not any(w(dialog, QPushButton, n).isEnabled()
                       for n in ("addButton", "roleButton", "resetButton", "removeButton"))
        assert "Only an admin" in w(dialog, QLabel, "statusLabel").text()
        dialog.close()


def test_every_control_is_named_for_screen_readers(qtbot, archive):
    dialog = open_dialog(qtbot, archive)
    for cls, name in ((QLineEdit, "nameEdit"), (QLineEdit, "passphraseEdit"), (QLineEdit, "againEdit"),
                      (QComboBox, "roleCombo"), (QPushButton, "addButton"), (QPushButton, "removeButton"),
                      (QPushButton, "resetButton"), (QPushButton, "roleButton")):
        assert w(dialog, cls, name).accessibleName(), name
    assert w(dialog, QLineEdit, "passphraseEdit").echoMode() == QLineEdit.EchoMode.Password


def test_the_main_window_opens_users_from_the_tools_menu(main_window, qtbot):
    main_window.actions_by_name["users"].trigger()
    qtbot.waitUntil(lambda: isinstance(getattr(main_window, "dialog_shown", None), UsersDialog), timeout=5000)
    main_window.dialog_shown.close()


def test_an_admin_acknowledges_a_rolled_back_catalogue_from_the_users_page(qtbot, make_archive, tmp_path,
                                                                           monkeypatch):
    import shutil

    from dermarchive.archive import records
    path = tmp_path / "clinic"
    make_archive(path).close()
    shutil.copy(path / "catalogue.db", tmp_path / "older.db")
    with Archive.open(path, USER, "correct horse 42") as a:
        records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    shutil.copy(tmp_path / "older.db", path / "catalogue.db")
    with Archive.open(path, USER, "correct horse 42") as a:
        dialog = open_dialog(qtbot, a)
        label = w(dialog, QLabel, "anchorLabel")
        assert label.isVisible() and "The audit log is missing entries 2 to" in label.text()
        assert not w(dialog, QPushButton, "addButton").isEnabled()
        dialog.grab().save(str(tmp_path / "users-anchor.png"))
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        qtbot.mouseClick(w(dialog, QPushButton, "acknowledgeButton"), Qt.MouseButton.LeftButton)
        assert a.writable and not label.isVisible() and w(dialog, QPushButton, "addButton").isEnabled()
        assert [e.user for e in a.audit.entries(a.catalogue, action="audit.acknowledge")] == [USER]
        dialog.close()
