"""Contrast (issue 22, WCAG 2.2 AA): every text colour of the style sheet against its background,
and the colours the code paints with (gui/colours.py), computed from the colours themselves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette

from dermarchive.gui import colours

STYLE = Path(__file__).resolve().parents[2] / "resources" / "style.qss"
HEX = r"#[0-9a-fA-F]{6}"


def rules() -> list[tuple[str, dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", STYLE.read_text(), flags=re.S)
    out = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", text):
        props = {k.strip(): v.strip() for k, v in (p.split(":", 1) for p in body.split(";") if ":" in p)}
        out.append((" ".join(selector.split()), props))
    return out


def test_every_text_colour_of_the_style_sheet_reads_on_its_background() -> None:
    failing = []
    checked = 0
    for selector, props in rules():
        fg = props.get("color")
        if not fg or not re.fullmatch(HEX, fg):
            continue
        own = props.get("background") or props.get("background-color")
        backgrounds = [own] if own and re.fullmatch(HEX, own) else [colours.WHITE, colours.WINDOW]
        for bg in backgrounds:
            checked += 1
            if colours.contrast(fg, bg) < 4.5:
                failing.append(f"{selector}: {fg} on {bg} = {colours.contrast(fg, bg):.2f}:1")
    assert checked > 15
    assert failing == []


def test_disabled_text_in_the_style_sheet_is_the_readable_colour() -> None:
    disabled = {sel: props["color"] for sel, props in rules() if ":disabled" in sel and "color" in props}
    assert disabled, "the style sheet says nothing about disabled text"
    assert set(disabled.values()) == {colours.DISABLED_TEXT}
    assert colours.contrast(colours.DISABLED_TEXT, colours.WHITE) >= 4.5


@pytest.mark.parametrize("fg,bg,minimum,what", colours.PAIRS, ids=[p[3] for p in colours.PAIRS])
def test_named_colours_meet_their_ratio(fg: str, bg: str, minimum: float, what: str) -> None:
    assert colours.contrast(fg, bg) >= minimum, f"{what}: {colours.contrast(fg, bg):.2f}:1"


def test_the_ratio_is_wcags() -> None:  # the reference values WCAG's own examples give
    assert colours.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert colours.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert colours.contrast("#9aa5ad", "#ffffff") == pytest.approx(2.51, abs=0.01)  # the figure


def test_the_app_palette_makes_placeholders_and_disabled_text_readable(qapp: object) -> None:
    from PySide6.QtWidgets import QApplication

    palette = colours.readable_palette(QApplication.style().standardPalette())
    base = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Base).name()
    placeholder = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText).name()
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
    window = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window).name()
    assert colours.contrast(placeholder, base) >= 4.5
    assert colours.contrast(disabled, colours.WINDOW) >= 4.5 and colours.contrast(disabled, window) >= 4.5


def test_the_code_paints_with_the_named_colours_not_the_old_faint_ones() -> None:
    gui = Path(colours.__file__).parent
    faint = {"#9aa5ad", "#c9d3da"}
    found = [f"{p.name}: {c}" for p in gui.rglob("*.py") if p.name != "colours.py"
             for c in faint if c in p.read_text().lower()]
    assert found == []
