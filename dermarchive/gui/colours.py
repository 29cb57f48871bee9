"""The colours the code paints with (beside ``resources/style.qss``), named once so a test can
check their contrast (WCAG 2.2 AA: text 4.5:1, lines and graphics that carry meaning 3:1).

Disabled text, placeholders and hints are still text someone has to read: they get 4.5:1 too.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

WHITE = "#ffffff"
WINDOW = "#f5f7f9"          # dialogs and the main window (style.qss)
TEXT = "#22313b"
MUTED = "#5c6770"           # secondary text: captions, scope notes, visit details (5.4:1 on WINDOW)
DISABLED_TEXT = "#5f6a73"   # was #9aa5ad (2.5:1)
PLACEHOLDER = "#5f6a73"     # was Fusion's ≈3.9:1
HINT = "#5f6a73"            # "Patient signs here" (was #9aa5ad, 2.5:1)
SEPARATOR = "#7a8791"       # the timeline's line under a visit header (was #c9d3da, 1.5:1)
PAD_BORDER = "#7a8791"      # the signature pad's outline and baseline: where to sign

# (foreground, background, minimum ratio, what) — checked by tests/gui/test_contrast.py
PAIRS = [
    (DISABLED_TEXT, WHITE, 4.5, "disabled text on a white control"),
    (DISABLED_TEXT, WINDOW, 4.5, "disabled text on a dialog (an unavailable consent scope)"),
    (PLACEHOLDER, WHITE, 4.5, "placeholder text in a field"),
    (HINT, WHITE, 4.5, "'Patient signs here' on the signature pad"),
    (MUTED, WINDOW, 4.5, "scope notes and captions"),
    (MUTED, WHITE, 4.5, "visit details in the timeline"),
    (SEPARATOR, WHITE, 3.0, "the timeline's visit separator"),
    (PAD_BORDER, WHITE, 3.0, "the signature pad's outline and baseline"),
]


def relative_luminance(colour: str) -> float:
    c = QColor(colour)

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1.0 … 21.0."""
    a, b = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_palette(palette: QPalette) -> QPalette:
    """The palette with disabled text and placeholders readable (the style sheet cannot set them)."""
    p = QPalette(palette)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_TEXT))
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor(PLACEHOLDER))
    return p
