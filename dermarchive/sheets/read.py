"""Find a photo consent sheet (or a lesion label) in a phone photo and read it.

Three steps, so ordinary photos stay cheap:

0. A phone photo carries a small thumbnail (JPEG: in its EXIF; HEIC: beside the image). When
   it shows too little paper (bright, colourless pixels) or too little fine dark detail on that
   paper (print, the code) for a sheet, the photo is ordinary and is not decoded at all (a full
   decode costs as much as the import's own thumbnails; a HEIC's, far more). The test is
   deliberately loose: a photo it lets through only costs the next step; a photo with no
   thumbnail always goes on.
1. :func:`look` decodes the photo at about a quarter of its size (JPEG DCT scaling: no full
   decode) and asks zxing-cpp for QR codes. No DermArchive code: an ordinary photo (``None``).
2. Only for a photo with our code: decode at a working size, take the code's four corners and
   the page's four corner marks as the page's geometry (a homography from page millimetres to
   photo pixels), straighten the page, even out the light, and sample each tick box and the
   signature zone. Each answer is yes, no or *unclear*; unclear is never turned into a guess.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from .. import log
from ..consent.scopes import PURPOSES
from . import layout as L
from .payload import CodeProblem, LesionCode, SheetCode, decode, is_ours

CANDIDATE_SIDE = 1100     # long side for the quick look (JPEG draft picks the nearest larger scale)
WORK_SIDE = 2400          # long side for reading a sheet's boxes
PX_PER_MM = 5.0           # the straightened page's resolution
# Ink share of a box's inside (and of the signature zone): below the first, empty; above the
# second, marked; in between, unclear.
TICK_EMPTY, TICK_MARKED = 0.035, 0.09
SIGN_EMPTY, SIGN_MARKED = 0.004, 0.012


@dataclass
class ConsentReading:
    """What the sheet's boxes and signature line say (``signed`` None: unclear)."""

    ticked: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)
    signed: bool | None = None
    ink: dict[str, float] = field(default_factory=dict, repr=False)  # measured shares (for tuning)

    @property
    def clear(self) -> bool:
        return not self.unclear and self.signed is not None

    def as_json(self) -> dict[str, Any]:
        return {"ticked": list(self.ticked), "signed": self.signed, "unclear": list(self.unclear)}


@dataclass
class Sighting:
    """A DermArchive code seen in a photo. ``kind``: ``sheet`` (this archive's, read),
    ``lesion`` (a lesion label of this archive), ``foreign`` (another archive's sheet) or
    ``unreadable`` (a code that cannot be read or checked); ``reason`` says why in plain words."""

    kind: str
    code: SheetCode | LesionCode | None = None
    reason: str = ""
    consent: ConsentReading | None = None


# A sheet, or a lesion label beside a lesion, shows paper (share of the thumbnail) with print on it:
# fine dark-light detail on or beside the paper. Generated sheet photos: paper 0.18–0.6, detail
# 0.2–0.35 of the paper; a lesion label across a third of a close-up: 0.12 and 0.35. The import
# benchmark's plain grey photos: up to 0.84 "paper" but detail under 0.05 of it; skin photos: none.
PAPER_SHARE = 0.04
PRINT_SHARE = 0.015
PRINT_PER_PAPER = 0.12


# -- decoding ---------------------------------------------------------------------------------
def _small_thumbnail(data: bytes) -> Any:
    """The thumbnail the phone stored in the file (JPEG: EXIF; HEIC: the image's own), or None."""
    from PIL import Image

    from ..ingest.metadata import sniff

    fmt = sniff(data[:32])
    try:
        if fmt == "JPEG":
            import piexif

            with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
                exif = img.info.get("exif")
            thumb = piexif.load(exif)["thumbnail"] if exif else None
            if not thumb:
                return None
            with Image.open(io.BytesIO(thumb), formats=["JPEG"]) as small:
                return small.convert("RGB")
        if fmt == "HEIC":
            import pillow_heif

            image = pillow_heif.open_heif(data)[0]
            if not image.info.get("thumbnails"):
                return None
            return image.get_thumbnail(0).to_pillow().convert("RGB")
    except Exception:  # noqa: BLE001 - a damaged metadata block: decide on the pixels instead
        return None
    return None


