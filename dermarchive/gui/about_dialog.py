"""Help ▸ About: the app's version and the versions of what it is built from.

The core's :func:`dermarchive.versions.component_versions` supplies everything Qt-free (SQLCipher
via ``PRAGMA cipher_version`` on an in-memory connection, Python, Pillow, libheif, cryptography …);
this dialog adds the Qt and PySide6 it is running on. "Copy details" puts the same list on the
clipboard for a support request; it holds no patient data.

    AboutDialog(parent).exec()
"""

from __future__ import annotations

import PySide6
from PySide6.QtCore import QLibraryInfo, Qt, qVersion
from PySide6.QtGui import QFont, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from .. import __version__, versions
from ..workflows.changes import NOTHING
from .forms import child, dialog_form, resource_path

ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """The application icon (window title bars, task bar, this dialog): SVG plus rendered PNGs."""
    icon = QIcon()
    svg = resource_path("app-icon", "dermarchive.svg")
    if svg.exists():
        icon.addFile(str(svg))
    for size in ICON_SIZES:
        png = resource_path("app-icon", "png", f"dermarchive-{size}.png")
        if png.exists():
            icon.addFile(str(png))
    return icon


def qt_versions() -> dict[str, str]:
    """The Qt actually loaded, and the one PySide6 was built for when they differ."""
    built = QLibraryInfo.version().toString()
    running = qVersion()
    qt = running if built == running else f"{running} (PySide6 built for {built})"
    platform = QGuiApplication.platformName() or "none"
    return {"Qt": f"{qt} · {platform} platform", "PySide6": PySide6.__version__}


def all_versions() -> dict[str, str]:
    """Core components, with Qt and PySide6 after Python: the order a support person reads."""
    core = versions.component_versions()
    ordered: dict[str, str] = {}
    for name, version in core.items():
        ordered[name] = version
        if name == "Python":
            ordered.update(qt_versions())
    return ordered


class AboutDialog(QDialog):
    """Modal About box built from ``ui/about_dialog.ui``."""
    changes = NOTHING  # what the main window re-reads when this closes

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DermArchive")
        self.setWindowIcon(app_icon())
        self.form = dialog_form(self, "about_dialog")

        self.versions = all_versions()
        self.table = child(self.form, QTableWidget, "componentsTable")
        self.copy_button = child(self.form, QPushButton, "copyButton")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = child(self.form, QDialogButtonBox, "buttonBox")
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        self.close_btn = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_btn.setDefault(True)

        self._fill_header()
        self._fill_table()
        self.resize(520, self.sizeHint().height())

    def _fill_header(self) -> None:
        icon = child(self.form, QLabel, "iconLabel")
        icon.setPixmap(app_icon().pixmap(80, 80))
        title = child(self.form, QLabel, "titleLabel")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        child(self.form, QLabel, "versionLabel").setText(f"Version {__version__}")
        heading = child(self.form, QLabel, "componentsHeading")
        bold = QFont(heading.font())
        bold.setBold(True)
        heading.setFont(bold)
        child(self.form, QLabel, "platformLabel").setText(f"Running on {versions.platform_summary()}")

    def _fill_table(self) -> None:
        table = self.table
        # The app's own version is in the header already.
        shown = [(k, v) for k, v in self.versions.items() if k != "DermArchive"]
        table.setRowCount(len(shown))
        for row, (name, version) in enumerate(shown):
            for col, text in enumerate((name, version)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if version.startswith(versions.UNKNOWN):
                    item.setForeground(Qt.GlobalColor.darkRed)
                table.setItem(row, col, item)
        header = table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.resizeRowsToContents()
        # Tall enough to show every row without scrolling.
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setMinimumHeight(rows + header.sizeHint().height() + 2 * table.frameWidth())

    def details_text(self) -> str:
        """What "Copy details" puts on the clipboard."""
        return versions.as_text(self.versions) + f"\nPlatform  {versions.platform_summary()}"

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
        self.copy_button.setText("Copied")
