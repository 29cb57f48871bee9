"""What is stored for each photo: a cleaned copy with nothing identifying in it, and thumbnails.

* **JPEG and MPO** are cleaned losslessly at the segment level (:mod:`.jpeg`): the compressed
  image data is copied byte for byte, so decoded pixels are identical; the coding digest before
  and after is compared on every import (and the tests compare decoded pixels, every frame).
  Orientation stays a tag, applied when showing (DESIGN §5).
* **HEIC/HEIF** cannot be rewritten without its HEVC encoder (and then it would be re-encoded
  anyway), and Qt, reportlab and DICOM cannot read it. We decode it once with pillow-heif (which
  applies the file's rotation) and store a baseline **JPEG, quality 95, 4:4:4 chroma, with the
  ICC profile** (iPhones shoot Display P3) and a rebuilt allow-list EXIF (date, device,
  orientation 1). Measured on the corpus's five real iPhone/Nokia HEICs (:func:`heic_fidelity`,
  tested in tests/test_ingest_clean.py): PSNR 45.8–51.7 dB against the decoded HEIC, largest
  single channel difference 10–20 of 255, at 1.8–3.7× the HEIC's size. That is far below what
  the eye sees on screen or print; we chose it over lossless PNG (5–10× larger) because every
  consumer (viewer, referral PDF, DICOM) takes JPEG as it is.
  Depth maps, auxiliary and thumbnail images of the HEIC are not kept.
* **PNG, TIFF and WebP** are decoded and stored as **PNG** (lossless: decoded pixels identical,
  checked on import), keeping the ICC profile and an allow-list EXIF and nothing else (no text
  chunks, no XMP, no TIFF tags). Only the first frame of a multi-frame file is kept.

Everything happens in memory; plaintext never touches the disk.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from . import jpeg
from .metadata import DECODE_ERRORS, PhotoMetadata, UnreadablePhoto, damaged, open_heif, open_pil
from .thumbnails import Thumbnails, make_thumbnails

HEIC_JPEG_QUALITY = 95
PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    stored_format: str      # JPEG, MPO or PNG
    orientation: int        # EXIF orientation of the stored copy (applied when showing)
    thumbs: Thumbnails
    proof: str              # why the pixels can be trusted: coding digest, pixel hash or "lossy"


def _exif_for(block: bytes | None, *, orientation: int | None = None,
              size: tuple[int, int] | None = None) -> bytes | None:
    """The allow-list EXIF of ``block`` with ``orientation`` set; a block that cannot be parsed is
    dropped whole (only the orientation is written then)."""
    exif: dict = {}
    if not block and orientation in (None, 1):
        return None
    if block:
        if not block.startswith(jpeg.EXIF_HEADER):
            block = jpeg.EXIF_HEADER + block
        try:
            exif = jpeg.load_exif(block)
        except jpeg.EXIF_ERRORS:
            exif = {}
    return jpeg.rebuild_exif(exif, orientation=orientation, size=size)


def _pixel_hash(img: Image.Image) -> str:
    return hashlib.sha256(img.mode.encode() + repr(img.size).encode() + img.tobytes()).hexdigest()


def _jpeg(data: bytes, meta: PhotoMetadata, check_only: bool = False, preview: bool = True,
          thumb: bytes | None = None) -> StoredPhoto | None:
    try:
        cleaned = jpeg.clean(data, meta.orientation, prove=not check_only)
    except jpeg.JpegStructureError as exc:
        raise UnreadablePhoto(str(exc)) from None
    if thumb and not preview and not check_only:
        # The scan decoded this very file (unchanged since) and made its thumbnail from the same
        # cleaned picture: no second decode. The coding digest above still proves the pixels.
        return StoredPhoto(cleaned.data, "JPEG", meta.orientation, Thumbnails(thumb, None),
                           f"coding-digest:{cleaned.digest}")
    try:
        with open_pil(cleaned.data, "JPEG") as img:
            if check_only and thumb is None:  # every scan decoded (at 1/8: the same entropy data)
                img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
                img.load()
                return None
            # check_only with a thumbnail wanted (``thumb`` is b""): the check's decode makes it
            thumbs = make_thumbnails(img, meta.orientation, preview=preview and not check_only)
    except OSError:
        raise UnreadablePhoto("its picture data is damaged and cannot be decoded (corrupt or truncated)") from None
    # Multi-picture files keep their primary image only (jpeg.clean): stored as a plain JPEG.
    return StoredPhoto(cleaned.data, "JPEG", meta.orientation, thumbs, f"coding-digest:{cleaned.digest}")


def _heic(data: bytes, check_only: bool = False, preview: bool = True) -> StoredPhoto | None:
    heif = open_heif(data)
    try:
        if check_only:
            heif[0].data  # noqa: B018 - decodes (what can fail), nothing encoded
            return None
        img = heif[0].to_pillow()
    except (ValueError, RuntimeError, OSError):
        raise UnreadablePhoto("its picture data is damaged and cannot be decoded (corrupt or truncated)") from None
    # to_pillow copied the decoded pixels: let libheif's copy go before encoding (a 139 MP photo
    # peaked at 1.07 GB with both alive, over the 1 GB bound of the size policy).
    del heif
    info = dict(img.info)
    img.info.clear()
    if img.mode != "RGB":
        img = img.convert("RGB")
    out = io.BytesIO()
    exif = _exif_for(info.get("exif"), orientation=1, size=img.size)
    img.save(out, "JPEG", quality=HEIC_JPEG_QUALITY, subsampling=0,
             icc_profile=info.get("icc_profile") or None, exif=exif or b"")
    thumbs = make_thumbnails(img, 1, preview=preview)  # libheif turned it already
    return StoredPhoto(out.getvalue(), "JPEG", 1, thumbs, "lossy:heic-to-jpeg-q95-444")


def _to_png(data: bytes, fmt: str, meta: PhotoMetadata, check_only: bool = False,
            preview: bool = True) -> StoredPhoto | None:
    try:
        with open_pil(data, fmt) as src:
            src.load()
            if check_only:
                return None
            info = dict(src.info)
            img = src if src.mode in PNG_MODES else src.convert("RGBA" if "A" in src.mode else "RGB")
            img = img.copy()
    except OSError:
        raise UnreadablePhoto("its picture data is damaged and cannot be decoded (corrupt or truncated)") from None
    # TIFF keeps its EXIF in its own tags (not carried over); Pillow decodes it upright. PNG and
    # WebP: the orientation found at import (EXIF, else XMP, which is not kept) goes into the
    # stored copy's EXIF, so the file itself turns the same way in any viewer.
    orientation = 1 if fmt == "TIFF" else meta.orientation
    exif = None if fmt == "TIFF" else _exif_for(info.get("exif"), orientation=orientation, size=img.size)
    out = io.BytesIO()
    kwargs: dict[str, Any] = {"icc_profile": info.get("icc_profile") or None}
    if exif:
        kwargs["exif"] = exif
    if img.mode == "P" and "transparency" in info:
        kwargs["transparency"] = info["transparency"]
    img.info.clear()
    img.save(out, "PNG", **{k: v for k, v in kwargs.items() if v is not None})
    stored = out.getvalue()
    with open_pil(stored, "PNG") as check:
        check.load()
        if _pixel_hash(check) != _pixel_hash(img):  # pragma: no cover - PNG is lossless
            raise UnreadablePhoto("its pixels could not be stored without change")
        thumbs = make_thumbnails(check, orientation, preview=preview)
    return StoredPhoto(stored, "PNG", orientation, thumbs, f"pixels:{_pixel_hash(img)}")


def prepare(data: bytes, meta: PhotoMetadata, *, preview: bool = True, thumb: bytes | None = None) -> StoredPhoto:
    """The cleaned copy and thumbnails of a photo (raises :class:`UnreadablePhoto`).

    ``preview=False`` makes the grid thumbnail only (``thumbs.preview`` is None): import leaves
    the screen-size preview to :mod:`.previews` (first view, or the idle job after an import).
    ``thumb``: the thumbnail :func:`check` made of these very bytes (JPEG): then, with
    ``preview=False``, nothing is decoded again."""
    stored = _prepare(data, meta, False, preview, thumb)
    assert stored is not None
    return stored


def check(data: bytes, meta: PhotoMetadata, *, thumbnail: bool = False) -> bytes | None:
    """Every check :func:`prepare` makes that can refuse a photo (structure, metadata rebuild, a
    full decode), without encoding anything: what the plan runs, so it says what the import does.

    ``thumbnail``: also return the grid thumbnail of a JPEG, made from the check's own decode
    (a resize and a small encode more), for :func:`prepare` to reuse; None for other formats."""
    stored = _prepare(data, meta, True, False, b"" if thumbnail else None)
    return stored.thumbs.thumb if stored is not None else None


def _prepare(data: bytes, meta: PhotoMetadata, check_only: bool, preview: bool = True,
             thumb: bytes | None = None) -> StoredPhoto | None:
    try:
        if meta.format in ("JPEG", "MPO"):
            return _jpeg(data, meta, check_only, preview, thumb)
        if meta.format == "HEIC":
            return _heic(data, check_only, preview)
        if meta.format in ("PNG", "TIFF", "WEBP"):
            return _to_png(data, meta.format, meta, check_only, preview)
    except UnreadablePhoto:
        raise
    except DECODE_ERRORS as exc:  # whatever a damaged file makes a decoder raise
        raise damaged(exc) from None
    raise UnreadablePhoto(f"{meta.format} is not a photo format DermArchive imports")


def heic_fidelity(data: bytes) -> dict[str, float]:
    """PSNR (dB) and largest channel difference of the stored JPEG against the decoded HEIC."""
    import math

    from PIL import ImageChops, ImageStat

    original = open_heif(data)[0].to_pillow().convert("RGB")
    stored = prepare(data, PhotoMetadata("HEIC", *original.size))
    with Image.open(io.BytesIO(stored.data), formats=["JPEG"]) as img:
        diff = ImageChops.difference(original, img.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (3 * original.width * original.height)
    psnr = float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
    return {"psnr_db": round(psnr, 2), "max_error": float(max(hi for _lo, hi in diff.getextrema())),
            "size_ratio": round(len(stored.data) / len(data), 2)}
