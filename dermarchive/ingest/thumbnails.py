"""Grid thumbnails and screen-size previews, made in memory (never on disk).

JPEG sources use draft decoding (the decoder scales by 1/2…1/8 while decoding), so a 12 MP photo
costs a fraction of its full decode. EXIF orientation is applied to the thumbnail and preview
(the stored original keeps its pixels and its orientation tag). Output is baseline JPEG with no
metadata at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

THUMB_SIZE = 320
PREVIEW_SIZE = 1600


@dataclass(frozen=True)
class Thumbnails:
    thumb: bytes
    preview: bytes


def _encode(img: Image.Image, quality: int) -> bytes:
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def make_thumbnails(img: Image.Image) -> Thumbnails:
    """From an opened (not yet loaded) Pillow image; applies EXIF orientation."""
    if img.format == "JPEG":
        img.draft("RGB", (PREVIEW_SIZE, PREVIEW_SIZE))
    oriented = ImageOps.exif_transpose(img)
    preview = oriented.copy()
    preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.LANCZOS)
    thumb = preview.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    return Thumbnails(thumb=_encode(thumb, 85), preview=_encode(preview, 88))


def make_thumbnails_from_bytes(data: bytes) -> Thumbnails:
    with Image.open(io.BytesIO(data)) as img:
        return make_thumbnails(img)
