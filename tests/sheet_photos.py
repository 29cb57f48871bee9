"""A test generator of phone photos of filled-in photo consent sheets (no real patients).

``fill`` takes a sheet PDF printed by the project, renders its first page with PDFium and draws
pen ticks and a signature on it; ``photograph`` lays the page on a desk and takes a "phone
photo" of it: perspective, any rotation on the desk, uneven light, blur, sensor noise and a
JPEG re-save with an EXIF capture time. ``skin_photo`` makes an ordinary clinical-looking photo.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dermarchive.sheets import layout as L

RENDER_DPI = 150
PX_MM = RENDER_DPI / 25.4


def render_page(pdf: bytes, page: int = 0) -> Image.Image:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[page].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
    finally:
        doc.close()


def _pen(rng: random.Random) -> tuple[int, int, int]:
    return rng.choice([(20, 30, 120), (25, 25, 30), (10, 40, 90)])


def fill(pdf: bytes, ticked: list[str], *, signed: bool, seed: int = 0) -> Image.Image:
    """Page 1 of ``pdf`` with pen ticks in the boxes of ``ticked`` and, if ``signed``, a signature."""
    rng = random.Random(seed)
    page = render_page(pdf)
    draw = ImageDraw.Draw(page)
    width = max(2, int(0.55 * PX_MM))
    for scope in ticked:
        box = L.tick_box(scope)
        x, y, s = box.x * PX_MM, box.y * PX_MM, box.w * PX_MM
        style = rng.choice(["check", "cross", "check"])

        def j(s: float = s) -> float:
            return rng.uniform(-0.08, 0.08) * s
        if style == "check":
            pts = [(x + 0.15 * s + j(), y + 0.5 * s + j()), (x + 0.42 * s + j(), y + 0.85 * s + j()),
                   (x + 1.05 * s + j(), y - 0.15 * s + j())]
            draw.line(pts, fill=_pen(rng), width=width, joint="curve")
        else:
            draw.line([(x + 0.15 * s + j(), y + 0.15 * s + j()), (x + 0.85 * s + j(), y + 0.85 * s + j())],
                      fill=_pen(rng), width=width)
            draw.line([(x + 0.85 * s + j(), y + 0.15 * s + j()), (x + 0.15 * s + j(), y + 0.85 * s + j())],
                      fill=_pen(rng), width=width)
    if signed:
        _signature(draw, rng, width)
    # The date, handwritten on the date line (never sampled: it proves nothing).
    dx, dy = L.DATE_X0 * PX_MM, (L.SIGNATURE_LINE_Y - 3) * PX_MM
    draw.line([(dx + i * 9 + rng.uniform(-2, 2), dy - rng.uniform(0, 25)) for i in range(14)],
              fill=_pen(rng), width=width)
    return page


def _signature(draw: ImageDraw.ImageDraw, rng: random.Random, width: int) -> None:
    zone = L.signature_zone()
    x0, x1 = (zone.x + 4) * PX_MM, (zone.x + zone.w * rng.uniform(0.55, 0.9)) * PX_MM
    base, amp = (zone.y + zone.h * 0.7) * PX_MM, zone.h * 0.3 * PX_MM
    pts = []
    steps = 160
    f1, f2 = rng.uniform(0.08, 0.14), rng.uniform(0.02, 0.05)
    for i in range(steps):
        t = i / steps
        x = x0 + (x1 - x0) * t + 12 * math.sin(i * f1 * 6)
        y = base - amp * abs(math.sin(i * f1)) * (0.6 + 0.4 * math.sin(i * f2))
        pts.append((x, y))
    draw.line(pts, fill=_pen(rng), width=width, joint="curve")
    draw.line([(x0 - 10, base + 6), (x1 + 20, base - 4)], fill=_pen(rng), width=width)


@dataclass
class Shot:
    """How the page is photographed."""

    size: tuple[int, int] = (2400, 1800)
    angle: float = 0.0          # rotation of the page on the desk, degrees
    fill: float = 0.9           # share of the frame the (rotated) page's outline fills
    tilt: float = 0.06          # perspective: corner jitter as a share of the page size
    light: float = 0.45         # how much darker the dim side is (0 = even)
    blur: float = 1.0           # Gaussian sigma, pixels of the photo
    quality: int = 82
    seed: int = 0


def _desk(size: tuple[int, int], rng: random.Random) -> np.ndarray:
    w, h = size
    grain = np.asarray(Image.effect_noise((w // 6, h // 2), 40).resize((w, h), Image.Resampling.BICUBIC),
                       np.float32)
    tone = np.array([rng.uniform(110, 150), rng.uniform(80, 105), rng.uniform(50, 75)], np.float32)
    return np.clip(tone[None, None, :] * (0.75 + grain[..., None] / 400.0), 0, 255)


def photograph(page: Image.Image, shot: Shot) -> Image.Image:
    """The page on a desk, taken with a phone (returns the photo, not yet JPEG-encoded)."""
    import cv2

    rng = random.Random(shot.seed)
    w, h = shot.size
    pw, ph = page.size
    a = math.radians(shot.angle)
    # The nurse frames the page: its rotated outline fills ``fill`` of the frame.
    bw = abs(pw * math.cos(a)) + abs(ph * math.sin(a))
    bh = abs(pw * math.sin(a)) + abs(ph * math.cos(a))
    scale = shot.fill * min(w / bw, h / bh) / (1 + shot.tilt)
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    dst = []
    for sx, sy in ((0, 0), (pw, 0), (pw, ph), (0, ph)):
        x, y = (sx - pw / 2) * scale, (sy - ph / 2) * scale
        x += rng.uniform(-shot.tilt, shot.tilt) * pw * scale
        y += rng.uniform(-shot.tilt, shot.tilt) * ph * scale
        dst.append((cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)))
    m = cv2.getPerspectiveTransform(np.float32([(0, 0), (pw, 0), (pw, ph), (0, ph)]), np.float32(dst))
    paper = np.asarray(page, np.float32) * np.array([1.0, 0.98, 0.94], np.float32)
    warped = cv2.warpPerspective(paper, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    img = _desk(shot.size, rng) * (1 - mask) + warped * mask
    # Uneven light: a ramp across the frame at a random direction, and a soft vignette.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = math.radians(rng.uniform(0, 360))
    ramp = ((xx / w - 0.5) * math.cos(d) + (yy / h - 0.5) * math.sin(d)) + 0.5
    vignette = 1 - 0.25 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    img = img * (1 - shot.light * np.clip(ramp, 0, 1))[..., None] * vignette[..., None]
    if shot.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), shot.blur)
    img = img + np.random.default_rng(shot.seed).normal(0, 3.0, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def jpeg(img: Image.Image, *, taken_at: str, quality: int = 85, make: str = "Apple",
         model: str = "iPhone 13", thumbnail: bool = True) -> bytes:
    """JPEG bytes with an EXIF capture time ``YYYY-MM-DDTHH:MM:SS`` and, as phones write, a
    160-pixel EXIF thumbnail of the picture (``thumbnail=False``: none, like a forwarded photo)."""
    import piexif

    stamp = taken_at.replace("-", ":").replace("T", " ")
    info: dict = {"0th": {piexif.ImageIFD.Make: make.encode(), piexif.ImageIFD.Model: model.encode()},
                  "Exif": {piexif.ExifIFD.DateTimeOriginal: stamp.encode()}}
    if thumbnail:
        small = img.copy()
        small.thumbnail((160, 160))
        tbuf = io.BytesIO()
        small.save(tbuf, "JPEG", quality=75)
        info["1st"] = {piexif.ImageIFD.JPEGInterchangeFormat: 0, piexif.ImageIFD.JPEGInterchangeFormatLength: 0}
        info["thumbnail"] = tbuf.getvalue()
    exif = piexif.dump(info)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def skin_photo(seed: int, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """An ordinary clinical-looking photo: skin tones, a darker lesion, texture (no code)."""
    rng = random.Random(seed)
    w, h = size
    base = np.array([rng.uniform(170, 225), rng.uniform(120, 170), rng.uniform(100, 140)], np.float32)
    grain = np.asarray(Image.effect_noise((w // 4, h // 4), 25).resize((w, h), Image.Resampling.BICUBIC), np.float32)
    img = np.clip(base[None, None, :] + (grain[..., None] - 128) * 0.4, 0, 255).astype(np.uint8)
    out = Image.fromarray(img)
    draw = ImageDraw.Draw(out)
    r = rng.uniform(0.05, 0.15) * h
    x, y = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    draw.ellipse([x - r, y - r * 0.8, x + r, y + r * 0.8], fill=(90, 55, 40))
    return out.filter(ImageFilter.GaussianBlur(1.2))
