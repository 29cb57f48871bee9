"""Help ▸ User guide and Help ▸ Troubleshooting, opened from the real main window's Help menu."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QMenu

from dermarchive import log
from dermarchive.gui.help_dialog import HelpDialog
from dermarchive.paths import log_dir

pytestmark = pytest.mark.gui


def _help_action(window: Any, text: str) -> Any:
    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Help")
    return next(a for a in menu.actions() if a.text() == text)


def test_user_guide_from_the_help_menu_covers_the_clinic_tasks(qtbot: Any, main_window: Any) -> None:
    action = _help_action(main_window, "&User guide")
    assert action.shortcut().toString() == "F1"
    action.trigger()
    dialog = main_window.dialog_shown
    assert isinstance(dialog, HelpDialog)
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "DermArchive user guide"
    text = dialog.browser.toPlainText()
    for topic in ("Import photos from a phone folder", "Record consent", "Compare photos of a lesion",
                  "Create a referral letter", "Backup and restore", "When something fails"):
        assert topic in text
    assert dialog.browser.accessibleName() and dialog.close_button.accessibleName() == "Close help"
    # its link to Troubleshooting switches the page in place
    dialog.browser.anchorClicked.emit(QUrl("troubleshooting.html"))
    assert dialog.page == "troubleshooting.html" and "The logs" in dialog.browser.toPlainText()
    dialog.close_button.click()
    assert not dialog.isVisible()


def test_troubleshooting_names_the_real_log_folder_verify_and_restore(qtbot: Any, main_window: Any) -> None:
    _help_action(main_window, "&Troubleshooting").trigger()
    dialog = main_window.dialog_shown
    assert isinstance(dialog, HelpDialog)
    qtbot.waitExposed(dialog)
    text = dialog.browser.toPlainText()
    folder = log_dir()
    assert str(folder) in text and "{log_folder}" not in text
    assert "dermarchive verify ARCHIVE-FOLDER" in text and "Restore from a backup" in text
    # what the page calls the logs is where the app writes them
    root = logging.getLogger("dermarchive")
    level = root.level
    path = log.write_to_folder(folder)
    try:
        log.gui.info("help test line")
        assert path.parent == folder and "help test line" in path.read_text("utf-8")
    finally:
        root.setLevel(level)
        for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == str(path)]:
            root.removeHandler(handler)
            handler.close()
    dialog.close_button.click()
