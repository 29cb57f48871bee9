"""Point 6 of issue 22: the backup folder can be typed, the recent archives say when each was last
opened, creating an archive shows the passphrase's strength and can show what was typed, and a
wrong passphrase is a typing matter, not "Nothing was changed"."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QCheckBox, QLineEdit, QProgressBar, QPushButton

from dermarchive.archive.keys import passphrase_strength
from dermarchive.backup import create as backup_core
from dermarchive.gui import settings
from dermarchive.gui.words import day_text

pytestmark = pytest.mark.gui


def test_backup_folder_can_be_typed(qtbot: Any, archive: Any, tmp_path: Path) -> None:
    from dermarchive.gui.backup_dialog import BackupDialog

    dialog = BackupDialog(archive)
    qtbot.addWidget(dialog)
    dialog.show()
    edit = dialog.findChild(QLineEdit, "destinationEdit")
    assert not edit.isReadOnly()
    target = tmp_path / "usb" / "backups"
    edit.setFocus()
    qtbot.keyClicks(edit, str(target))
    assert dialog.backup_button.isEnabled()
    edit.editingFinished.emit()
    assert backup_core.backup_destination(archive) == target
    dialog.reject()


def test_recent_archives_say_when_each_was_last_opened(qtbot: Any, demo_archive: Any) -> None:
    from dermarchive.gui.start_screen import StartScreen

    settings.add_recent(demo_archive.path)
    screen = StartScreen()
    qtbot.addWidget(screen)
    assert settings.last_opened(demo_archive.path) == date.today().isoformat()
    assert f"last opened {day_text(date.today().isoformat())}" in screen.recent.item(0).text()


def test_create_archive_shows_strength_and_can_show_the_passphrase(qtbot: Any) -> None:
    from dermarchive.gui.start_screen import CreateArchiveDialog

    dialog = CreateArchiveDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    bar = dialog.findChild(QProgressBar, "strengthBar")
    qtbot.keyClicks(dialog.passphrase, "aaaaaaaaa1")
    weak = bar.value()
    assert bar.text().lower().startswith("weak")
    dialog.passphrase.clear()
    qtbot.keyClicks(dialog.passphrase, "Kereru flew over 3 green hills at dawn!")
    assert bar.value() > weak and "strong" in bar.text().lower()
    assert dialog.passphrase.echoMode() == QLineEdit.EchoMode.Password
    dialog.findChild(QCheckBox, "showPassphraseCheck").setChecked(True)
    assert dialog.passphrase.echoMode() == dialog.repeat.echoMode() == QLineEdit.EchoMode.Normal
    dialog.findChild(QCheckBox, "showPassphraseCheck").setChecked(False)
    assert dialog.passphrase.echoMode() == QLineEdit.EchoMode.Password


def test_strength_words() -> None:
    assert passphrase_strength("")[1] == "weak"
    assert passphrase_strength("aaaaaaaaaaaaaaaaaaaa1")[0] == 0  # long but one letter repeated
    assert passphrase_strength("correct horse battery staple 42")[0] >= 2


def test_wrong_passphrase_is_not_nothing_was_changed(qtbot: Any, demo_archive: Any) -> None:
    from dermarchive.gui.unlock import UnlockPanel

    panel = UnlockPanel(demo_archive.path, user=demo_archive.user)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.keyClicks(panel.passphrase, "not the passphrase 1")
    panel.findChild(QPushButton, "unlockButton").click()
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=20_000)
    text = panel.error.text()
    assert "Nothing was changed" not in text and "not the passphrase" in text and "Caps Lock" in text
