"""Pixels for a DICOM instance, from a stored photo, in memory only.

Routes (``Pixels.route``), chosen per photo and counted in every export summary:

``wrapped``
    A baseline JPEG (SOF0, 8-bit) shown upright: its entropy-coded data goes into the DICOM file
    unchanged (JPEG Baseline transfer syntax 1.2.840.10008.1.2.4.50). Only metadata segments are
    dropped: APP0–APP13, APP15 (EXIF, XMP, MPF, maker data, ICC — the ICC profile moves to the
    ICC Profile attribute) and comments; APP14 (Adobe) stays, it decides the colour transform.
``rotated-lossless``
    DICOM has no EXIF orientation, so a JPEG whose orientation is not 1 is turned with
    ``jpegtran -perfect`` (DCT coefficients rearranged, no requantisation). Piped through
    stdin/stdout: the plaintext never touches the disk.
``transcoded-lossless``
    A progressive (or extended-sequential) JPEG rewritten by jpegtran as baseline with the very
    same coefficients (and turned, when needed, in the same pass).
``re-encoded``
    jpegtran is not installed (``Pixels.without_jpegtran``: the export says so and names the
    package), or ``-perfect`` was impossible (the image size is not a multiple of the JPEG block size along the
    edge the turn moves), or its chroma sampling is not 4:2:2/4:2:0 (4:4:4 would be YBR_FULL,
    which the VL and dermoscopic IODs do not allow; 4:4:0 and 4:1:1 fit no allowed value):
    decoded, turned, encoded again as baseline JPEG (quality 95, 4:2:2).
``converted-lossy``
    HEIC/HEIF, WebP and other lossy sources: decoded and encoded as baseline JPEG, quality 95,
    4:2:2 (YBR_FULL_422). Why: the source was lossy already, every PACS and viewer decodes JPEG
    Baseline, and a 12 MP photo stays a few MB instead of 36 MB uncompressed; the fidelity is
    measured (PSNR against the decoded source) by the tests and bench.
``converted-lossless``
    PNG/TIFF/BMP (lossless sources): uncompressed RGB (or MONOCHROME2) in Explicit VR Little
    Endian, bit-for-bit the decoded pixels; screenshots and scans are small.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image

from .. import log
from ..errors import InvalidInput
from ..ingest.picture import Decoded, PictureError, decode_upright, open_picture, orientation_of, valid

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
REENCODE_QUALITY = 95
# The size policy (ingest.picture): a photo that must be decoded for DICOM is decoded at no more
# than this (a 200 MP JPEG at 1/2 scale, never in full); the instance then says so in its
# Derivation Description. A wrapped JPEG is never decoded, whatever its size; jpegtran is not used
# above this size either (turning a 200 MP JPEG's coefficients took it ~1.1 GB, bench_large_photo).
MAX_PIXELS = 50_000_000

# EXIF orientation -> jpegtran transform that shows the photo upright (Pillow's: ingest.picture)
_JPEGTRAN = {2: ["-flip", "horizontal"], 3: ["-rotate", "180"], 4: ["-flip", "vertical"],
             5: ["-transpose"], 6: ["-rotate", "90"], 7: ["-transverse"], 8: ["-rotate", "270"]}
_LOSSY_SOURCES = {"HEIF", "HEIC", "WEBP", "AVIF", "JPEG", "MPO"}
_ALLOWED = ["JPEG", "MPO", "PNG", "HEIF", "TIFF", "WEBP", "BMP"]


@dataclass(frozen=True)
class Pixels:
    data: bytes               # one JPEG frame (encapsulated) or native pixel bytes
    transfer_syntax: str
    photometric: str          # YBR_FULL_422, RGB or MONOCHROME2
    rows: int
    columns: int
    samples: int              # 3 or 1
    route: str
    lossy: bool               # Lossy Image Compression (0028,2110): ever lossy compressed
    source_size: int          # bytes of the stored photo (for the compression ratio)
    icc_profile: bytes | None = None
    without_jpegtran: bool = False  # re-encoded only because jpegtran is not installed
    note: str = ""            # e.g. "downscaled from 16320×12240 to 8000×6000 pixels"


    @property
    def encapsulated(self) -> bool:
        return self.transfer_syntax != EXPLICIT_LE

    @property
    def compression_ratio(self) -> float:
        raw = self.rows * self.columns * self.samples
        return raw / max(len(self.data), 1)


# -- JPEG structure ----------------------------------------------------------------------------
@dataclass(frozen=True)
class JpegInfo:
    sof: int                  # 0xC0 baseline, 0xC1 extended, 0xC2 progressive, …
    precision: int
    width: int
    height: int
    sampling: tuple[tuple[int, int], ...]  # (h, v) per component
    adobe_transform: int | None            # APP14 transform flag, when present
    end: int                               # offset just past EOI (drops MPO's trailing frames)


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment up to and including SOS; ``end`` past its payload."""
    if data[:2] != b"\xff\xd8":
        raise InvalidInput("The stored photo is not a JPEG file.")
    out, pos = [], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise InvalidInput("The stored JPEG is damaged (bad marker).")
        marker = data[pos + 1]
        if marker == 0xFF:          # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise InvalidInput("The stored JPEG is damaged (truncated segment).")
        out.append((marker, pos, end))
        if marker == 0xDA:
            return out
        pos = end
    raise InvalidInput("The stored JPEG has no image data.")


