"""A corpus of real-world photo *kinds*, made here (nothing fetched from public repositories).

``generate(folder)`` writes every kind into ``folder`` and returns {file name: Kind}; see
tests/corpus/MANIFEST.md for what real-world case each stands for and which public test suite
inspired it. The shared corpus of real phone photos (/work/shared/corpus, with its own
MANIFEST.tsv of sources and licences) is used beside this one; neither is committed as files.

Pictures are asymmetric (a gradient, a red block top-left, a blue bar at the bottom), so a
mirrored or turned output is told apart from the upright one by pixels alone.
``generate(folder, large=True)`` adds the 200 MP phone JPEG (slow: a minute; for the bench).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps
from PIL.PngImagePlugin import PngInfo


@dataclass(frozen=True)
class Kind:
    name: str
    case: str              # the real-world case it stands for
    expect: str            # "imported" or "rejected"


def upright_scene(size: tuple[int, int] = (240, 160)) -> Image.Image:
    """The upright picture every generated photo shows once turned correctly."""
    w, h = size
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w // 3, h // 3), fill=(220, 30, 30))              # top-left: red
    draw.rectangle((0, h - h // 6, w - 1, h - 1), fill=(30, 60, 200))       # bottom: blue bar
    draw.ellipse((w // 2, h // 4, w // 2 + w // 5, h // 4 + h // 4), fill=(250, 220, 40))
    return img


# The stored pixels for orientation n are the upright scene turned by the inverse transform, so
# that applying EXIF orientation n (ImageOps.exif_transpose) gives the upright scene back.
_INVERSE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def stored_pixels(orientation: int, size: tuple[int, int] = (240, 160)) -> Image.Image:
    up = upright_scene(size)
    method = _INVERSE[orientation]
    return up if method is None else up.transpose(method)


def exif_bytes(orientation: int | None = None, **extra: object) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = "Generated", "Corpus Phone"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:03:14 10:20:30"
    for tag, value in extra.items():
        exif[int(tag.removeprefix("t"), 16)] = value
    return exif.tobytes()


def _jpeg(img: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, **params)
    return out.getvalue()


def _raw_tiff_exif(entries: list[tuple[int, int, int, bytes]], tail: bytes = b"") -> bytes:
    """A hand-made little-endian EXIF block: (tag, type, count, 4-byte value/offset) entries."""
    body = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
    return b"Exif\x00\x00" + body + struct.pack("<I", 0) + tail


def _insert_app1(jpeg: bytes, payload: bytes) -> bytes:
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _xmp(orientation: int) -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="' + str(orientation).encode() +
            b'"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _mpo(first: Image.Image, second: Image.Image) -> bytes:
    """A two-frame MPO (Pillow writes the MPF index); the second frame has its own device/date."""
    out = io.BytesIO()
    second_exif = Image.Exif()
    second_exif[0x010F], second_exif[0x0110] = "OtherMaker", "Second Frame Cam"
    second.encoderinfo = {}
    first.save(out, "MPO", save_all=True, append_images=[second], exif=exif_bytes(1), quality=90)
    return out.getvalue()


def generate(folder: Path | str, *, large: bool = False) -> dict[str, Kind]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, Kind] = {}

    def put(name: str, data: bytes, case: str, expect: str = "imported") -> None:
        (folder / name).write_bytes(data)
        kinds[name] = Kind(name, case, expect)

    # Mirrored and turned phone photos: all 8 EXIF orientations, sizes that are and are not
    # multiples of the JPEG block (jpegtran -perfect then works, or cannot).
    for n in range(1, 9):
        put(f"orient-{n}.jpg", _jpeg(stored_pixels(n), exif=exif_bytes(n)),
            f"phone JPEG with EXIF orientation {n} (front camera mirrors: 2, 4, 5, 7)")
        put(f"orient-{n}-odd.jpg", _jpeg(stored_pixels(n, (203, 117)), exif=exif_bytes(n)),
            f"EXIF orientation {n}, size not a multiple of the JPEG block")
    # PNG: orientation in an eXIf chunk, and only in XMP (screenshots edited on a phone)
    out = io.BytesIO()
    stored_pixels(6).save(out, "PNG", exif=exif_bytes(6))
    put("png-exif-6.png", out.getvalue(), "PNG with an eXIf chunk, orientation 6")
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _xmp(8).decode())
    out = io.BytesIO()
    stored_pixels(8).save(out, "PNG", pnginfo=info)
    put("png-xmp-8.png", out.getvalue(), "PNG whose orientation is only in XMP tiff:Orientation (8)")
    # JPEG with orientation only in XMP
    put("jpeg-xmp-5.jpg", _jpeg(stored_pixels(5), xmp=_xmp(5)), "JPEG without EXIF, XMP tiff:Orientation 5")
    # WebP and HEIC with EXIF orientation
    out = io.BytesIO()
    stored_pixels(3).save(out, "WEBP", exif=exif_bytes(3), quality=90)
    put("webp-exif-3.webp", out.getvalue(), "WebP (messaging apps) with EXIF orientation 3")
    try:
        import pillow_heif

        heif = pillow_heif.from_pillow(stored_pixels(6))
        out = io.BytesIO()
        heif.save(out, quality=90, exif=exif_bytes(6))
        put("heic-exif-6.heic", out.getvalue(), "HEIC with EXIF orientation 6 (iPhone portrait)")
    except (ImportError, RuntimeError, ValueError):  # pragma: no cover - no HEVC encoder
        pass
    # Multi-picture: a primary image and a second frame with its own device and date
    put("stereo.mpo", _mpo(stored_pixels(1), ImageOps.mirror(stored_pixels(1))),
        "MPO with a second frame (3D cameras, HDR gain maps, depth maps)")
    # Camera JPEGs with EXIF blocks piexif cannot parse
    base = _jpeg(stored_pixels(6))
    short, rational = 3, 5
    bad_dpi = _raw_tiff_exif([(0x0112, short, 1, struct.pack("<H", 6)),
                              (0x011A, rational, 1, struct.pack("<I", 0x7FFF0000)),   # points past the end
                              (0x011B, rational, 1, struct.pack("<I", 0x7FFF0000)),
                              (0x0128, short, 1, struct.pack("<H", 2))])
    put("bad-dpi-rational.jpg", _insert_app1(base, bad_dpi),
        "camera JPEG whose XResolution/YResolution rationals point past the EXIF block", "imported")
    missing_x = _raw_tiff_exif([(0x0112, short, 1, struct.pack("<H", 6)),
                                (0x011A, 4, 1, struct.pack("<I", 72)),    # LONG where a RATIONAL belongs
                                (0x0128, short, 1, struct.pack("<H", 2))])
    put("missing-xresolution.jpg", _insert_app1(base, missing_x),
        "camera JPEG without a valid XResolution (wrong type) and no YResolution")
    truncated_ifd = _raw_tiff_exif([(0x0112, short, 1, struct.pack("<H", 6))] * 3)[:-6]
    put("truncated-ifd.jpg", _insert_app1(base, truncated_ifd), "EXIF block cut short inside its IFD")
    # RAW-like files from cameras (content is a TIFF-like header): one reason for all
    for ext in (".cr2", ".nef", ".crw", ".mrw", ".x3f", ".dng", ".arw"):
        put(f"camera-raw{ext}", b"II*\x00\x08\x00\x00\x00" + bytes(64), f"camera RAW ({ext})", "rejected")
    if large:
        put("phone-200mp.jpg", large_jpeg(), "200 MP phone JPEG (a setting on current phones)")
    return kinds


def large_jpeg(size: tuple[int, int] = (16320, 12240), orientation: int = 6) -> bytes:
    """A 200 MP JPEG made without holding 200 MP in memory more than once (flat with a few marks)."""
    img = Image.new("RGB", size, (180, 150, 130))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, size[0] // 3, size[1] // 3), fill=(220, 30, 30))
    data = _jpeg(img, exif=exif_bytes(orientation))
    del draw, img
    return data


def large_heic(size: tuple[int, int] = (13600, 10200)) -> bytes:
    """The largest HEIC x265 encodes as one image (138.7 MP; HEVC level 7.2 stops at 142.6 MP).
    Phones write 200 MP HEICs as grids of tiles, which pillow-heif cannot encode."""
    import pillow_heif

    img = Image.new("RGB", size, (180, 150, 130))
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 3, size[1] // 3), fill=(220, 30, 30))
    heif = pillow_heif.from_pillow(img)
    del img
    out = io.BytesIO()
    heif.save(out, quality=50, exif=exif_bytes(1))
    return out.getvalue()




if __name__ == "__main__":  # pragma: no cover
    import sys

    for name, kind in generate(sys.argv[1], large="--large" in sys.argv).items():
        print(f"{name}\t{kind.expect}\t{kind.case}")
