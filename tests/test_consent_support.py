"""Shared helpers of the consent and de-identified export tests: real corpus photos stored the
way import stores them (encrypted blob + image row), without depending on the import pipeline."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image, ImageDraw

from dermarchive.archive import Archive, records
from dermarchive.ingest.thumbnails import make_thumbnails_from_bytes

# Identifiers planted in test patients (Z… NHIs are reserved for testing).
NHI = "ZZZ0016"
FAMILY = "Quenneville"
GIVEN = "Marguerite"
DOB = "1961-03-07"


def corpus_file(name: str) -> Path:
    from tests.conftest import corpus_dir

    return corpus_dir() / name


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The JPEG with a COM segment holding ``text`` right after SOI (as some phone apps write)."""
    payload = text.encode("utf-8")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def add_photo(archive: Archive, visit_id: int, name: str = "landscape_1.jpg", *, kind: str = "clinical",
              essential: bool = False, lesion_id: int | None = None, taken_at: str | None = None,
              data: bytes | None = None) -> int:
    """Store a real corpus photo (or ``data``) as an image of ``visit_id``; returns the image id."""
    data = data if data is not None else corpus_file(name).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        width, height, fmt = img.width, img.height, img.format or "JPEG"
        orientation = int(img.getexif().get(0x0112) or 1)
    thumbs = make_thumbnails_from_bytes(data)  # upright, in memory, as import makes them
    with archive.transaction() as tx:
        blob = archive.store_blob(tx, data)
        thumb, preview = archive.store_blob(tx, thumbs.thumb), archive.store_blob(tx, thumbs.preview)
        return records.insert_image(archive, tx, visit_id=visit_id, kind=kind, blob_id=blob, width=width,
                                    height=height, original_format=fmt, stored_format=fmt,
                                    lesion_id=lesion_id, taken_at=taken_at, orientation=orientation,
                                    thumb_blob_id=thumb, preview_blob_id=preview, essential_for_care=essential)


def make_patient(archive: Archive, nhi: str = NHI, family: str = FAMILY, given: str = GIVEN,
                 dob: str | None = DOB) -> int:
    return records.add_patient(archive, nhi, family, given, dob).id


def signature_png(width: int = 400, height: int = 140) -> bytes:
    """A drawn signature: dark strokes on a transparent pad, like the GUI pad produces."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.line([(20, 100), (80, 30), (120, 110), (190, 40), (260, 100), (360, 60)], fill=(10, 20, 60, 255), width=4)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_add_photo_stores_the_real_corpus_bytes(archive: Archive) -> None:
    pid = make_patient(archive)
    vid = records.add_visit(archive, pid, "2024-05-01")
    image_id = add_photo(archive, vid, "landscape_6.jpg")
    image = records.get_image(archive, image_id)
    assert records.image_bytes(archive, image) == corpus_file("landscape_6.jpg").read_bytes()
    assert image.orientation == 6