_MARKER = re.compile(rb"\xff([\x01-\xcf\xd8-\xfe])")  # a marker: not stuffing (00), RSTn or fill (FF)


def _scan_end(data: bytes, pos: int) -> int:
    """Offset just past the EOI that ends the image whose first scan starts at ``pos``."""
    while True:
        found = _MARKER.search(data, pos)
        if found is None:
            raise InvalidInput("The stored JPEG is truncated (no end-of-image marker).")
        marker, at = found.group(1)[0], found.end()
        if marker == 0xD9:
            return at
        # another segment between scans (progressive: DHT, SOS …): skip its payload
        if at + 2 > len(data):
            raise InvalidInput("The stored JPEG is truncated (no end-of-image marker).")
        pos = at + int.from_bytes(data[at:at + 2], "big")


def jpeg_info(data: bytes) -> JpegInfo:
    sof = precision = width = height = None
    sampling: tuple[tuple[int, int], ...] = ()
    adobe = None
    segs = _segments(data)
    for marker, start, end in segs:
        body = data[start + 4:end]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and sof is None:
            sof, precision = marker, body[0]
            height, width = int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
            ncomp = body[5]
            sampling = tuple((body[6 + 3 * i + 1] >> 4, body[6 + 3 * i + 1] & 15) for i in range(ncomp))
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12:
            adobe = body[11]
    if sof is None or not width or not height:
        raise InvalidInput("The stored JPEG has no frame header.")
    return JpegInfo(sof, precision or 8, width, height, sampling, adobe, _scan_end(data, segs[-1][2]))


def clean_jpeg(data: bytes) -> tuple[bytes, bytes | None]:
    """The JPEG with every metadata segment removed (APP14 kept), cut at its EOI; and its ICC."""
    info = jpeg_info(data)
    segs = _segments(data)
    out = bytearray(b"\xff\xd8")
    icc_parts: list[tuple[int, bytes]] = []
    for marker, start, end in segs:
        body = data[start + 4:end]
        if marker == 0xE2 and body[:12] == b"ICC_PROFILE\x00":
            icc_parts.append((body[12], body[14:]))
        if (0xE0 <= marker <= 0xEF and marker != 0xEE) or marker == 0xFE:
            continue
        out += data[start:end]
    out += data[segs[-1][2]:info.end]
    icc = b"".join(p for _, p in sorted(icc_parts)) if icc_parts else None
    return bytes(out), icc


