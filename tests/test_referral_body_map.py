"""The referral PDF shows a small body map with the referred lesions' pins (issue 17)."""

from __future__ import annotations

import subprocess

import pytest
from pypdf import PdfReader

from dermarchive.archive import bodymap
from dermarchive.exports import referral

from tests.test_referral import make, seed, text_of


def test_referral_shows_map_with_referred_lesions_only(archive, corpus, tmp_path):
    s1 = seed(archive, corpus, ("landscape_1.jpg",), label="L1")
    s2 = seed(archive, corpus, ("landscape_2.jpg",), label="L2")
    bodymap.place_pin(archive, s1.lesion_id, "back", 90 / 200, 150 / 440)
    bodymap.place_pin(archive, s2.lesion_id, "front", 56 / 200, 200 / 440)
    letter = referral.draft_letter(archive, s1.patient_id, image_ids=s1.image_ids, to="Dr B", question="Q?",
                                   referrer="Dr T")
    assert [(p.label, p.view) for p in letter.map_pins] == [("L1", "back")]  # L2 is not referred
    out = tmp_path / "ref.pdf"
    make(archive, s1, out, image_ids=s1.image_ids)
    text = text_of(PdfReader(out))
    assert "Front" in text and "Back" in text and "L1" in text
    if subprocess.run(["which", "pdftoppm"], capture_output=True).returncode == 0:
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "2", str(out), "/tmp/compare-shots/referral"],
                       check=True)


def test_referral_without_pins_has_no_map(archive, corpus):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    letter = referral.draft_letter(archive, s.patient_id, to="Dr B", question="Q?", referrer="Dr T")
    assert letter.map_pins == ()
    assert not any(type(f).__name__ == "Drawing" for f in referral.layout_story(letter))


@pytest.mark.parametrize("view", bodymap.VIEWS)
def test_map_drawing_uses_every_region(view):
    from dermarchive.exports.referral_pdf import MapPin, body_map_drawing

    drawing = body_map_drawing((MapPin("L1", view, 0.5, 0.3),))
    polygons = [c for c in drawing.contents if type(c).__name__ == "Polygon"]
    assert len(polygons) == len(bodymap.REGIONS)
