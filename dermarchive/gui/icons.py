"""SVG icons from ``resources/icons`` (crisp at any device pixel ratio)."""

from __future__ import annotations

import re
from functools import cache

from PySide6.QtGui import QIcon

from .forms import resource_path


@cache
def icon(name: str) -> QIcon:
    path = resource_path("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def style_sheet(text_scale: float = 1.0) -> str:
    """The style sheet, its point sizes multiplied by ``text_scale`` (the user's larger system
    text: the sheet's 10 pt base would otherwise override it)."""
    path = resource_path("style.qss")
    text = path.read_text("utf-8") if path.exists() else ""
    if text_scale == 1.0:
        return text
    return re.sub(r"(\d+(?:\.\d+)?)pt\b", lambda m: f"{float(m.group(1)) * text_scale:g}pt", text)


def text_scale_for(font_point_size: float) -> float:
    """How much larger than the sheet's 10 pt base the user's chosen font is (never smaller)."""
    return max(1.0, font_point_size / 10.0) if font_point_size > 0 else 1.0
