"""JPEG and MPO at the segment level: structure check and lossless metadata cleaning.

A JPEG is a list of marker segments (APPn metadata, quantisation and Huffman tables, frame
header, scans of entropy-coded data) ending in EOI. Cleaning rebuilds the file from the *same*
coding segments and scan bytes, dropping metadata segments and replacing the EXIF block with a
new one built from an allow-list. The compressed image data is copied byte for byte, so the
decoded pixels are identical by construction; :func:`coding_digest` (a SHA-256 of everything
that decides the pixels) is compared before and after as the proof at import time, and the tests
compare decoded pixels.

Kept: JFIF APP0 (without its thumbnail), ICC profile (APP2 ``ICC_PROFILE``), Adobe APP14 (it
decides the colour transform), and the EXIF tags of :data:`EXIF_KEEP`. An EXIF block piexif cannot
parse is dropped whole (never half-parsed); the orientation is then written from the tolerant
reader. Dropped: XMP (incl. extended XMP and its GPS), IPTC/Photoshop (APP13), COM
comments, every other APPn (maker blocks, FlashPix, C2PA/JUMBF…), the EXIF thumbnail (IFD1), GPS,
maker notes, artist, descriptions, serial numbers, and any bytes after the last frame's EOI
(e.g. a "motion photo" video appended by some Android cameras).

MPO (stereo pairs, iPhone HDR gain maps) is a JPEG followed by more JPEG frames; the first frame's
MPF segment records each frame's size and offset. The stored copy is the primary image alone
(issue 14: a kept MPF index dangled, or a second frame kept its own device and date).
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

import piexif
from PIL import Image, TiffTags
from PIL.TiffImagePlugin import IFDRational

SOI = b"\xff\xd8"
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a real marker inside entropy-coded data
_STANDALONE = {0xD8, 0x01} | set(range(0xD0, 0xD8))

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")

# EXIF tags that survive cleaning: what the catalogue and a correct display need, nothing else.
EXIF_KEEP = {
    "0th": (piexif.ImageIFD.Orientation, piexif.ImageIFD.Make, piexif.ImageIFD.Model,
            piexif.ImageIFD.XResolution, piexif.ImageIFD.YResolution, piexif.ImageIFD.ResolutionUnit),
    "Exif": (piexif.ExifIFD.DateTimeOriginal, piexif.ExifIFD.DateTimeDigitized,
             piexif.ExifIFD.OffsetTimeOriginal, piexif.ExifIFD.SubSecTimeOriginal,
             piexif.ExifIFD.ColorSpace),
}
# piexif raises these on a malformed EXIF block (DESIGN §2): that file is rejected, never the batch.
EXIF_ERRORS = (struct.error, ValueError, TypeError, MemoryError, KeyError, IndexError)


class JpegStructureError(ValueError):
    """The file is not a complete JPEG; ``str`` is a plain-language reason."""


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int          # offset of the 0xFF of the marker
    end: int            # offset just past the segment (for SOS: past its entropy-coded data)

    def payload(self, data: bytes) -> bytes:
        """Segment content after marker and length (for SOS: header and scan data)."""
        return data[self.start + 4:self.end]


@dataclass(frozen=True)
class Frame:
    start: int
    end: int            # just past EOI
    segments: tuple[Segment, ...]


def parse_frame(data: bytes, start: int = 0) -> Frame:
    """Walk one JPEG stream from its SOI to its EOI; raise JpegStructureError if incomplete."""
    if data[start:start + 2] != SOI:
        raise JpegStructureError("it does not start like a JPEG file")
    segments: list[Segment] = []
    pos, n = start + 2, len(data)
    while True:
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            raise JpegStructureError("the file ends before the picture does (truncated, or still syncing)")
        if data[pos] != 0xFF:
            raise JpegStructureError("its internal structure is damaged (corrupt file)")
        marker = data[pos + 1]
        if marker == 0xD9:
            return Frame(start, pos + 2, tuple(segments))
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            raise JpegStructureError("the file ends before the picture does (truncated, or still syncing)")
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > n:
            raise JpegStructureError("the file ends before the picture does (truncated, or still syncing)")
        if marker == 0xDA:  # scan: entropy-coded data follows up to the next real marker
            found = _MARKER.search(data, end)
            if found is None:
                raise JpegStructureError("the file ends before the picture does (truncated, or still syncing)")
            end = found.start()
        segments.append(Segment(marker, pos, end))
        pos = end


def app_kind(data: bytes, seg: Segment) -> str:
    body = data[seg.start + 4:seg.start + 4 + 40]
    m = seg.marker
    if m == 0xE0:
        return "jfif" if body.startswith(b"JFIF\x00") else "app0-other"
    if m == 0xE1:
        if body.startswith(EXIF_HEADER):
            return "exif"
        return "xmp" if body.startswith(XMP_HEADERS) else "app1-other"
    if m == 0xE2:
        if body.startswith(b"ICC_PROFILE\x00"):
            return "icc"
        return "mpf" if body.startswith(b"MPF\x00") else "app2-other"
    if m == 0xED:
        return "iptc"
    if m == 0xEE and body.startswith(b"Adobe"):
        return "adobe"
    if m == 0xFE:
        return "comment"
    if 0xE0 <= m <= 0xEF:
        return f"app{m - 0xE0}"
    return "coding"


def kinds(data: bytes, frame: Frame) -> list[str]:
    return [app_kind(data, s) for s in frame.segments]


def exif_block(data: bytes, frame: Frame) -> bytes | None:
    """The first EXIF block of a frame (``Exif\\0\\0`` + TIFF), or None."""
    for seg in frame.segments:
        if app_kind(data, seg) == "exif":
            return seg.payload(data)
    return None


def coding_digest(data: bytes, frame: Frame) -> str:
    """SHA-256 over every segment that decides the decoded pixels (tables, frame, scans)."""
    h = hashlib.sha256()
    view = memoryview(data)  # no copy of the (megabytes of) scan data
    for seg in frame.segments:
        if app_kind(data, seg) in ("coding", "adobe"):
            h.update(view[seg.start:seg.end])
    return h.hexdigest()


# ComponentsConfiguration is UNDEFINED in the EXIF standard; Pillow's table has no type for it
# (it would write BYTE, which exiftool -validate flags).
TiffTags.TAGS_V2_GROUPS.setdefault(0x8769, {})[0x9101] = TiffTags.TagInfo(
    0x9101, "ComponentsConfiguration", TiffTags.UNDEFINED, 4)


def _ascii(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in value).strip()
    return text or None


def _rational(value: object, default: float) -> IFDRational:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value) and value[1] > 0 \
            and value[0] > 0:
        return IFDRational(value[0], value[1])
    return IFDRational(int(default), 1)  # a bad or missing DPI rational: the EXIF default


def rebuild_exif(exif: dict, *, orientation: int | None = None, size: tuple[int, int] | None = None) -> bytes | None:
    """A new EXIF block (``Exif\\0\\0`` + TIFF) holding only the :data:`EXIF_KEEP` values of
    ``exif`` (piexif's dict; values of the wrong type are left out, a bad or missing resolution
    becomes 72 dpi) plus the tags the EXIF standard requires of a JPEG, so the stored copy reads
    clean under ``exiftool -validate``. None when there is nothing to keep."""
    zeroth, sub = exif.get("0th", {}) or {}, exif.get("Exif", {}) or {}
    kept = {t for t in EXIF_KEEP["0th"] if t in zeroth} | {t for t in EXIF_KEEP["Exif"] if t in sub}
    if orientation is None and not kept:
        return None
    out = Image.Exif()
    value = zeroth.get(piexif.ImageIFD.Orientation)
    out[0x0112] = orientation or (value if isinstance(value, int) and 1 <= value <= 8 else 1)
    for tag in (piexif.ImageIFD.Make, piexif.ImageIFD.Model):
        text = _ascii(zeroth.get(tag))
        if text:
            out[tag] = text
    out[0x011A] = _rational(zeroth.get(piexif.ImageIFD.XResolution), 72)
    out[0x011B] = _rational(zeroth.get(piexif.ImageIFD.YResolution), 72)
    unit = zeroth.get(piexif.ImageIFD.ResolutionUnit)
    out[0x0128] = unit if unit in (2, 3) else 2
    out[0x0213] = 1  # YCbCrPositioning: centred (what every JPEG encoder here writes)
    ifd = out.get_ifd(0x8769)
    ifd[0x9000] = b"0232"
    ifd[0x9101] = b"\x01\x02\x03\x00"
    ifd[0xA000] = b"0100"
    space = sub.get(piexif.ExifIFD.ColorSpace)
    ifd[0xA001] = space if space in (1, 0xFFFF) else 0xFFFF
    if size is not None:
        ifd[0xA002], ifd[0xA003] = size
    for tag in (piexif.ExifIFD.DateTimeOriginal, piexif.ExifIFD.DateTimeDigitized,
                piexif.ExifIFD.OffsetTimeOriginal, piexif.ExifIFD.SubSecTimeOriginal):
        text = _ascii(sub.get(tag))
        if text:
            ifd[tag] = text
    return out.tobytes()


def sof_size(data: bytes, frame: Frame) -> tuple[int, int] | None:
    """(width, height) from the frame header."""
    for seg in frame.segments:
        if 0xC0 <= seg.marker <= 0xCF and seg.marker not in (0xC4, 0xC8, 0xCC):
            body = seg.payload(data)
            return int.from_bytes(body[3:5], "big"), int.from_bytes(body[1:3], "big")
    return None


def load_exif(block: bytes) -> dict:
    """piexif's dict of a block; raises one of :data:`EXIF_ERRORS` when it is malformed."""
    return piexif.load(block)


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise JpegStructureError("a metadata block is too large to rewrite")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _icc_complete(payloads: list[bytes]) -> bool:
    """The APP2 ICC_PROFILE chunks make one whole profile (numbered 1…n, total length as stated)."""
    try:
        chunks = sorted((p[12], p[13], p[14:]) for p in payloads)
        if [c[0] for c in chunks] != list(range(1, len(chunks) + 1)) or {c[1] for c in chunks} != {len(chunks)}:
            return False
        profile = b"".join(c[2] for c in chunks)
    except IndexError:
        return False
    return len(profile) >= 128 and int.from_bytes(profile[:4], "big") == len(profile) and profile[36:40] == b"acsp"


