"""The body map: front and back figures, the body site under each point, and lesion pins.

One geometry serves every face: ``resources/bodymap/front.svg`` and ``back.svg`` are written from
it (:func:`figure_svg`; a test checks the files match), the GUI draws those files and asks
:func:`site_at` what a click lands on, and the referral PDF draws the same polygons with reportlab.

Coordinates are in a 200 × 440 box (x right, y down), then stored as fractions of it. The front
figure faces the viewer (the patient's right is on the viewer's left); the back figure is seen
from behind (the patient's right is on the viewer's right). Regions are drawn for the viewer's left
half and mirrored; a region of a paired site gets its laterality from the half it lies in.
Placing a pin sets the lesion's coded site (a key of :mod:`~dermarchive.archive.bodysites`, which
the DICOM codes module maps to SNOMED CT) and laterality, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, NotFound
from . import bodysites
from .header import now_iso

WIDTH, HEIGHT = 200.0, 440.0
VIEWS = ("front", "back")
Point = tuple[float, float]


@dataclass(frozen=True)
class Region:
    view: str
    site: str            # bodysites key
    laterality: str      # '', 'left', 'right'
    points: tuple[Point, ...]


# Left half of each figure (viewer's left, x ≤ 100); mirrored for the right half.
_HALF: dict[str, list[tuple[str, list[Point]]]] = {
    "front": [
        ("ear", [(72, 30), (77, 29), (78, 48), (73, 47)]),
        ("face", [(78, 26), (100, 24), (100, 66), (90, 64), (81, 54)]),
        ("neck", [(88, 64), (100, 66), (100, 82), (84, 82)]),
        ("shoulder", [(84, 82), (70, 84), (56, 92), (54, 104), (70, 102)]),
        ("chest", [(70, 102), (84, 82), (100, 82), (100, 142), (70, 142)]),
        ("abdomen", [(70, 142), (100, 142), (100, 200), (74, 200), (70, 176)]),
        ("upper-arm", [(54, 104), (70, 102), (70, 118), (64, 172), (48, 170)]),
        ("forearm", [(48, 170), (64, 172), (58, 236), (42, 234)]),
        ("palm", [(42, 234), (58, 236), (58, 262), (50, 278), (38, 270), (38, 250)]),
        ("thigh", [(74, 200), (92, 200), (99, 222), (98, 316), (78, 316), (72, 250)]),
        ("lower-leg", [(78, 316), (98, 316), (96, 398), (82, 398)]),
        ("foot", [(82, 398), (96, 398), (98, 420), (76, 424), (74, 416)]),
    ],
    "back": [
        ("ear", [(72, 30), (77, 29), (78, 48), (73, 47)]),
        ("neck", [(88, 62), (100, 62), (100, 82), (84, 82)]),
        ("shoulder", [(84, 82), (70, 84), (56, 92), (54, 104), (70, 102)]),
        ("back", [(70, 102), (84, 82), (100, 82), (100, 196), (72, 196), (70, 176)]),
        ("buttock", [(72, 196), (100, 196), (100, 236), (74, 240)]),
        ("upper-arm", [(54, 104), (70, 102), (70, 118), (64, 172), (48, 170)]),
        ("forearm", [(48, 170), (64, 172), (58, 236), (42, 234)]),
        ("hand", [(42, 234), (58, 236), (58, 262), (50, 278), (38, 270), (38, 250)]),
        ("thigh", [(74, 240), (100, 236), (99, 240), (98, 316), (78, 316), (72, 250)]),
        ("lower-leg", [(78, 316), (98, 316), (96, 398), (82, 398)]),
        ("sole", [(82, 398), (96, 398), (97, 418), (80, 420)]),
    ],
}
# Regions on the midline that are not paired (drawn whole, no laterality).
_WHOLE: dict[str, list[tuple[str, list[Point]]]] = {
    "front": [
        ("scalp", [(78, 26), (80, 14), (90, 6), (100, 4), (110, 6), (120, 14), (122, 26), (100, 24)]),
        ("genital", [(92, 200), (108, 200), (101, 222), (99, 222)]),
    ],
    "back": [
        ("scalp", [(78, 26), (80, 14), (90, 6), (100, 4), (110, 6), (120, 14), (122, 26), (122, 48),
                   (112, 62), (100, 62), (88, 62), (78, 48)]),
    ],
}


def _mirror(points: list[Point]) -> tuple[Point, ...]:
    return tuple((WIDTH - x, y) for x, y in reversed(points))


def _side(view: str, viewer_left: bool) -> str:
    # front: the viewer's left is the patient's right; back: the viewer's left is the patient's left
    return ("right" if viewer_left else "left") if view == "front" else ("left" if viewer_left else "right")


def _regions() -> tuple[Region, ...]:
    out: list[Region] = []
    for view in VIEWS:
        for site, pts in _WHOLE[view]:
            out.append(Region(view, site, "", tuple(pts)))
        for site, pts in _HALF[view]:
            lateral = bodysites.BY_KEY[site].lateral
            out.append(Region(view, site, _side(view, True) if lateral else "", tuple(pts)))
            out.append(Region(view, site, _side(view, False) if lateral else "", _mirror(pts)))
    return tuple(out)


REGIONS = _regions()


def regions(view: str) -> list[Region]:
    return [r for r in REGIONS if r.view == view]


def _inside(x: float, y: float, pts: tuple[Point, ...]) -> bool:
    """Ray casting: is (x, y) inside the polygon (box units)?"""
    inside = False
    j = len(pts) - 1
    for i, (xi, yi) in enumerate(pts):
        xj, yj = pts[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def site_at(view: str, fx: float, fy: float) -> Region | None:
    """The region under a point given as fractions (0–1) of the figure's box, or None (off the body)."""
    if view not in VIEWS:
        raise InvalidInput(f"A body map view is 'front' or 'back' (got '{view}').")
    x, y = fx * WIDTH, fy * HEIGHT
    return next((r for r in regions(view) if _inside(x, y, r.points)), None)


