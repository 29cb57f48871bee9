"""Loading Designer forms from ``ui/`` — the one place it is done (QUiLoader at run time).

``load_form("unlock_dialog", parent)`` returns the form's top widget; child widgets are found by
their ``objectName`` with :func:`child` (tests find them the same way). Dynamic widgets (thumbnail
grid, viewer, signature pad) are Python classes placed into placeholder widgets of the form.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QFile, QIODevice, Qt
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QVBoxLayout, QWidget

T = TypeVar("T")


def project_dir(name: str) -> Path:
    """``ui`` or ``resources``: beside the package in a checkout, or inside a PyInstaller bundle."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return base / name


def ui_path(name: str) -> Path:
    return project_dir("ui") / f"{name}.ui"


def resource_path(*parts: str) -> Path:
    return project_dir("resources").joinpath(*parts)


def load_form(name: str, parent: QWidget | None = None) -> QWidget:
    path = ui_path(name)
    f = QFile(str(path))
    if not f.open(QIODevice.OpenModeFlag.ReadOnly):
        raise FileNotFoundError(f"Designer form missing: {path}")
    try:
        widget = QUiLoader().load(f, parent)
    finally:
        f.close()
    if widget is None:
        raise RuntimeError(f"Designer form could not be loaded: {path}")
    return widget


def dialog_form(dialog: QWidget, name: str, margins: tuple[int, int, int, int] = (18, 18, 18, 14), *,
                scrolls: bool = False) -> QWidget:
    """Load form ``name`` as the whole content of ``dialog`` (its one layout, with margins).
    ``scrolls``: a tall form scrolls inside the dialog instead of making it taller than a
    laptop's screen (large text, 1280×720)."""
    form = load_form(name, dialog)
    layout = QVBoxLayout(dialog)
    if not scrolls:
        layout.setContentsMargins(*margins)
        layout.addWidget(form)
        return form
    layout.setContentsMargins(0, 0, 0, 0)
    area = QScrollArea(dialog)
    area.setObjectName(f"{name}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the controls inside are the Tab stops
    holder = QWidget()
    holder.setObjectName("scrolledForm")  # the dialog's background (style.qss)
    inner = QVBoxLayout(holder)
    inner.setContentsMargins(*margins)
    inner.addWidget(form)
    area.setWidget(holder)
    layout.addWidget(area)
    return form


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Open at ``width`` × ``height``, or smaller on a small screen: a 1366×768 laptop must still
    show the window's buttons."""
    room = window.screen().availableGeometry()
    window.resize(min(width, int(room.width() * 0.94)), min(height, int(room.height() * 0.92)))


def child(parent: QWidget, cls: type[T], name: str) -> T:
    found = parent.findChild(cls, name)
    if found is None:
        raise LookupError(f"form has no {cls.__name__} named {name!r}")
    return found


def place(placeholder: QWidget, widget: QWidget) -> QWidget:
    """Put a Python-built widget into an empty placeholder widget of a form."""
    layout: QLayout | None = placeholder.layout()
    if layout is None:
        layout = QVBoxLayout(placeholder)
        layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    return widget