def paper_share(data: bytes) -> tuple[float, float] | None:
    """From the photo's stored thumbnail: the share that looks like paper (bright, nearly
    colourless, relative to the brightest part of the scene) and the share of fine dark-light
    detail on or beside it (print); None when the file has no readable thumbnail."""
    import cv2
    import numpy as np

    small = _small_thumbnail(data)
    if small is None:
        return None
    small.thumbnail((200, 200))
    rgb = np.asarray(small, np.float32) / 255.0
    top, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = (top - low) / np.maximum(top, 1e-3)
    bright = np.percentile(top, 95)
    paper = (saturation < 0.2) & (top > 0.35 * bright) & (top > 0.2)
    detail = np.abs(top - cv2.GaussianBlur(top, (0, 0), 1.2)) / max(float(bright), 1e-3) > 0.08
    near = cv2.dilate(paper.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return float(paper.mean()), float((detail & near).mean())



def _grey(data: bytes, side: int) -> Any:
    """The photo in grey as a numpy array, about ``side`` pixels on its long side (raw pixel
    order: the EXIF orientation does not matter to the geometry)."""
    import numpy as np
    from PIL import Image

    from ..ingest.metadata import open_pil, sniff

    fmt = sniff(data[:32]) or "JPEG"
    img = open_pil(data, fmt) if fmt == "HEIC" else Image.open(io.BytesIO(data), formats=[fmt])
    w, h = img.size
    scale = max(w, h) / side
    if fmt == "JPEG" and scale > 1:
        img.draft("L", (int(w / scale), int(h / scale)))
    img = img.convert("L")
    if max(img.size) > side * 1.5:
        img = img.reduce(max(1, round(max(img.size) / side)))
    return np.asarray(img)


def _codes(grey: Any, errors: bool) -> list[Any]:
    import zxingcpp

    return list(zxingcpp.read_barcodes(grey, formats=zxingcpp.barcode_formats_from_str("QRCode"),
                                       try_invert=False, return_errors=errors))


def look(data: bytes, archive_id: str, key: bytes) -> Sighting | None:
    """``None`` for an ordinary photo; otherwise what the DermArchive code in it says."""
    share = paper_share(data)
    if share is not None and (share[0] < PAPER_SHARE or share[1] < max(PRINT_SHARE, PRINT_PER_PAPER * share[0])):
        return None
    try:
        grey = _grey(data, CANDIDATE_SIDE)
    except Exception:  # noqa: BLE001 - a photo that does not decode is the import's to refuse
        return None
    found = _codes(grey, errors=True)
    ours = [b for b in found if b.valid and is_ours(b.text)]
    if not ours:
        if any(not b.valid for b in found):
            return Sighting("unreadable", reason="the photo shows a code that cannot be read (blurred, "
                                                 "creased or covered); photograph the sheet again")
        return None  # no code, or somebody else's QR code: an ordinary photo
    sighting = None
    for barcode in ours:  # a sheet wins over a lesion label in the same photo
        try:
            code = decode(barcode.text, archive_id, key)
        except CodeProblem as exc:
            sighting = sighting or Sighting(exc.kind, reason=str(exc))
            continue
        if isinstance(code, SheetCode):
            return Sighting("sheet", code, consent=read_consent(data, code_text=barcode.text))
        if sighting is None or sighting.kind != "lesion":
            sighting = Sighting("lesion", code)
    return sighting


# -- geometry ---------------------------------------------------------------------------------
def _corners(barcode: Any) -> list[tuple[float, float]]:
    p = barcode.position
    return [(float(q.x), float(q.y)) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]


def _straighten(grey: Any, page_to_photo: Any, margin: float = 12.0) -> Any:
    """The page (plus ``margin`` mm around it) straightened at PX_PER_MM; pixels outside the
    photo are NaN, so a box cut off by the photo's edge reads as unclear."""
    import cv2
    import numpy as np

    s = PX_PER_MM
    to_page_px = np.array([[s, 0, margin * s], [0, s, margin * s], [0, 0, 1]], dtype=np.float64)
    m = page_to_photo @ np.linalg.inv(to_page_px)  # straightened px → photo px
    size = (int((L.PAGE_W + 2 * margin) * s), int((L.PAGE_H + 2 * margin) * s))
    src = grey.astype(np.float32)
    out = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
    out[out < 0] = np.nan
    return out


def _even_light(page: Any) -> Any:
    """Each pixel divided by the paper's local brightness (a large dilation, so ink is ignored):
    1.0 is paper, ink is well below, whatever the light falling on the desk."""
    import cv2
    import numpy as np

    filled = np.nan_to_num(page, nan=0.0)
    paper = cv2.dilate(filled, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25)))
    paper = cv2.GaussianBlur(paper, (0, 0), 12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return page / np.maximum(paper, 1.0)


def _find_mark(ink: Any, centre: tuple[float, float], margin: float) -> tuple[float, float] | None:
    """The centroid (page mm) of the solid corner mark nearest its expected centre, or None."""
    import cv2
    import numpy as np

    s = PX_PER_MM
    half = 22.0
    x0 = int((centre[0] + margin - half) * s)
    y0 = int((centre[1] + margin - half) * s)
    win = ink[max(0, y0):y0 + int(2 * half * s), max(0, x0):x0 + int(2 * half * s)]
    if win.size == 0:
        return None
    n, _labels, stats, cents = cv2.connectedComponentsWithStats(win.astype(np.uint8), connectivity=8)
    want = (L.MARK_SIZE * s) ** 2
    best, best_d = None, 1e9
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if not (0.45 * want < area < 1.8 * want and 0.6 < w / max(h, 1) < 1.6 and area > 0.7 * w * h):
            continue
        cx = (cents[i][0] + max(0, x0)) / s - margin
        cy = (cents[i][1] + max(0, y0)) / s - margin
        d = (cx - centre[0]) ** 2 + (cy - centre[1]) ** 2
        if d < best_d:
            best, best_d = (cx, cy), d
    return best


def _geometry(grey: Any, barcode: Any) -> tuple[Any, int]:
    """Homography page mm → photo px from the code's corners, refined with the corner marks
    found (returns it and how many marks were found)."""
    import cv2
    import numpy as np

    qr_page = np.array(L.qr_corners(), dtype=np.float64)
    qr_photo = np.array(_corners(barcode), dtype=np.float64)
    h = cv2.getPerspectiveTransform(qr_page.astype(np.float32), qr_photo.astype(np.float32))
    margin = 12.0
    found = 0
    for _round in range(2):
        ink = _even_light(_straighten(grey, h, margin)) < 0.5
        page_pts, photo_pts, found = list(qr_page), list(qr_photo), 0
        for centre in L.MARK_CENTRES:
            at = _find_mark(ink, centre, margin)
            if at is None:
                continue
            # Where the mark really is in the photo: map its measured page position through the
            # current estimate; pair it with where it is printed.
            p = h @ np.array([at[0], at[1], 1.0])
            photo_pts.append(p[:2] / p[2])
            page_pts.append(np.array(centre))
            found += 1
        if found < 3:
            break
        h, _mask = cv2.findHomography(np.array(page_pts), np.array(photo_pts), 0)
    return h, found


# -- reading ----------------------------------------------------------------------------------
def _outline(size_mm: float, line_mm: float) -> Any:
    import numpy as np

    s = PX_PER_MM
    n = int(round(size_mm * s))
    t = max(1, int(round(line_mm * s)))
    tpl = np.zeros((n, n), np.float32)
    tpl[:t, :] = tpl[-t:, :] = tpl[:, :t] = tpl[:, -t:] = 1.0
    return tpl


def _ink_share(ink: Any, box: L.Box, margin: float) -> float | None:
    import numpy as np

    s = PX_PER_MM
    x0, y0 = int(round((box.x + margin) * s)), int(round((box.y + margin) * s))
    x1, y1 = int(round((box.x + box.w + margin) * s)), int(round((box.y + box.h + margin) * s))
    patch = ink[y0:y1, x0:x1]
    if patch.size == 0 or np.isnan(patch).any():
        return None  # outside the photo
    return float(patch.mean())


def _locate_box(ink: Any, box: L.Box, margin: float) -> L.Box:
    """The printed box frame near where it should be (± 2.5 mm), found by template matching."""
    import cv2
    import numpy as np

    s, slack = PX_PER_MM, 2.5
    x0, y0 = int((box.x + margin - slack) * s), int((box.y + margin - slack) * s)
    n = int((box.w + 2 * slack) * s)
    win = ink[y0:y0 + n, x0:x0 + n]
    tpl = _outline(box.w, 0.5)
    if win.shape[0] < tpl.shape[0] or win.shape[1] < tpl.shape[1] or np.isnan(win).any():
        return box
    scores = cv2.matchTemplate(np.nan_to_num(win).astype(np.float32), tpl, cv2.TM_CCORR)
    _mn, best, _mnloc, (bx, by) = cv2.minMaxLoc(scores)
    if best < 0.5 * tpl.sum():  # no frame there: keep the geometry's estimate
        return box
    return L.Box((x0 + bx) / s - margin, (y0 + by) / s - margin, box.w, box.h)


def read_consent(data: bytes, *, code_text: str) -> ConsentReading:
    """The ticked purposes and the signature read from a sheet photo (the code already found)."""
    import numpy as np

    reading = ConsentReading()
    grey = _grey(data, WORK_SIDE)
    ours = [b for b in _codes(grey, errors=False) if b.text == code_text]
    if not ours:  # read at the quick look's size but not at this one: nothing can be placed
        reading.unclear = list(PURPOSES)
        return reading
    h, marks = _geometry(grey, ours[0])
    margin = 12.0
    norm = _even_light(_straighten(grey, h, margin))
    ink = np.where(np.isnan(norm), np.nan, (norm < 0.62).astype(np.float32))
    trusted = marks >= 3  # the code alone is too small to place far boxes precisely
    for scope in PURPOSES:
        box = _locate_box(ink, L.tick_box(scope), margin)
        share = _ink_share(ink, box.inset(L.TICK_INSET), margin)
        reading.ink[scope] = -1.0 if share is None else share
        if share is None or not trusted or TICK_EMPTY <= share <= TICK_MARKED:
            reading.unclear.append(scope)
        elif share > TICK_MARKED:
            reading.ticked.append(scope)
    share = _ink_share(ink, L.signature_zone(), margin)
    reading.ink["signature"] = -1.0 if share is None else share
    if share is not None and trusted:
        reading.signed = True if share > SIGN_MARKED else False if share < SIGN_EMPTY else None
    log.ingest.info("sheet read: %d marks, %d ticked, %d unclear, signed %s", marks, len(reading.ticked),
                    len(reading.unclear), reading.signed)
    return reading
