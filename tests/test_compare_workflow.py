"""The compare use case below both faces: intervals in words, wrong pairs refused, cancel."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dermarchive.archive import records
from dermarchive.compare import synthetic
from dermarchive.errors import Cancelled, InvalidInput
from dermarchive.workflows.compare import compare_images, interval_text
from tests.helpers import store_photo


@pytest.mark.parametrize("days, text", [
    (0, "same day"), (1, "1 day later"), (13, "13 days later"), (14, "2 weeks later"), (60, "9 weeks later"),
    (61, "2 months later"), (429, "14 months later"), (730, "2 years later"), (800, "2 years 2 months later"),
    (-400, "13 months earlier"), (None, "date unknown"),
])
def test_interval_in_words(days, text):
    assert interval_text(days) == text


@pytest.fixture
def two_patients(archive, tmp_path):
    pair = synthetic.make_pair(640, 480, seed=3)
    ids = []
    for n, (nhi, pixels) in enumerate((("ZZZ0016", pair.fixed), ("ZZZ0024", pair.moving))):
        pid = records.add_patient(archive, nhi, f"P{n}").id
        path = tmp_path / f"{n}.jpg"
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG")
        path.write_bytes(buf.getvalue())
        ids.append(store_photo(archive, pid, path))
    ids.append(store_photo(archive, 1, tmp_path / "1.jpg", visit_date="2026-09-01"))  # patient 1's later photo
    return ids


def test_photos_of_two_patients_are_not_compared(archive, two_patients):
    with pytest.raises(InvalidInput, match="different patients"):
        compare_images(archive, two_patients[0], two_patients[1])
    with pytest.raises(InvalidInput, match="two different photos"):
        compare_images(archive, two_patients[0], two_patients[0])


def test_cancel_stops_before_anything_is_decoded(archive, two_patients):
    before = archive.catalogue.scalar("SELECT count(*) FROM audit WHERE action = 'image.view'")
    with pytest.raises(Cancelled):
        compare_images(archive, two_patients[0], two_patients[2], cancelled=lambda: True)
    assert archive.catalogue.scalar("SELECT count(*) FROM audit WHERE action = 'image.view'") == before
