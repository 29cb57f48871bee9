"""How every path turns photo bytes into upright pixels: ONE orientation rule and ONE size policy.

Every consumer (viewer, thumbnails, referral print, de-identified export, DICOM, the import's own
previews) goes through :func:`orientation_of` / :func:`upright` and :func:`decode_upright`, so a
mirrored photo cannot be mirrored on one path and not on another (issue 14: the de-identified
export once skipped orientation 2 because ``FLIP_LEFT_RIGHT`` is 0 and ``if method:`` is false).

The orientation rule
    The EXIF Orientation of the file itself (EXIF in JPEG, PNG ``eXIf``, WebP, TIFF; else an XMP
    ``tiff:Orientation``, which Pillow's reader falls back to), read with Pillow's tolerant
    parser; when the file has none (or a damaged one), the value recorded in the catalogue at
    import. Import writes the orientation into every stored copy's EXIF, so both agree. HEIC is
    turned by libheif while decoding and stored upright (orientation 1). All 8 values.

The size policy
    Import accepts up to :data:`PIXEL_CAP` (a 200 MP phone photo). Every output path asks for the
    size it needs (``max_side`` / ``max_pixels``); JPEG is then draft-decoded (the decoder scales by
    1/2…1/8, so a 200 MP photo never exists in memory at full size) and anything still larger is
    resampled down. :class:`Decoded` says whether it was downscaled and from what size, so the
    output can say so. Pillow's own decompression-bomb guard is replaced by these caps (its
    warning would otherwise reach stderr for every photo above 89 MP).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, JpegImagePlugin

PIXEL_CAP = 210_000_000   # a 200 MP phone photo (16320×12240 = 199.8 MP) fits
# Pillow's guard is replaced by PIXEL_CAP (checked on every open below): without this, Pillow warns
# on stderr above 89 MP and refuses above 179 MP, i.e. a 200 MP phone JPEG.
Image.MAX_IMAGE_PIXELS = PIXEL_CAP
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
# Pillow's tolerant EXIF reader warns on stderr about the damaged blocks it reads past; the import
# says so on the image instead ("metadata damaged, removed").
warnings.filterwarnings("ignore", message=r"(Truncated File Read|Corrupt EXIF data|Possibly corrupt EXIF)",
                        category=UserWarning)

# EXIF orientation → the transpose that makes the stored pixels upright (as ImageOps.exif_transpose).
TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
STORED_FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "WEBP")
# Above this a JPEG is only ever draft-decoded (1/2…1/8) to fit an output's pixel cap; below it a
# full decode (≤ 300 MB of RGB) and a resize are cheaper in quality terms.
FULL_DECODE_PIXELS = 100_000_000  # what the archive may hold (older imports: TIFF/WebP)

_XMP_ORIENTATION = (re.compile(rb'tiff:Orientation\s*=\s*["\']([1-8])["\']'),
                    re.compile(rb"<tiff:Orientation>\s*([1-8])\s*</tiff:Orientation>"))


class PictureError(ValueError):
    """The bytes are no picture this program can decode; ``str`` is a plain-language reason."""


def valid(value: Any) -> int | None:
    """``value`` as an orientation 1–8, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8 else None


def swaps_sides(orientation: int) -> bool:
    return orientation in (5, 6, 7, 8)


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if swaps_sides(orientation) else size


def upright(img: Image.Image, orientation: int) -> Image.Image:
    """THE rule: the picture turned as ``orientation`` says (1 or unknown: unchanged)."""
    method = TRANSPOSE.get(orientation)
    return img if method is None else img.transpose(method)


def xmp_orientation(xmp: bytes | str | None) -> int | None:
    if not xmp:
        return None
    raw = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else xmp
    for pattern in _XMP_ORIENTATION:
        found = pattern.search(raw)
        if found:
            return int(found.group(1))
    return None


def file_orientation(img: Image.Image) -> int | None:
    """The orientation a decoded file states (EXIF, else XMP), tolerant of damaged blocks."""
    try:
        value = valid(img.getexif().get(0x0112))
    except Exception:  # noqa: BLE001 - a damaged EXIF block only means "no tag" here
        value = None
    if value is None:
        value = xmp_orientation(img.info.get("xmp") or img.info.get("XML:com.adobe.xmp"))
    return value


def orientation_of(img: Image.Image, recorded: int = 1) -> int:
    """The orientation to apply to a stored copy: its own tag, else the catalogue's value."""
    if img.format in ("HEIF", "HEIC", "AVIF"):
        return 1  # libheif applied the file's rotation while decoding
    return file_orientation(img) or valid(recorded) or 1


def exif_block_orientation(block: bytes | None) -> int | None:
    """Orientation from a raw EXIF block (``Exif\\0\\0`` optional), with Pillow's tolerant parser:
    it reads what it can of a block piexif rejects (bad rationals, a missing tag, short IFDs)."""
    if not block:
        return None
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    try:
        exif = Image.Exif()
        exif.load(block)
        return valid(exif.get(0x0112))
    except Exception:  # noqa: BLE001 - whatever a damaged block makes the parser raise
        return None