def stored_orientation(data: bytes, recorded: int = 1) -> int:
    """The one orientation rule (ingest.picture) for stored bytes: their own tag, else ``recorded``."""
    try:
        with open_picture(data, tuple(_ALLOWED)) as img:
            return orientation_of(img, recorded)
    except PictureError:
        return valid(recorded) or 1


def jpegtran_missing_note(count: int) -> str:
    """What an export says when ``count`` photos were re-encoded for want of jpegtran."""
    return (f"jpegtran is not installed, so {count} photo(s) that needed turning upright or a baseline "
            f"rewrite were re-encoded (JPEG quality {REENCODE_QUALITY}) instead of turned losslessly. "
            "For lossless turns install it: on Debian/Ubuntu 'sudo apt install libjpeg-turbo-progs', "
            "on Fedora 'sudo dnf install libjpeg-turbo-utils'.")


def _jpegtran(data: bytes, args: list[str]) -> bytes | None:
    """Run jpegtran over pipes; None when it refuses (e.g. ``-perfect`` impossible)."""
    try:
        done = subprocess.run(["jpegtran", "-copy", "none", *args], input=data, capture_output=True,
                              timeout=120, check=False)
    except FileNotFoundError:
        # Without jpegtran (libjpeg-turbo-progs) the photo is re-encoded instead; the export
        # summary counts it as "re-encoded", so the loss is visible.
        log.exports.warning("jpegtran not found: turning JPEGs by re-encoding")
        return None
    if done.returncode != 0 or done.stdout[:2] != b"\xff\xd8":
        return None
    return done.stdout


# -- the routes --------------------------------------------------------------------------------
def _from_jpeg_frame(frame: bytes, route: str, source_size: int, icc: bytes | None) -> Pixels:
    info = jpeg_info(frame)
    if len(info.sampling) == 1:
        photometric, samples = "MONOCHROME2", 1
    elif info.adobe_transform == 0:
        photometric, samples = "RGB", 3
    else:
        photometric, samples = "YBR_FULL_422", 3
    return Pixels(frame, JPEG_BASELINE, photometric, info.height, info.width, samples, route,
                  True, source_size, icc)


def _encode_jpeg(img: Image.Image, route: str, source_size: int, icc: bytes | None, note: str = "") -> Pixels:
    if img.mode not in ("RGB", "L"):
        img = _flatten(img)
    out = io.BytesIO()
    # subsampling=1 is 4:2:2, which is what YBR_FULL_422 describes exactly
    img.save(out, "JPEG", quality=REENCODE_QUALITY, subsampling=1 if img.mode == "RGB" else 0,
             progressive=False, optimize=False, comment=b"")  # never a source comment
    return dataclasses.replace(_from_jpeg_frame(out.getvalue(), route, source_size, icc), note=note)


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    if img.mode in ("L", "I;16", "I", "1"):
        return img.convert("L") if img.mode != "I;16" else img.point(lambda v: v / 257).convert("L")
    return img.convert("RGB")


def pixels_for_dicom(data: bytes, orientation: int = 1) -> Pixels:
    """Pixels of a stored photo for DICOM, shown upright (``orientation`` is the EXIF value)."""
    orientation = valid(orientation) or 1
    if data[:2] == b"\xff\xd8":
        return _jpeg_pixels(data, orientation)
    return _converted(data, orientation)


