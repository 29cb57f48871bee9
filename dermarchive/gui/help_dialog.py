"""Help ▸ User guide and Help ▸ Troubleshooting: short local pages in a QTextBrowser.

The pages are HTML files in ``resources/help/`` (shipped in the bundle with the other resources;
no network, no browser). Troubleshooting shows the app's real log folder
(:func:`dermarchive.paths.log_dir`). Links between the pages open in the same window.

    UserGuideDialog(parent).open()
"""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..paths import log_dir
from ..workflows.changes import NOTHING
from .forms import fit_to_screen, resource_path

PAGES = {"user-guide.html": "DermArchive user guide", "troubleshooting.html": "DermArchive troubleshooting"}


def page_html(name: str) -> str:
    """A help page's HTML, with the live values (the log folder) filled in."""
    text = resource_path("help", name).read_text("utf-8")
    return text.replace("{log_folder}", html.escape(str(log_dir())))


class HelpDialog(QDialog):
    """One help page; its links to the other page switch pages, ``#anchors`` scroll."""
    changes = NOTHING  # what the main window re-reads when this closes

    first_page = "user-guide.html"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("helpBrowser")
        self.browser.setOpenLinks(False)  # pages are filled in here, anchors handled below
        self.browser.anchorClicked.connect(self._follow)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAccessibleName("Close help")
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.page = ""
        self.show_page(self.first_page)
        fit_to_screen(self, 760, 640)

    def show_page(self, name: str, anchor: str = "") -> None:
        self.page = name
        self.setWindowTitle(PAGES[name])
        self.browser.setAccessibleName(PAGES[name])
        self.browser.setHtml(page_html(name))
        if anchor:
            self.browser.scrollToAnchor(anchor)

    def _follow(self, url: QUrl) -> None:
        name = url.path() or self.page
        if name in PAGES:
            self.show_page(name, url.fragment())


class UserGuideDialog(HelpDialog):
    first_page = "user-guide.html"


class TroubleshootingDialog(HelpDialog):
    first_page = "troubleshooting.html"
