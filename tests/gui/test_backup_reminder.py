"""The status bar tells when the archive was last backed up, and warns once that is overdue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from dermarchive.backup import create as backup
from dermarchive.gui.main_window import MainWindow


def test_status_bar_warns_until_a_backup_is_made(main_window: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    status = main_window.backup_status
    assert status.isVisible()
    assert "never been backed up" in status.text() and "Back up now" in status.text()
    assert status.property("overdue") is True
    backup.backup(main_window.archive, tmp_path / "usb", create=True)
    main_window.refresh()
    assert status.text().startswith("Last backup:") and "(today)" in status.text()
    assert status.property("overdue") is False
    main_window.lock("manual")
    assert not status.isVisible()  # nothing about the archive shows while it is locked


def test_clicking_the_reminder_opens_the_backup_dialog(main_window: MainWindow, qtbot: Any) -> None:
    qtbot.mouseClick(main_window.backup_status, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: main_window.dialog_shown is not None, timeout=5_000)
    assert type(main_window.dialog_shown).__name__ == "BackupDialog"
    main_window.dialog_shown.close()
