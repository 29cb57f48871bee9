"""Photo pairs with a known transform, for the registration tests and benchmark.

:func:`skin` paints a skin-like picture (multi-scale texture, pores, a few pigmented lesions,
hairs) from a seed; :func:`make_pair` takes a bigger canvas of it and returns the earlier photo
A, the later photo B seen through a known rotation, scale and shift, with changed lighting and
both JPEG re-saved, and the true 3×3 transform mapping B's pixel coordinates to A's.
Deterministic for a seed; no file, no network.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Pair:
    fixed: np.ndarray      # A, RGB uint8
    moving: np.ndarray     # B, RGB uint8
    truth: np.ndarray      # 3×3, B pixel → A pixel
    rotation_deg: float
    scale: float
    shift: tuple[float, float]


def _noise(rng: np.random.Generator, w: int, h: int, cell: float) -> np.ndarray:
    """Smooth noise with features about ``cell`` pixels wide, made small and scaled up (fast)."""
    sw, sh = max(2, int(w / cell) + 2), max(2, int(h / cell) + 2)
    small = rng.standard_normal((sh, sw)).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), 0.8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def skin(w: int, h: int, seed: int = 1, lesions: int = 5) -> np.ndarray:
    """A skin-like RGB picture of ``w``×``h`` pixels."""
    rng = np.random.default_rng(seed)
    scale = max(w, h) / 1000
    tex = (0.50 * _noise(rng, w, h, 200 * scale) + 0.30 * _noise(rng, w, h, 40 * scale)
           + 0.25 * _noise(rng, w, h, 8 * scale) + 0.12 * _noise(rng, w, h, 2 * scale))
    base = np.array([222, 170, 140], np.float32)
    img = base[None, None, :] * (1 + 0.07 * tex[..., None])
    # pores and freckles: small dark spots
    spots = np.zeros((h, w), np.float32)
    n = int(w * h / (900 * scale * scale))
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    rs = rng.uniform(0.6, 2.2, n) * scale
    for x, y, r in zip(xs, ys, rs):
        cv2.circle(spots, (int(x), int(y)), max(1, int(r)), float(rng.uniform(0.2, 1.0)), -1, cv2.LINE_AA)
    spots = cv2.GaussianBlur(spots, (0, 0), 0.8 * scale)
    img *= (1 - 0.25 * spots[..., None])
    # pigmented lesions: irregular brown blobs with a darker network inside (drawn in their box)
    for _ in range(lesions):
        radius = rng.uniform(20, 60) * scale
        pad = int(radius * 1.6)
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        x0, y0 = max(0, int(cx) - pad), max(0, int(cy) - pad)
        x1, y1 = min(w, int(cx) + pad), min(h, int(cy) + pad)
        bw, bh = x1 - x0, y1 - y0
        angles = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        rr = radius * (1 + 0.25 * np.sin(3 * angles + rng.uniform(0, 6)) + 0.1 * rng.standard_normal(48))
        poly = np.stack([cx - x0 + rr * np.cos(angles), cy - y0 + rr * np.sin(angles)], 1).astype(np.int32)
        mask = np.zeros((bh, bw), np.float32)
        cv2.fillPoly(mask, [poly], 1.0, cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), 3 * scale)[..., None]
        network = 0.5 + 0.5 * np.clip(_noise(rng, bw, bh, 6 * scale), -1, 1)
        colour = np.array([120, 70, 45], np.float32) * (0.8 + 0.3 * network[..., None])
        box = img[y0:y1, x0:x1]
        img[y0:y1, x0:x1] = box * (1 - mask) + colour * mask
    # a few hairs
    hairs = np.zeros((h, w), np.float32)
    for _ in range(int(12 * w * h / (1000 * 750 * scale * scale)) + 4):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        ang, length = rng.uniform(0, math.pi), rng.uniform(40, 160) * scale
        pts = []
        for t in np.linspace(0, 1, 12):
            bend = 0.3 * math.sin(t * math.pi)
            pts.append((x + t * length * math.cos(ang + bend), y + t * length * math.sin(ang + bend)))
        cv2.polylines(hairs, [np.int32(pts)], False, 1.0, max(1, int(1.2 * scale)), cv2.LINE_AA)
    img *= (1 - 0.55 * hairs[..., None])
    return np.clip(img, 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(img).save(out, "JPEG", quality=quality)
    out.seek(0)
    with Image.open(out) as again:
        return np.asarray(again.convert("RGB"))


def similarity(w: int, h: int, rotation_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """B pixel → A pixel: B's picture is A's, turned by ``rotation_deg`` and magnified by
    ``scale`` about the centre, then moved by ``shift`` (A's pixels)."""
    cx, cy = w / 2, h / 2
    a = math.radians(rotation_deg)
    s = 1 / scale  # B magnifies by `scale`: a step in B is a 1/scale step in A
    rot = np.array([[s * math.cos(a), -s * math.sin(a), 0], [s * math.sin(a), s * math.cos(a), 0], [0, 0, 1]])
    to_c = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    back = np.array([[1, 0, cx + shift[0]], [0, 1, cy + shift[1]], [0, 0, 1]], float)
    return back @ rot @ to_c


def make_pair(w: int, h: int, *, rotation_deg: float = 10.0, scale: float = 1.1,
              shift: tuple[float, float] = (40.0, -25.0), seed: int = 1, lighting: bool = True,
              quality: tuple[int, int] = (92, 80), overlap: bool = True, canvas: np.ndarray | None = None) -> Pair:
    """A (w×h) and B (w×h) of the same skin through a known transform.

    ``overlap=False`` makes B from an unrelated piece of skin (another seed): no transform fits.
    ``canvas`` (RGB, at least 1.7 × w by 1.7 × h) replaces the generated skin, e.g. a real photo.
    """
    margin = 0.35
    cw, ch = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    if canvas is None:
        canvas = skin(cw, ch, seed)
    elif canvas.shape[0] < ch or canvas.shape[1] < cw:
        raise ValueError(f"the canvas must be at least {cw}×{ch}")
    ox, oy = int(w * margin), int(h * margin)
    fixed = np.ascontiguousarray(canvas[oy:oy + h, ox:ox + w])
    truth = similarity(w, h, rotation_deg, scale, shift)
    if overlap:
        to_canvas = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], float) @ truth
        moving = cv2.warpPerspective(canvas, to_canvas, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT101)
    else:
        moving = skin(w, h, seed + 1000)
    del canvas
    if lighting:  # another lamp and exposure: brighter, warmer, with a gradient across the photo
        f = moving.astype(np.float32) / 255
        ramp = np.linspace(0.92, 1.08, w, dtype=np.float32)[None, :, None]
        f = np.power(f, 0.85) * np.array([1.06, 1.0, 0.93], np.float32) * ramp + 0.02
        moving = np.clip(f * 255, 0, 255).astype(np.uint8)
    return Pair(_jpeg(fixed, quality[0]), _jpeg(moving, quality[1]), truth, rotation_deg, scale, shift)
