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


def open_decodable(data: bytes, fmt: str) -> Image.Image:
    """A Pillow image of a photo's first frame, ready for thumbnails (``fmt`` from the scan).

    JPEG/MPO/PNG/TIFF/WebP stay lazy (JPEG can then draft-decode); HEIC is decoded by
    pillow-heif, which has already applied the file's rotation, so its EXIF is dropped here and
    nothing is rotated twice.
    """
    from .metadata import open_heif, open_pil

    if fmt == "HEIC":
        img = open_heif(data)[0].to_pillow()
        img.info.pop("exif", None)
        return img
    return open_pil(data, fmt)


def make_thumbnails_for(data: bytes, fmt: str) -> Thumbnails:
    with open_decodable(data, fmt) as img:
        return make_thumbnails(img)


def render_jpeg(data: bytes, fmt: str, size: int) -> bytes:
    """One oriented JPEG no larger than ``size`` pixels (for previews in the wizard's grid)."""
    with open_decodable(data, fmt) as img:
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", (size, size))
        oriented = ImageOps.exif_transpose(img)
        oriented.thumbnail((size, size), Image.Resampling.LANCZOS)
        return _encode(oriented, 85)
