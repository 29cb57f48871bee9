"""What is stored: no location or identifying metadata in any frame, and (for JPEG/MPO/PNG) the
very same decoded pixels as the phone's file."""

from __future__ import annotations

import io

import piexif
import pytest
from PIL import Image, PngImagePlugin

from dermarchive.ingest import jpeg, scan
from dermarchive.ingest.clean import heic_fidelity, prepare
from dermarchive.ingest.metadata import read_metadata, sniff

FORBIDDEN_KINDS = {"xmp", "iptc", "comment", "app1-other", "app2-other", "app0-other"}


def _frames_pixels(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as img:
        out = []
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            out.append(img.convert("RGB").tobytes())
        return out


def _assert_clean_jpeg(stored: bytes) -> None:
    for frame in jpeg.frames(stored):
        assert not FORBIDDEN_KINDS & set(jpeg.kinds(stored, frame))
        block = jpeg.exif_block(stored, frame)
        if block:
            exif = piexif.load(block)
            assert not exif["GPS"] and not exif["1st"] and exif["thumbnail"] is None
            assert piexif.ExifIFD.MakerNote not in exif["Exif"]
            assert piexif.ImageIFD.Artist not in exif["0th"]
            assert piexif.ImageIFD.ImageDescription not in exif["0th"]
    assert stored.endswith(b"\xff\xd9")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")  # Pillow on the original
def test_jpeg_and_mpo_cleaning_keeps_every_pixel_of_the_primary_image(corpus):
    checked = 0
    for entry in scan(corpus).new_entries():
        if entry.metadata.format not in ("JPEG", "MPO"):
            continue
        original = entry.path.read_bytes()
        stored = prepare(original, entry.metadata)
        before, after = _frames_pixels(original), _frames_pixels(stored.data)
        assert len(after) == 1, entry.rel  # a multi-picture file keeps its primary image alone
        assert after[0] == before[0], entry.rel
        _assert_clean_jpeg(stored.data)
        again = read_metadata(stored.data, "JPEG")
        assert again.has_location is False and again.identifying == (), entry.rel
        assert again.orientation == entry.metadata.orientation, entry.rel
        assert again.device == entry.metadata.device
        checked += 1
    assert checked >= 20


def test_mpo_is_stored_as_its_primary_image_alone(corpus):
    """Issue 14: the kept MPF index dangled, or the second frame kept its own device and date."""
    original = (corpus / "sugarshack.mpo").read_bytes()
    second = jpeg.frames(original)[1]
    assert piexif.load(jpeg.exif_block(original, second))["Exif"].get(piexif.ExifIFD.MakerNote)
    stored = prepare(original, read_metadata(original, "JPEG"))
    assert stored.stored_format == "JPEG"
    assert len(jpeg.frames(stored.data)) == 1
    assert "mpf" not in jpeg.kinds(stored.data, jpeg.parse_frame(stored.data))
    assert stored.data.count(b"\xff\xd8\xff") == 1  # no second picture anywhere in the bytes
    with Image.open(io.BytesIO(stored.data)) as img:
        assert img.format == "JPEG" and getattr(img, "n_frames", 1) == 1


def test_icc_profile_and_orientation_survive(corpus):
    original = (corpus / "landscape_6.jpg").read_bytes()
    stored = prepare(original, read_metadata(original, "JPEG"))
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(stored.data)) as b:
        assert b.info["icc_profile"] == a.info["icc_profile"]
        assert b.getexif()[0x0112] == 6
    assert stored.orientation == 6
    with Image.open(io.BytesIO(stored.thumbs.thumb)) as thumb:
        assert thumb.width > thumb.height  # shown upright: the scene is landscape


def test_trailing_data_after_the_picture_is_dropped(corpus):
    original = (corpus / "jolla.jpg").read_bytes()
    motion_photo = original + b"\x00\x00\x00\x18ftypmp42" + b"GPS-in-video" * 100
    stored = prepare(motion_photo, read_metadata(motion_photo, "JPEG")).data
    assert b"ftypmp42" not in stored and stored.endswith(b"\xff\xd9")
    assert _frames_pixels(stored) == _frames_pixels(original)