def centre(region: Region) -> tuple[float, float]:
    """A point inside the region (its vertex average), as fractions of the box."""
    xs, ys = zip(*region.points)
    return sum(xs) / len(xs) / WIDTH, sum(ys) / len(ys) / HEIGHT


# -- the figures as SVG --------------------------------------------------------------------------
FILL, STROKE = "#f3ddd0", "#6b4f43"


def figure_svg(view: str) -> str:
    """The figure drawn from the regions (resources/bodymap/<view>.svg is this text)."""
    title = "Body map, front (the patient faces you)" if view == "front" else "Body map, back (seen from behind)"
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" '
             f'width="{WIDTH:g}" height="{HEIGHT:g}">',
             f"  <title>{title}</title>",
             f'  <g fill="{FILL}" stroke="{STROKE}" stroke-width="0.8" stroke-linejoin="round">']
    for r in regions(view):
        pts = " ".join(f"{x:g},{y:g}" for x, y in r.points)
        side = f"-{r.laterality}" if r.laterality else ""
        lines.append(f'    <polygon id="{r.site}{side}" points="{pts}"/>')
    lines.append("  </g>")
    label = "R" if view == "front" else "L"
    other = "L" if view == "front" else "R"
    lines.append(f'  <g font-family="sans-serif" font-size="12" fill="{STROKE}">'
                 f'<text x="6" y="432">{label}</text><text x="186" y="432">{other}</text></g>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


# -- pins ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    lesion_id: int
    view: str
    x: float  # fraction of the figure box
    y: float


def pins(archive: Any, patient_id: int) -> dict[int, Pin]:
    """The pins of a patient's lesions, by lesion id."""
    rows = archive.catalogue.query(
        "SELECT p.lesion_id, p.view, p.x, p.y FROM lesion_pin p JOIN lesion l ON l.id = p.lesion_id "
        "WHERE l.patient_id = ?", (patient_id,))
    return {r["lesion_id"]: Pin(r["lesion_id"], r["view"], r["x"], r["y"]) for r in rows}


def place_pin(archive: Any, lesion_id: int, view: str, x: float, y: float) -> Region:
    """Put the lesion's pin at (x, y) (fractions) on ``view``, and set its body site and laterality
    to the region there. Off the body: a clear error and nothing changed."""
    region = site_at(view, x, y)
    if region is None:
        raise InvalidInput("That point is not on the figure; click on the body where the lesion is.")
    with archive.transaction() as tx:
        if not tx.scalar("SELECT 1 FROM lesion WHERE id = ?", (lesion_id,)):
            raise NotFound("No such lesion in this archive.")
        tx.execute("INSERT INTO lesion_pin (lesion_id, view, x, y, placed_at) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (lesion_id) DO UPDATE SET view = excluded.view, x = excluded.x, "
                   "y = excluded.y, placed_at = excluded.placed_at", (lesion_id, view, x, y, now_iso()))
        tx.execute("UPDATE lesion SET site = ?, laterality = ? WHERE id = ?",
                   (region.site, region.laterality, lesion_id))
        archive.record(tx, "lesion.update", {"lesion": lesion_id}, {"fields": ["laterality", "pin", "site"]})
    return region
