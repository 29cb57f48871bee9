"""What a photo says about itself: format, size, capture time, orientation, device, location and
other identifying metadata (DESIGN §5). Read from bytes in memory; nothing is decoded in full.

Formats are recognised by content (:func:`sniff`), and Pillow only ever opens a photo with the
allow-list :data:`PIL_FORMATS` and under :data:`PIXEL_CAP`. EXIF is read with piexif; a block it
cannot parse never refuses a decodable photo (issue 14): the block is dropped whole at cleaning,
the orientation comes from Pillow's tolerant reader, and the image carries the note
:data:`DAMAGED_NOTE`. Orientation: EXIF, else XMP ``tiff:Orientation`` (as Pillow's reader).

Capture time: EXIF DateTimeOriginal with OffsetTimeOriginal (``exif-offset``), else without an
offset (``exif-local``: the phone's clock, zone unknown), else DateTimeDigitized, else the file's
modification time (``file-time``, said so in the plan), else ``unknown``. ``0000:00:00`` and other
impossible dates (before 1990, in the future) count as absent.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from typing import Any

import piexif
from PIL import Image, JpegImagePlugin

from ..archive.records import device_label
from . import jpeg, picture

PIL_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")  # MPO frames are read as JPEG
PIXEL_CAP = picture.PIXEL_CAP  # a 200 MP phone photo fits (JPEG and HEIC alike)
FULL_DECODE_CAP = 120_000_000  # formats decoded in full without a phone behind them (PNG, TIFF, WebP)
DAMAGED_NOTE = "metadata damaged, removed"
SUPPORTED = ("JPEG", "MPO", "HEIC", "PNG", "TIFF", "WEBP")


class UnreadablePhoto(Exception):
    """Looks like a photo but cannot be used; ``str`` is the plain-language reason."""


# What decoders and parsers raise on hostile or damaged files. Caught per file at the edges
# (scan, clean): such a file is rejected with a reason, the batch goes on.
DECODE_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, SyntaxError, EOFError,
                 ZeroDivisionError, RuntimeError, MemoryError, struct.error)


def damaged(exc: BaseException) -> UnreadablePhoto:
    """The plain reason for whatever a decoder raised (never the exception's name)."""
    if isinstance(exc, MemoryError):
        return UnreadablePhoto("it is too large to open with the memory this computer has free")
    return UnreadablePhoto("it is damaged (corrupt or truncated) and cannot be decoded")


def sniff(head: bytes) -> str | None:
    """Format by content (first 32 bytes), or None when it is no image format we know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif"):
            return "HEIC"
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return "VIDEO"  # mp4/mov/3gp family
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM":
        return "BMP"
    return None


def gif_claimed_pixels(data: bytes) -> int:
    """Pixels a GIF claims (screen or first image extent), read from its header only."""
    try:
        width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        while pos < len(data) and data[pos] == 0x21:  # extension blocks
            pos += 2
            while pos < len(data) and data[pos]:
                pos += data[pos] + 1
            pos += 1
        if data[pos] == 0x2C:
            left, top, w, h = (int.from_bytes(data[pos + i:pos + i + 2], "little") for i in (1, 3, 5, 7))
            width, height = max(width, left + w), max(height, top + h)
    except IndexError:
        pass
    return width * height


@dataclass(frozen=True)
class PhotoMetadata:
    format: str                      # JPEG, MPO, HEIC, PNG, TIFF, WEBP
    width: int                       # of the stored pixels (before orientation)
    height: int
    orientation: int = 1             # EXIF orientation to apply when showing (HEIC: already applied)
    taken_at: str | None = None      # ISO 8601, with offset when known
    taken_at_source: str = "unknown"  # exif-offset, exif-local, file-time, unknown
    device_make: str = ""
    device_model: str = ""
    has_location: bool = False       # GPS latitude/longitude present (EXIF or XMP)
    location: dict[str, float] | None = field(default=None, repr=False)  # only kept if asked
    identifying: tuple[str, ...] = ()  # other identifying metadata found (removed on import)
    frames: int = 1
    has_icc: bool = False
    notes: tuple[str, ...] = ()      # e.g. DAMAGED_NOTE: shown in the plan, kept on the image

    @property
    def device(self) -> str:
        return device_label(self.device_make, self.device_model)

    @property
    def megapixels(self) -> float:
        return round(self.width * self.height / 1e6, 1)

    def as_json(self) -> dict[str, Any]:
        return {"format": self.format, "width": self.width, "height": self.height,
                "orientation": self.orientation, "taken_at": self.taken_at,
                "taken_at_source": self.taken_at_source, "device": self.device,
                "has_location": self.has_location, "identifying": list(self.identifying),
                "frames": self.frames, "notes": list(self.notes)}


# -- EXIF fields ------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    return str(value or "").strip()


def _exif_time(value: Any, offset: Any) -> str | None:
    text = _text(value)
    try:
        when = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # absent, 0000:00:00, or nonsense
    if when.year < 1990 or when > datetime.now() + timedelta(days=2):
        return None  # before digital phones, or a camera clock set in the future
    off = _text(offset)
    if len(off) == 6 and off[0] in "+-" and off[3] == ":":
        try:
            return datetime.fromisoformat(when.isoformat() + off).isoformat()
        except ValueError:
            pass
    return when.isoformat()


def _rational(value: Any) -> float:
    num, den = value
    return num / den if den else float("nan")


def _gps(gps: dict[int, Any]) -> tuple[bool, dict[str, float] | None]:
    lat, lon = gps.get(piexif.GPSIFD.GPSLatitude), gps.get(piexif.GPSIFD.GPSLongitude)
    present = bool(lat) or bool(lon)
    try:
        if not (lat and lon and len(lat) == 3 and len(lon) == 3):
            return present, None
        la = sum(_rational(v) / d for v, d in zip(lat, (1, 60, 3600)))
        lo = sum(_rational(v) / d for v, d in zip(lon, (1, 60, 3600)))
    except (TypeError, ValueError, ZeroDivisionError):
        return present, None
    if _text(gps.get(piexif.GPSIFD.GPSLatitudeRef)).upper() == "S":
        la = -la
    if _text(gps.get(piexif.GPSIFD.GPSLongitudeRef)).upper() == "W":
        lo = -lo
    if la != la or lo != lo:  # NaN from a zero denominator
        return present, None
    return present, {"lat": round(la, 7), "lon": round(lo, 7)}


_IDENTIFYING_TAGS = {
    ("Exif", piexif.ExifIFD.MakerNote): "maker notes",
    ("Exif", piexif.ExifIFD.UserComment): "comment",
    ("0th", piexif.ImageIFD.ImageDescription): "description",
    ("0th", piexif.ImageIFD.Artist): "artist",
    ("0th", piexif.ImageIFD.Copyright): "copyright",
    ("0th", piexif.ImageIFD.XPComment): "comment",
    ("0th", piexif.ImageIFD.XPAuthor): "artist",
    ("Exif", piexif.ExifIFD.BodySerialNumber): "serial number",
    ("Exif", piexif.ExifIFD.CameraOwnerName): "owner name",
    ("Exif", piexif.ExifIFD.ImageUniqueID): "unique id",
}


@dataclass
class _ExifFacts:
    orientation: int | None = None   # None: not stated (XMP may; else 1)
    taken_at: str | None = None
    source: str = "unknown"
    make: str = ""
    model: str = ""
    has_location: bool = False
    location: dict[str, float] | None = None
    identifying: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)


def _exif_facts(block: bytes | None) -> _ExifFacts:
    facts = _ExifFacts()
    if not block:
        return facts
    try:
        exif = jpeg.load_exif(block)
    except jpeg.EXIF_ERRORS:
        # Unparseable (a bad DPI rational, a missing tag, short IFDs): the whole block is dropped
        # at cleaning; the tolerant reader still gives the orientation. Location cannot be
        # checked, but nothing of the block is kept, so nothing of it can leak.
        facts.orientation = picture.exif_block_orientation(block)
        facts.notes.add(DAMAGED_NOTE)
        facts.identifying.add("damaged EXIF block")
        return facts
    zeroth, sub = exif.get("0th", {}), exif.get("Exif", {})
    facts.orientation = picture.valid(zeroth.get(piexif.ImageIFD.Orientation))
    facts.make, facts.model = _text(zeroth.get(piexif.ImageIFD.Make)), _text(zeroth.get(piexif.ImageIFD.Model))
    original = _exif_time(sub.get(piexif.ExifIFD.DateTimeOriginal), sub.get(piexif.ExifIFD.OffsetTimeOriginal))
    if original:
        facts.taken_at = original
        facts.source = "exif-offset" if ("+" in original[10:] or "-" in original[10:]) else "exif-local"
    else:
        digitized = _exif_time(sub.get(piexif.ExifIFD.DateTimeDigitized), None)
        if digitized:
            facts.taken_at, facts.source = digitized, "exif-local"
    facts.has_location, facts.location = _gps(exif.get("GPS") or {})
    for (ifd, tag), what in _IDENTIFYING_TAGS.items():
        if exif.get(ifd, {}).get(tag):
            facts.identifying.add(what)
    if exif.get("thumbnail") or exif.get("1st"):
        facts.identifying.add("embedded thumbnail")
    if exif.get("GPS") and not facts.has_location:
        facts.identifying.add("GPS block without coordinates")
    return facts


def _xmp_facts(xmp: bytes | None, facts: _ExifFacts) -> None:
    if not xmp:
        return
    facts.identifying.add("XMP")
    if b"GPSLatitude" in xmp or b"GPSLongitude" in xmp:
        facts.has_location = True
    if facts.orientation is None:  # EXIF said nothing: XMP's tiff:Orientation (as Pillow reads it)
        facts.orientation = picture.xmp_orientation(xmp)


def _file_time(mtime: float | None, facts: _ExifFacts) -> None:
    if facts.taken_at is None and mtime is not None:
        facts.taken_at = datetime.fromtimestamp(mtime, UTC).astimezone().isoformat(timespec="seconds")
        facts.source = "file-time"


# -- per format ---------------------------------------------------------------------------------
def _jpeg(data: bytes) -> tuple[PhotoMetadata, _ExifFacts]:
    try:
        parts = jpeg.frames(data)
    except jpeg.JpegStructureError as exc:
        raise UnreadablePhoto(str(exc)) from None
    first = parts[0]
    facts = _exif_facts(jpeg.exif_block(data, first))
    all_kinds = [k for f in parts for k in jpeg.kinds(data, f)]
    for f in parts[1:]:  # later frames (MPO) carry their own EXIF, GPS included
        more = _exif_facts(jpeg.exif_block(data, f))
        facts.identifying |= more.identifying
        facts.has_location = facts.has_location or more.has_location
    for kind, what in (("xmp", "XMP"), ("iptc", "IPTC"), ("comment", "comment")):
        if kind in all_kinds:
            facts.identifying.add(what)
    if any(k.startswith("app") and k not in ("app14",) for k in all_kinds):
        facts.identifying.add("other maker blocks")
    for f in parts:
        for seg in f.segments:
            if jpeg.app_kind(data, seg) == "xmp":
                _xmp_facts(seg.payload(data), facts)
    with open_pil(data, "JPEG") as img:
        width, height = img.size
    meta = PhotoMetadata("MPO" if len(parts) > 1 else "JPEG", width, height, frames=len(parts),
                         has_icc="icc" in all_kinds)
    return meta, facts


def open_pil(data: bytes, fmt: str) -> Image.Image:
    """Open with Pillow, allowing only the format the content was recognised as."""
    Image.init()
    try:
        if fmt in ("JPEG", "MPO"):
            # The JPEG class itself: the first frame, without Pillow's MPO guesswork (jpeg.frames
            # decides what is a multi-picture file).
            img = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
        else:
            img = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        raise UnreadablePhoto("it claims an impossibly large picture (a decompression bomb)") from None
    except (OSError, ValueError, SyntaxError):
        raise UnreadablePhoto("it is damaged (corrupt or truncated) and cannot be read") from None
    cap = PIXEL_CAP if img.format in ("JPEG", "MPO") else FULL_DECODE_CAP
    if img.size[0] * img.size[1] > cap:
        img.close()
        raise UnreadablePhoto(f"it claims {img.size[0]}×{img.size[1]} pixels, more than DermArchive "
                              f"opens ({cap // 1_000_000} megapixels): treated as a decompression bomb")
    return img


def open_heif(data: bytes) -> Any:
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError, SyntaxError):
        raise UnreadablePhoto("it is damaged and cannot be read as HEIC/HEIF") from None
    width, height = heif.size
    if width * height > PIXEL_CAP:
        raise UnreadablePhoto(f"it claims {width}×{height} pixels, more than DermArchive opens "
                              f"({PIXEL_CAP // 1_000_000} megapixels)")
    return heif


def _heic(data: bytes) -> tuple[PhotoMetadata, _ExifFacts]:
    heif = open_heif(data)
    try:  # secondary top-level images (bursts) are small or rare; a truncated one shows here
        for i in range(1, len(heif)):
            heif[i].data  # noqa: B018 - decodes
    except (ValueError, RuntimeError, OSError):
        raise UnreadablePhoto("the file ends before the picture does (truncated, or still syncing)") from None
    info = heif.info
    facts = _exif_facts(info.get("exif"))
    facts.orientation = 1  # libheif applies the file's rotation while decoding
    _xmp_facts(info.get("xmp"), facts)
    if info.get("thumbnails"):
        facts.identifying.add("embedded thumbnail")
    if info.get("depth_images"):
        facts.identifying.add("depth map")
    width, height = heif.size
    return PhotoMetadata("HEIC", width, height, frames=len(heif), has_icc=bool(info.get("icc_profile"))), facts


def _check_complete(data: bytes, fmt: str) -> None:
    """PNG: every chunk up to IEND is there; WebP: the RIFF size fits the file."""
    truncated = UnreadablePhoto("the file ends before the picture does (truncated, or still syncing)")
    if fmt == "PNG":
        pos = 8
        while True:
            if pos + 8 > len(data):
                raise truncated
            length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
            pos += 12 + length
            if pos > len(data):
                raise truncated
            if kind == b"IEND":
                return
    if fmt == "WEBP" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise truncated


def _tiff_facts(img: Image.Image) -> _ExifFacts:
    """TIFF keeps its EXIF as tags of the image itself: read them through Pillow."""
    facts = _ExifFacts()
    try:
        tags = img.getexif()
        sub, gps = tags.get_ifd(0x8769), tags.get_ifd(0x8825)
        facts.orientation = 1  # Pillow turns TIFF pixels upright while decoding
        facts.make, facts.model = _text(tags.get(0x010F)), _text(tags.get(0x0110))
        facts.taken_at = _exif_time(sub.get(0x9003), sub.get(0x9011))
        if facts.taken_at:
            facts.source = "exif-offset" if len(facts.taken_at) > 19 else "exif-local"
        lat, lon = gps.get(2), gps.get(4)
        facts.has_location = bool(lat) or bool(lon)
        if lat and lon:
            facts.location = _gps({2: [(float(v), 1) for v in lat], 4: [(float(v), 1) for v in lon],
                                   1: gps.get(1), 3: gps.get(3)})[1]
    except (ValueError, TypeError, KeyError, OSError, struct.error):
        raise UnreadablePhoto("its metadata tags are damaged, so it cannot be checked for a location") from None
    for tag, what in ((0x010E, "description"), (0x013B, "artist"), (0x8298, "copyright"),
                      (0x02BC, "XMP"), (0x83BB, "IPTC")):
        if tags.get(tag):
            facts.identifying.add(what)
    if sub.get(0x927C):
        facts.identifying.add("maker notes")
    return facts


def _other(data: bytes, fmt: str) -> tuple[PhotoMetadata, _ExifFacts]:
    _check_complete(data, fmt)
    with open_pil(data, fmt) as img:
        exif = img.info.get("exif")
        if exif and not exif.startswith(jpeg.EXIF_HEADER):
            exif = jpeg.EXIF_HEADER + exif
        facts = _tiff_facts(img) if fmt == "TIFF" else _exif_facts(exif)
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
        _xmp_facts(xmp.encode() if isinstance(xmp, str) else xmp, facts)
        text_keys = set(img.info) - {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "dpi", "gamma",
                                     "srgb", "transparency", "compression", "resolution", "aspect",
                                     "chromaticity", "loop", "duration", "background", "timestamp"}
        if img.format == "TIFF":
            text_keys = set()  # its tags were read above
        if text_keys:
            facts.identifying.add("text fields")
        meta = PhotoMetadata(img.format, img.size[0], img.size[1], frames=getattr(img, "n_frames", 1),
                             has_icc=bool(img.info.get("icc_profile")))
    return meta, facts


def read_metadata(data: bytes, fmt: str, mtime: float | None = None) -> PhotoMetadata:
    """Metadata of a photo in memory; ``fmt`` from :func:`sniff`. Raises :class:`UnreadablePhoto`."""
    if fmt == "JPEG":
        meta, facts = _jpeg(data)
    elif fmt == "HEIC":
        meta, facts = _heic(data)
    elif fmt in ("PNG", "TIFF", "WEBP"):
        meta, facts = _other(data, fmt)
    else:
        raise UnreadablePhoto(f"{fmt} is not a photo format DermArchive imports")
    _file_time(mtime, facts)
    return PhotoMetadata(
        meta.format, meta.width, meta.height, facts.orientation or 1, facts.taken_at, facts.source,
        facts.make, facts.model, facts.has_location, facts.location, tuple(sorted(facts.identifying)),
        meta.frames, meta.has_icc, tuple(sorted(facts.notes)))