def test_heic_is_stored_as_a_faithful_jpeg_without_location(corpus):
    data = (corpus / "pug.heic").read_bytes()
    meta = read_metadata(data, "HEIC")
    assert meta.has_location
    stored = prepare(data, meta)
    assert stored.stored_format == "JPEG" and sniff(stored.data[:32]) == "JPEG"
    again = read_metadata(stored.data, "JPEG")
    assert not again.has_location and again.identifying == ()
    assert again.taken_at == meta.taken_at and again.device == meta.device
    with Image.open(io.BytesIO(stored.data)) as img:
        assert img.size == (meta.width, meta.height) and img.info.get("icc_profile")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pug.heic", "iphone_13_pro_max.HEIC"])
def test_heic_fidelity_is_measured_and_high(corpus, name):
    fidelity = heic_fidelity((corpus / name).read_bytes())
    assert fidelity["psnr_db"] > 44 and fidelity["max_error"] <= 32, fidelity


def test_rotated_heic_is_stored_upright(corpus):
    data = (corpus / "arrow.heic").read_bytes()
    stored = prepare(data, read_metadata(data, "HEIC"))
    with Image.open(io.BytesIO(stored.data)) as img:
        assert img.size == (3024, 4032) and img.getexif().get(0x0112, 1) == 1


def _png_with_text_and_gps() -> bytes:
    img = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Dr Example")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta><exif:GPSLatitude>36,50N</exif:GPSLatitude></x:xmpmeta>")
    exif = piexif.dump({"GPS": {piexif.GPSIFD.GPSLatitude: ((36, 1), (50, 1), (0, 1)),
                                piexif.GPSIFD.GPSLongitude: ((174, 1), (45, 1), (0, 1))}})
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_stored_as_png_with_identical_pixels_and_no_metadata(fmt):
    source = _png_with_text_and_gps()
    if fmt == "WEBP":
        with Image.open(io.BytesIO(source)) as img:
            out = io.BytesIO()
            img.save(out, fmt, exif=img.info["exif"], lossless=True)
            source = out.getvalue()
    meta = read_metadata(source, fmt)
    assert meta.has_location
    stored = prepare(source, meta)
    assert stored.stored_format == "PNG"
    with Image.open(io.BytesIO(stored.data)) as img:
        assert set(img.info) <= {"icc_profile", "exif", "dpi"}
        assert img.convert("RGB").tobytes() == Image.open(io.BytesIO(source)).convert("RGB").tobytes()
    assert read_metadata(stored.data, "PNG").has_location is False
    assert b"Dr Example" not in stored.data and b"GPSLatitude" not in stored.data


def test_tiff_is_stored_upright_as_png_without_its_tags():
    img = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    tags = Image.Exif()
    tags[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "TIFF", exif=tags, description="Jane Doe, NHI ZZZ0016", artist="Dr Example")
    meta = read_metadata(out.getvalue(), "TIFF")
    assert {"description", "artist"} <= set(meta.identifying)
    stored = prepare(out.getvalue(), meta)
    with Image.open(io.BytesIO(stored.data)) as png:
        assert png.size == (48, 64) and png.getexif().get(0x0112, 1) == 1
        assert png.tobytes() == img.transpose(Image.Transpose.ROTATE_270).tobytes()
    assert b"Jane" not in stored.data and b"Dr Example" not in stored.data


def test_thumbnails_never_carry_a_comment_of_the_photo_they_are_made_from(corpus):
    from dermarchive.ingest.thumbnails import make_thumbnails_from_bytes
    from tests.test_consent_support import with_comment

    planted = b"Patient SMITH Jane NHI ZZZ0016"
    thumbs = make_thumbnails_from_bytes(with_comment((corpus / "landscape_1.jpg").read_bytes(), planted.decode()))
    for data in (thumbs.thumb, thumbs.preview):
        assert planted not in data and b"\xff\xfe" not in data[:data.find(b"\xff\xda")]
