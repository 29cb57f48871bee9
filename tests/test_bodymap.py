"""Body map geometry (which coded site and side a point lies on), its SVG files, and lesion pins."""

from __future__ import annotations

from pathlib import Path

import pytest

from dermarchive.archive import bodymap, bodysites, records
from dermarchive.errors import InvalidInput

REPO = Path(__file__).resolve().parents[1]


def at(view: str, x: float, y: float) -> tuple[str, str] | None:
    region = bodymap.site_at(view, x / bodymap.WIDTH, y / bodymap.HEIGHT)
    return (region.site, region.laterality) if region else None


def test_front_figure_faces_the_viewer():
    # the patient's right arm is on the viewer's left of the front figure
    assert at("front", 56, 200) == ("forearm", "right")
    assert at("front", 144, 200) == ("forearm", "left")
    assert at("front", 90, 110) == ("chest", "right")
    assert at("front", 110, 170) == ("abdomen", "left")
    assert at("front", 100, 12) == ("scalp", "")      # unpaired: no side
    assert at("front", 100, 210) == ("genital", "")
    assert at("front", 48, 255) == ("palm", "right")  # anatomical position: palms forward


def test_back_figure_is_seen_from_behind():
    assert at("back", 56, 200) == ("forearm", "left")
    assert at("back", 144, 200) == ("forearm", "right")
    assert at("back", 90, 150) == ("back", "left")
    assert at("back", 110, 220) == ("buttock", "right")
    assert at("back", 48, 255) == ("hand", "left")    # back of the hand
    assert at("back", 90, 410) == ("sole", "left")


def test_off_the_body_is_none_and_every_region_is_a_known_site():
    assert at("front", 10, 10) is None and at("back", 190, 300) is None
    for region in bodymap.REGIONS:
        assert region.site in bodysites.BY_KEY
        site = bodysites.BY_KEY[region.site]
        assert (region.laterality != "") == site.lateral
        # the region's own centre lies in it (no self-overlapping or inverted polygons)
        cx, cy = bodymap.centre(region)
        found = bodymap.site_at(region.view, cx, cy)
        assert found is not None and (found.site, found.laterality) == (region.site, region.laterality)


def test_every_site_on_the_map_has_a_snomed_code():
    from dermarchive.dicom import codes as dicom_codes

    for region in bodymap.REGIONS:
        assert dicom_codes.coded_site(region.site) is not None


@pytest.mark.parametrize("view", bodymap.VIEWS)
def test_svg_files_are_drawn_from_the_geometry(view):
    assert (REPO / "resources" / "bodymap" / f"{view}.svg").read_text("utf-8") == bodymap.figure_svg(view)


def test_placing_a_pin_sets_site_and_laterality_and_is_audited(archive):
    pid = records.add_patient(archive, "ZZZ0016", "Ngata").id
    lid = records.add_lesion(archive, pid, "L1")
    region = bodymap.place_pin(archive, lid, "back", 90 / 200, 150 / 440)
    assert (region.site, region.laterality) == ("back", "left")
    lesion = records.get_lesion(archive, lid)
    assert (lesion.site, lesion.laterality) == ("back", "left") and lesion.site_label == "Left back"
    assert bodymap.pins(archive, pid) == {lid: bodymap.Pin(lid, "back", 90 / 200, 150 / 440)}
    # moving the pin moves the site too
    bodymap.place_pin(archive, lid, "front", 144 / 200, 200 / 440)
    lesion = records.get_lesion(archive, lid)
    assert (lesion.site, lesion.laterality) == ("forearm", "left")
    assert bodymap.pins(archive, pid)[lid].view == "front"
    actions = [r["action"] for r in archive.catalogue.query("SELECT action FROM audit ORDER BY seq")]
    assert actions.count("lesion.update") == 2


def test_off_body_pin_is_refused_and_nothing_changes(archive):
    pid = records.add_patient(archive, "ZZZ0016", "Ngata").id
    lid = records.add_lesion(archive, pid, "L1", site="face", laterality="left")
    with pytest.raises(InvalidInput, match="not on the figure"):
        bodymap.place_pin(archive, lid, "front", 0.02, 0.02)
    lesion = records.get_lesion(archive, lid)
    assert (lesion.site, lesion.laterality) == ("face", "left") and bodymap.pins(archive, pid) == {}


def test_pins_go_with_their_lesion(archive):
    pid = records.add_patient(archive, "ZZZ0016", "Ngata").id
    lid = records.add_lesion(archive, pid, "L1")
    bodymap.place_pin(archive, lid, "front", 0.5, 0.3)
    with archive.transaction() as tx:
        tx.execute("DELETE FROM lesion WHERE id = ?", (lid,))
    assert bodymap.pins(archive, pid) == {}