def _jpeg_pixels(data: bytes, orientation: int) -> Pixels:
    info = jpeg_info(data)
    cleaned, icc = clean_jpeg(data)
    describable = _describable(info)
    baseline = info.sof == 0xC0 and info.precision == 8 and len(info.sampling) in (1, 3)
    if baseline and describable and orientation == 1:
        return _from_jpeg_frame(cleaned, "wrapped", len(data), icc)
    lossless_possible = (describable and len(info.sampling) in (1, 3) and info.precision == 8
                         and info.sof in (0xC0, 0xC1, 0xC2) and info.width * info.height <= MAX_PIXELS
                         and _perfect_possible(info, orientation))
    without_jpegtran = (lossless_possible and _turn_stays_describable(info, orientation)
                        and shutil.which("jpegtran") is None)
    if lossless_possible and not without_jpegtran:
        turned = _jpegtran(cleaned, ["-perfect", *_JPEGTRAN.get(orientation, [])])
        if turned is not None:
            frame, _ = clean_jpeg(turned)
            turned_info = jpeg_info(frame)  # a quarter turn makes 4:2:2 into 4:4:0: not describable
            if turned_info.sof == 0xC0 and _describable(turned_info):
                route = "rotated-lossless" if orientation != 1 else "transcoded-lossless"
                return _from_jpeg_frame(frame, route, len(data), icc)
    decoded = _open(data, orientation)
    pixels = _encode_jpeg(decoded.image, "re-encoded", len(data), icc, decoded.note())
    return dataclasses.replace(pixels, without_jpegtran=True) if without_jpegtran else pixels


def _describable(info: JpegInfo) -> bool:
    """Whether the VL/dermoscopic IODs can label this JPEG truthfully: grey (MONOCHROME2),
    untransformed RGB (Adobe transform 0), or YCbCr with chroma halved horizontally (4:2:2) or in
    both directions (4:2:0), which is YBR_FULL_422 — the one value they allow for lossy JPEG.
    4:4:4 (YBR_FULL, not allowed), 4:4:0 and 4:1:1 are re-encoded as 4:2:2."""
    if len(info.sampling) == 1 or info.adobe_transform == 0:
        return True
    return info.sampling[0] in ((2, 1), (2, 2)) and all(s == (1, 1) for s in info.sampling[1:])


def _turn_stays_describable(info: JpegInfo, orientation: int) -> bool:
    """Whether the turned JPEG could be wrapped: a quarter turn swaps the chroma sampling."""
    if orientation not in (5, 6, 7, 8) or len(info.sampling) == 1 or info.adobe_transform == 0:
        return True
    h, v = info.sampling[0]
    return (v, h) in ((2, 1), (2, 2))


def _perfect_possible(info: JpegInfo, orientation: int) -> bool:
    """Whether ``jpegtran -perfect`` can turn this JPEG: partial blocks must stay on the right and
    bottom edges (libjpeg's transupp rules), so spare jpegtran a run that can only fail."""
    mcu_w = 8 * max(h for h, _ in info.sampling)
    mcu_h = 8 * max(v for _, v in info.sampling)
    w_ok, h_ok = info.width % mcu_w == 0, info.height % mcu_h == 0
    return {1: True, 5: True, 2: w_ok, 8: w_ok, 4: h_ok, 6: h_ok, 3: w_ok and h_ok, 7: w_ok and h_ok}[orientation]


def _open(data: bytes, orientation: int) -> Decoded:
    try:
        return decode_upright(data, orientation=orientation, max_pixels=MAX_PIXELS, formats=tuple(_ALLOWED))
    except PictureError as exc:
        raise InvalidInput(f"The stored photo could not be converted for DICOM: {exc}.") from None


def _converted(data: bytes, orientation: int) -> Pixels:
    decoded = _open(data, orientation)
    img = decoded.image
    fmt = (decoded.format or "").upper()
    icc = decoded.icc
    if fmt in _LOSSY_SOURCES or decoded.downscaled:
        return _encode_jpeg(img, "converted-lossy", len(data), icc, decoded.note())
    img = _flatten(img) if img.mode not in ("RGB", "L") else img
    samples = 3 if img.mode == "RGB" else 1
    return Pixels(img.tobytes(), EXPLICIT_LE, "RGB" if samples == 3 else "MONOCHROME2", img.height,
                  img.width, samples, "converted-lossless", False, len(data), icc)