# -- decoding ---------------------------------------------------------------------------------
def _heif_ready() -> None:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - a runtime dependency
        pass


def open_picture(data: bytes, formats: tuple[str, ...] = STORED_FORMATS) -> Image.Image:
    """Open lazily (nothing decoded yet) with an allow-list of formats, under :data:`PIXEL_CAP`."""
    if "HEIF" in formats:
        _heif_ready()
    Image.init()
    try:
        if data[:3] == b"\xff\xd8\xff" and ("JPEG" in formats or "MPO" in formats):
            img: Image.Image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))  # first frame, no MPO guesswork
        else:
            img = Image.open(io.BytesIO(data), formats=[f for f in formats if f in Image.OPEN])
    except Image.DecompressionBombError:
        raise PictureError("it claims an impossibly large picture (a decompression bomb)") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad files
        raise PictureError("it is damaged or not a picture, and cannot be decoded") from None
    if img.size[0] * img.size[1] > PIXEL_CAP:
        img.close()
        raise PictureError(f"it claims {img.size[0]}×{img.size[1]} pixels, more than DermArchive opens "
                           f"({PIXEL_CAP // 1_000_000} megapixels)")
    return img


@dataclass
class Decoded:
    image: Image.Image                 # upright, at most the size asked for
    icc: bytes | None
    source_size: tuple[int, int]       # upright size of the full picture
    orientation: int                   # what was applied
    format: str = ""                   # the decoder's format name (JPEG, PNG, HEIF…)

    @property
    def downscaled(self) -> bool:
        return self.image.size != self.source_size

    def note(self) -> str:
        """Plain words for the output when the picture was made smaller than the original."""
        if not self.downscaled:
            return ""
        return (f"downscaled from {self.source_size[0]}×{self.source_size[1]} to "
                f"{self.image.size[0]}×{self.image.size[1]} pixels")


def fit(size: tuple[int, int], max_side: int | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit both limits."""
    w, h = size
    scale = 1.0
    if max_side:
        scale = min(scale, max_side / max(w, h))
    if max_pixels:
        scale = min(scale, (max_pixels / (w * h)) ** 0.5)
    return max(1, int(w * scale)), max(1, int(h * scale))


def decode_upright(data: bytes, *, recorded: int = 1, max_side: int | None = None,
                   max_pixels: int | None = None, formats: tuple[str, ...] = STORED_FORMATS,
                   orient: bool = True, orientation: int | None = None) -> Decoded:
    """Decode ``data`` upright at no more than ``max_side`` / ``max_pixels`` (the size policy).

    The orientation is the rule's (:func:`orientation_of` with ``recorded``), or ``orientation``
    when the caller has already resolved it that way; ``orient=False`` keeps the stored pixels.

    Raises :class:`PictureError` with a plain reason for anything that cannot be decoded."""
    img = open_picture(data, formats)
    try:
        if not orient:
            orientation = 1
        elif orientation is None or img.format in ("HEIF", "HEIC", "AVIF"):
            orientation = orientation_of(img, recorded)
        full = upright_size(img.size, orientation)
        want = fit(full, max_side, max_pixels)
        icc = img.info.get("icc_profile") or None
        fmt = img.format or ""
        try:
            if img.format in ("JPEG", "MPO") and want != full:
                target = want
                if max_pixels and full[0] * full[1] > FULL_DECODE_PIXELS:
                    # Never decode a huge JPEG in full: the largest 1/2…1/8 scale within the cap.
                    scale = next((s for s in (2, 4, 8) if full[0] * full[1] / (s * s) <= max_pixels), 8)
                    target = (full[0] // scale, full[1] // scale)
                    want = fit(target, max_side, max_pixels)
                img.draft(img.mode if img.mode in ("RGB", "L") else None, upright_size(target, orientation))
            img.load()
            if img.size != upright_size(want, orientation):
                stored_want = upright_size(want, orientation)
                factor = min(img.size[0] // stored_want[0], img.size[1] // stored_want[1])
                if factor >= 2:  # cheap box reduction first: never two large copies at once
                    img = img.reduce(factor)
                if img.size != stored_want:
                    img = img.resize(stored_want, Image.Resampling.LANCZOS)
            pic = upright(img, orientation)
        except PictureError:
            raise
        except MemoryError:
            raise PictureError("it is too large to decode with the memory available") from None
        except Exception:  # noqa: BLE001 - Pillow raises many types for damaged data
            raise PictureError("its picture data is damaged (corrupt or truncated) and cannot be decoded") from None
        if pic is not img:
            img.close()
        pic.info = {}  # nothing of the source's metadata rides along (EXIF, XMP, comment…)
        return Decoded(pic, icc, full, orientation, fmt)
    except BaseException:
        img.close()
        raise
