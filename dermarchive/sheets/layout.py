"""Where everything is on the photo consent sheet, in millimetres from the page's top-left corner.

One source for the printer (:mod:`.pdf`) and the reader (:mod:`.read`): the reader maps these
positions through the homography found from the code's corners and the four corner marks, so
moving a box here moves it in both.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..consent.scopes import PURPOSES

PAGE_W, PAGE_H = 210.0, 297.0

# Solid squares near the page corners: with the code's corners they give the page's geometry
# over the whole sheet (the code alone is too small to place boxes far from it precisely).
MARK_SIZE = 8.0
MARK_CENTRES = ((16.0, 16.0), (194.0, 16.0), (16.0, 281.0), (194.0, 281.0))

# The code: its symbol (without quiet zone) fills this square.
QR_X, QR_Y, QR_SIZE = 136.0, 24.0, 52.0

MARGIN_X = 24.0
TICK_TOP = 104.0        # first row's box top
TICK_PITCH = 14.5
TICK_BOX = 8.0
TICK_X = MARGIN_X
TICK_INSET = 1.6        # the reader samples the box inside this inset (clear of the printed frame)

SIGNATURE_LINE_Y = 244.0
SIGNATURE_X0, SIGNATURE_X1 = MARGIN_X, 124.0
SIGNATURE_ZONE_H = 18.0  # the reader looks for ink this high above the line
DATE_X0, DATE_X1 = 136.0, 186.0


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def inset(self, d: float) -> Box:
        return Box(self.x + d, self.y + d, self.w - 2 * d, self.h - 2 * d)


def tick_box(scope: str) -> Box:
    """The printed tick box of a consent scope."""
    row = PURPOSES.index(scope)
    return Box(TICK_X, TICK_TOP + row * TICK_PITCH, TICK_BOX, TICK_BOX)


def signature_zone() -> Box:
    """Where a signature's ink lies: above the signature line, clear of the line itself."""
    return Box(SIGNATURE_X0 + 1.0, SIGNATURE_LINE_Y - SIGNATURE_ZONE_H, SIGNATURE_X1 - SIGNATURE_X0 - 2.0,
               SIGNATURE_ZONE_H - 1.2)


def qr_corners() -> list[tuple[float, float]]:
    """The code symbol's corners: top-left, top-right, bottom-right, bottom-left (zxing's order)."""
    x1, y1 = QR_X + QR_SIZE, QR_Y + QR_SIZE
    return [(QR_X, QR_Y), (x1, QR_Y), (x1, y1), (QR_X, y1)]
