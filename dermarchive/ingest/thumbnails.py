"""Grid thumbnails and screen-size previews, made in memory (never on disk).

JPEG sources use draft decoding (the decoder scales by 1/2…1/8 while decoding), so a 12 MP photo
costs a fraction of its full decode. EXIF orientation is applied to the thumbnail and preview
(the stored original keeps its pixels and its orientation tag). Output is baseline JPEG with no
metadata at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from .picture import decode_upright, orientation_of, upright

THUMB_SIZE = 320
PREVIEW_SIZE = 1600
PREVIEW_QUALITY = 88
PREVIEW_MAX = 2048  # a decoded (drafted) picture up to this size is used as the preview as it is


@dataclass(frozen=True)
class Thumbnails:
    thumb: bytes
    preview: bytes | None  # None when the preview is left for later (import: see ingest.previews)


def _encode(img: Image.Image, quality: int) -> bytes:
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, comment=b"")  # never a source comment (Pillow copies info["comment"])
    return out.getvalue()


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """The size of ``size`` scaled to fit a ``box``-pixel square (never enlarged)."""
    w, h = size
    scale = min(1.0, box / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def make_thumbnails(img: Image.Image, orientation: int | None = None, *, preview: bool = True) -> Thumbnails:
    """From an opened (not yet loaded) Pillow image; applies the orientation (``orientation``, else
    the one rule of :mod:`.picture`).

    JPEG: draft-decodes at the smallest 1/2…1/8 scale that still covers the size needed (the
    request has the photo's own aspect ratio, else a 4:3 photo would never qualify for 1/2).
    ``preview=False`` (what import does: the screen-size preview is made later, see
    :mod:`.previews`) needs only the thumbnail, so a 12 MP JPEG decodes at 1/8: a fraction of
    the 1/2-scale decode, resize and 2016-px encode a preview costs. The whole entropy-coded data
    is read either way, so a damaged photo is refused just the same.
    A drafted picture no larger than PREVIEW_MAX is the preview as it is (no resampling pass).
    Reduce first, then turn: rotating a preview costs far less than rotating the full photo.
    """
    orientation = orientation or orientation_of(img)
    if not preview:
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", _fit(img.size, THUMB_SIZE))
        img.load()
        small = img.resize(_fit(img.size, THUMB_SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)
        return Thumbnails(thumb=_encode(upright(small, orientation), 85), preview=None)
    picture = screen_picture(img, orientation)
    thumb = picture.resize(_fit(picture.size, THUMB_SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return Thumbnails(thumb=_encode(thumb, 85), preview=_encode(picture, PREVIEW_QUALITY))


def screen_picture(img: Image.Image, orientation: int) -> Image.Image:
    """The upright screen-size picture of an opened (not yet loaded) image: what a preview holds."""
    if img.format in ("JPEG", "MPO"):
        img.draft("RGB", _fit(img.size, PREVIEW_SIZE))
    if max(img.size) <= PREVIEW_MAX:  # e.g. a 12 MP photo drafted at 1/2: 2016 px is screen size
        img.load()
        picture = img
    else:
        picture = img.resize(_fit(img.size, PREVIEW_SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return upright(picture, orientation)


def make_preview(img: Image.Image, orientation: int | None = None) -> bytes:
    """The screen-size preview alone (baseline JPEG, no metadata) of an opened image."""
    return _encode(screen_picture(img, orientation or orientation_of(img)), PREVIEW_QUALITY)


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


def _heic_embedded(data: bytes, size: int) -> Image.Image | None:
    """The HEIC's own embedded thumbnail when it is big enough and shaped like the photo (iPhones
    store a 320-px one): milliseconds instead of decoding 12 MP of HEVC."""
    from .metadata import open_heif

    primary = open_heif(data)[0]
    for index, box in enumerate(primary.info.get("thumbnails") or []):
        if box and box >= size:
            thumb = primary.get_thumbnail(index).to_pillow()
            same_shape = (thumb.width >= thumb.height) == (primary.size[0] >= primary.size[1])
            if same_shape:
                thumb.info.pop("exif", None)
                return thumb
    return None


def render_jpeg(data: bytes, fmt: str, size: int) -> bytes:
    """One oriented JPEG no larger than ``size`` pixels (for previews in the wizard's grid)."""
    if fmt == "HEIC":
        try:
            small = _heic_embedded(data, size)
        except (ValueError, RuntimeError, OSError, IndexError):
            small = None
        if small is not None:
            small.thumbnail((size, size), Image.Resampling.LANCZOS)
            return _encode(small, 85)
    if fmt == "HEIC":
        with open_decodable(data, fmt) as img:
            img.thumbnail((size, size), Image.Resampling.LANCZOS)
            return _encode(img, 85)
    return _encode(decode_upright(data, max_side=size, formats=(fmt,)).image, 85)
