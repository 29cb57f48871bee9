"""The watched phone folder in the status bar, and its click opening the import wizard on it."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QLineEdit

from dermarchive.gui.import_wizard import ImportWizard
from dermarchive.gui.phone_watch import PHONE_FOLDER
from dermarchive.gui import settings
from dermarchive.ingest import watch

from ..sheet_photos import jpeg, skin_photo

pytestmark = pytest.mark.gui


def test_status_bar_counts_new_photos_and_opens_the_import(main_window: Any, qtbot: Any, tmp_path: Any,
                                                          monkeypatch: Any) -> None:
    monkeypatch.setattr(watch, "SETTLE_SECONDS", 0.0)
    folder = tmp_path / "phone"
    folder.mkdir()
    for n in range(12):
        (folder / f"IMG_{n:02d}.JPG").write_bytes(jpeg(skin_photo(n, (320, 240)), taken_at="2026-11-30T10:00:00"))
    (folder / "IMG_99.JPG").write_bytes(b"")  # still syncing
    settings.put(PHONE_FOLDER, str(folder))
    window = main_window
    window.phone_watch.set_folder(str(folder))
    button = window.phone_watch.button
    qtbot.waitUntil(lambda: button.isVisible(), timeout=30_000)
    assert button.text() == "12 new photos in the phone folder — Import… (1 still syncing)"
    assert button.accessibleName()
    assert window.actions_by_name["phone_folder"].isEnabled()
    button.click()
    wizard = window.dialog_shown
    assert isinstance(wizard, ImportWizard)
    assert wizard.source.w(QLineEdit, "folderEdit").text() == str(folder)
    wizard.reject()
    window.lock("manual")
    assert not button.isVisible()