def _clean_frame(data: bytes, frame: Frame, orientation: int | None = None) -> tuple[bytes, bool]:
    """Cleaned bytes of one frame, and whether its EXIF block was damaged (and so dropped whole).

    ``orientation`` (when not None) is written into the new EXIF block: the tolerant reader's
    value for a damaged block, or XMP's when the EXIF said nothing (XMP itself is dropped)."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = [SOI]
    exif: dict = {}
    damaged = False
    exif_at: int | None = None
    icc: list[tuple[int, bytes]] = []  # (index in parts, payload)
    for seg in frame.segments:
        kind = app_kind(data, seg)
        part: bytes | memoryview | None = None
        if kind == "icc":
            icc.append((len(parts), seg.payload(data)))
        if kind in ("coding", "adobe", "icc"):
            part = view[seg.start:seg.end]
        elif kind == "jfif":
            body = seg.payload(data)[:14]
            if len(body) == 14:
                part = _segment(0xE0, body[:12] + b"\x00\x00")  # same header, no thumbnail
        elif kind == "exif" and exif_at is None:
            exif_at = len(parts)  # the rebuilt block goes where the first one was
            try:
                exif = load_exif(seg.payload(data))
            except EXIF_ERRORS:
                damaged = True  # dropped whole: never a half-parsed block
        # everything else (XMP, IPTC, comments, MPF, other APPn, duplicate EXIF) is dropped
        if part is not None:
            parts.append(part)
    if icc and not _icc_complete([p for _, p in icc]):
        damaged = True  # a colour profile that is not one (bad length, missing chunks): dropped whole
        for index, _ in reversed(icc):
            del parts[index]
            if exif_at is not None and index < exif_at:
                exif_at -= 1
    if exif_at is None and orientation in (None, 1):
        block = None  # no EXIF, nothing to say: none is added
    else:
        block = rebuild_exif(exif, orientation=orientation, size=sof_size(data, frame))
    if block:
        parts.insert(exif_at if exif_at is not None else (2 if len(parts) > 1 and bytes(parts[1][:2]) == b"\xff\xe0" else 1),
                     _segment(0xE1, block))
    parts.append(b"\xff\xd9")
    return b"".join(parts), damaged


# -- MPO --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MpEntries:
    endian: str
    entries_at: int      # absolute offset of the first 16-byte MP entry in the file
    count: int


def _mp_entries(data: bytes, frame: Frame) -> _MpEntries | None:
    for seg in frame.segments:
        if app_kind(data, seg) != "mpf":
            continue
        base = seg.start + 8
        try:
            order = data[base:base + 2]
            endian = {b"II": "<", b"MM": ">"}[order]
            ifd = base + struct.unpack(endian + "I", data[base + 4:base + 8])[0]
            (n_tags,) = struct.unpack(endian + "H", data[ifd:ifd + 2])
            for i in range(n_tags):
                tag, typ, count, value = struct.unpack(endian + "HHII", data[ifd + 2 + 12 * i:ifd + 14 + 12 * i])
                if tag == 0xB002 and count % 16 == 0 and count >= 32 and base + value + count <= seg.end:
                    return _MpEntries(endian, base + value, count // 16)
        except (KeyError, struct.error):
            return None
    return None


def frames(data: bytes) -> list[Frame]:
    """Every frame of a JPEG or MPO file; a bad MP index means a single-frame JPEG."""
    first = parse_frame(data, 0)
    mp = _mp_entries(data, first)
    if mp is None:
        return [first]
    base = mp.entries_at
    tiff = next(s.start + 8 for s in first.segments if app_kind(data, s) == "mpf")
    result = [first]
    for i in range(1, mp.count):
        _attr, size, offset, _d1, _d2 = struct.unpack(mp.endian + "IIIHH", data[base + 16 * i:base + 16 * i + 16])
        start = tiff + offset
        if offset == 0 or data[start:start + 2] != SOI:
            return [first]  # the index does not point at a frame: treat as a plain JPEG
        result.append(parse_frame(data, start))
    return result


@dataclass(frozen=True)
class CleanedJpeg:
    data: bytes
    frames: int          # frames of the source (the cleaned copy holds the primary image only)
    digest: str          # coding digest of the primary image, identical before and after
    damaged_exif: bool = False  # its EXIF block could not be parsed and was dropped whole


def clean(data: bytes, orientation: int | None = None, *, prove: bool = True) -> CleanedJpeg:
    """Lossless cleaning of a JPEG/MPO (see module docstring): the primary image only.

    A multi-picture file (MPO stereo pair, HDR gain map, depth map) keeps its first frame alone:
    no MPF index (it would point past the end of the copy) and no later frame with its own Make,
    Model and date. Raises JpegStructureError. ``prove=False`` (the scan's check, which stores
    nothing) skips the coding digests before and after (``digest`` is then empty); the import
    always proves the copy it stores."""
    parts = frames(data)
    cleaned, damaged = _clean_frame(data, parts[0], orientation)
    if not prove:
        return CleanedJpeg(cleaned, len(parts), "", damaged)
    before = coding_digest(data, parts[0])
    if coding_digest(cleaned, parse_frame(cleaned)) != before:
        raise AssertionError("JPEG cleaning changed the coded image data")  # pragma: no cover - a bug
    return CleanedJpeg(cleaned, len(parts), hashlib.sha256(before.encode()).hexdigest(), damaged)
