"""Help ▸ About shows the versions a support call needs, read from the running components."""

from __future__ import annotations

import platform

import pillow_heif
import pytest
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QTableWidget
from sqlcipher3 import dbapi2

from dermarchive import __version__
from dermarchive.gui.about_dialog import AboutDialog, app_icon

pytestmark = pytest.mark.gui  # offscreen-platform noise is ignored by tests/gui/conftest.py


def table_rows(dialog: AboutDialog) -> dict[str, str]:
    table = dialog.findChild(QTableWidget, "componentsTable")
    assert table is not None
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


@pytest.fixture
def dialog(qtbot) -> AboutDialog:
    d = AboutDialog()
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def test_shows_app_version_and_component_versions(dialog: AboutDialog) -> None:
    assert dialog.findChild(QLabel, "versionLabel").text() == f"Version {__version__}"
    rows = table_rows(dialog)
    # Each checked against the component itself, not against our own helper.
    conn = dbapi2.connect(":memory:")
    cipher = conn.execute("PRAGMA cipher_version").fetchone()[0]
    conn.close()
    assert rows["SQLCipher"] == cipher and cipher.startswith("4.")
    assert rows["Qt"].startswith(qVersion())
    assert rows["Python"].startswith(platform.python_version())
    assert rows["libheif"] == pillow_heif.libheif_version()
    assert not [k for k, v in rows.items() if v.startswith("not available")]


def test_every_row_is_visible_without_scrolling(dialog: AboutDialog) -> None:
    table = dialog.findChild(QTableWidget, "componentsTable")
    last = table.rowCount() - 1
    bottom = table.rowViewportPosition(last) + table.rowHeight(last)
    assert table.rowCount() >= 10
    assert bottom <= table.viewport().height()


def test_copy_details_puts_the_versions_on_the_clipboard(dialog: AboutDialog, qtbot) -> None:
    QApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    assert f"DermArchive             {__version__}" in text
    assert table_rows(dialog)["SQLCipher"] in text
    assert "Platform" in text
    assert dialog.copy_button.text() == "Copied"


def test_close_button_closes(dialog: AboutDialog, qtbot) -> None:
    dialog.close_btn.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_app_icon_renders_at_desktop_sizes(qtbot) -> None:
    icon = app_icon()
    assert not icon.isNull()
    for size in (16, 48, 256):
        image = icon.pixmap(size, size).toImage()
        assert image.width() == size
        # The tile is opaque blue in the middle of the left edge, transparent in the corner.
        assert image.pixelColor(size // 10 + 1, size // 2).blue() > 120
        assert image.pixelColor(0, 0).alpha() == 0
