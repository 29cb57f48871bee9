"""De-identified export: consent first, neutral names, no metadata, no identifiers, redaction."""

from __future__ import annotations

import csv
import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.cli import main
from dermarchive.consent.policy import ConsentRefused
from dermarchive.consent.records import record_consent
from dermarchive.workflows.consent import withdraw_consent
from dermarchive.errors import Cancelled, InvalidInput
from dermarchive.exports.deidentified import Redaction, age_band, export_deidentified
from tests.test_consent_support import (DOB, FAMILY, GIVEN, NHI, add_photo, make_patient, signature_png,
                                        with_comment)

ORIGINAL_NAMES = ("landscape_1", "landscape_6", "Apple iPhone 4S", "IMG_")


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the image data."""
    assert data[:2] == b"\xff\xd8"
    pos, out = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: image data follows
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return out


def identifiers() -> list[bytes]:
    dob_forms = [DOB, "07/03/1961", "07-03-1961", "1961:03:07", "19610307", "7 March 1961", "March 7, 1961"]
    words = [NHI, FAMILY, GIVEN, *dob_forms, *ORIGINAL_NAMES]
    found = []
    for w in words:
        for variant in (w, w.lower(), w.upper()):
            found += [variant.encode("utf-8"), variant.encode("utf-16-le"), variant.encode("utf-16-be")]
    return found


@pytest.fixture
def patient_visit(archive: Archive) -> tuple[int, int]:
    pid = make_patient(archive)
    vid = records.add_visit(archive, pid, "2024-05-01")
    return pid, vid


def _grant(archive: Archive, visit_id: int, *scopes: str) -> None:
    record_consent(archive, visit_id, scopes=list(scopes) or ["education", "research", "publication"],
                   method="written-signature", obtained_by="RN Ana", signature=signature_png())


def test_export_has_neutral_names_no_metadata_and_no_identifiers(archive: Archive, patient_visit, tmp_path: Path,
                                                               corpus: Path) -> None:
    pid, vid = patient_visit
    lesion = records.add_lesion(archive, pid, "L1", site="forearm", laterality="left", diagnosis="naevus",
                                site_text=f"near tattoo reading {GIVEN}")
    planted = f"{FAMILY}, {GIVEN} {NHI} DOB {DOB} IMG_0042.JPG"
    # Worst case: the stored original still carries XMP/IPTC/EXIF and a comment full of identifiers.
    a = add_photo(archive, vid, data=with_comment((corpus / "landscape_1.jpg").read_bytes(), planted),
                  lesion_id=lesion, taken_at="2024-05-01T10:00:00+12:00")
    b = add_photo(archive, vid, "landscape_6.jpg", lesion_id=lesion, taken_at="2024-05-11T09:00:00+12:00")
    c = add_photo(archive, vid, "Apple iPhone 4S.jpg", taken_at="2024-05-04T09:00:00+12:00")
    _grant(archive, vid, "education")
    out = tmp_path / "teaching set"

    summary = export_deidentified(archive, pid, "education", out)

    assert summary["count"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["image-001.jpg", "image-002.jpg", "image-003.jpg",
                                                    "images.csv", "images.json"]
    for path in out.iterdir():
        data = path.read_bytes()
        for word in identifiers():
            assert word not in data, f"{word!r} found in {path.name}"
        assert "zzz" not in path.name.lower() and FAMILY.lower() not in path.name.lower()
    for n in (1, 2, 3):
        data = (out / f"image-00{n}.jpg").read_bytes()
        markers = {m for m, _ in jpeg_segments(data)}
        app_markers = {m for m in markers if 0xE0 <= m <= 0xEF} | ({0xFE} & markers)
        assert app_markers <= {0xE0, 0xE2}, f"image {n} carries metadata segments {sorted(app_markers)}"
        assert all(p.startswith(b"ICC_PROFILE") for m, p in jpeg_segments(data) if m == 0xE2)
        with Image.open(io.BytesIO(data)) as img:
            assert not img.getexif() and "xmp" not in img.info and "comment" not in img.info
            assert "photoshop" not in img.info
    # upright: landscape_6 (stored 450x600 with orientation 6) comes out 600x450; capture order kept
    with Image.open(out / "image-003.jpg") as img:
        assert img.size == (600, 450)
    with Image.open(out / "image-002.jpg") as img:
        assert img.size == (2448, 3264)  # iPhone 4S stored 3264x2448 with orientation 6: upright portrait
    rows = list(csv.DictReader(io.StringIO((out / "images.csv").read_text())))
    assert [r["file"] for r in rows] == ["image-001.jpg", "image-002.jpg", "image-003.jpg"]
    assert rows[0] == {"file": "image-001.jpg", "kind": "clinical", "lesion": "lesion-1",
                       "body_site": "Left forearm", "diagnosis": "naevus", "age_band": "60-69",
                       "days_since_first_photo": "0", "redacted": "", "note": ""}
    assert [r["days_since_first_photo"] for r in rows] == ["0", "3", "10"]
    assert rows[1]["lesion"] == "" and rows[2]["lesion"] == "lesion-1"
    sidecar = json.loads((out / "images.json").read_text())
    assert sidecar["purpose"] == "education" and sidecar["count"] == 3
    assert set(sidecar["images"][0]) == {"file", "kind", "lesion", "body_site", "diagnosis", "age_band",
                                         "days_since_first_photo", "redacted", "note"}
    entry = archive.audit.entries(archive.catalogue, action="export")[-1]
    assert entry.subject["images"] == [a, c, b] and entry.details["purpose"] == "education"
    assert verify(archive) == []
    assert _leftovers(tmp_path) == ["teaching set"]


def test_icc_profile_is_the_one_thing_kept(archive: Archive, patient_visit, tmp_path: Path, corpus: Path) -> None:
    pid, vid = patient_visit
    add_photo(archive, vid, "landscape_2.jpg")
    _grant(archive, vid, "research")
    export_deidentified(archive, pid, "research", tmp_path / "out")
    with Image.open(corpus / "landscape_2.jpg") as src, Image.open(tmp_path / "out" / "image-001.jpg") as out:
        assert out.info.get("icc_profile") == src.info["icc_profile"]
        assert out.size == (600, 450)  # orientation 2 is a mirror: size unchanged, pixels flipped


def test_refused_export_writes_nothing_and_names_each_image(archive: Archive, patient_visit,
                                                            tmp_path: Path) -> None:
    pid, vid = patient_visit
    ok = add_photo(archive, vid, "landscape_1.jpg")
    _grant(archive, vid, "education")
    later = records.add_visit(archive, pid, "2024-06-01")
    verbal = add_photo(archive, later, "landscape_2.jpg")
    record_consent(archive, later, scopes=["clinical.referral"], method="verbal", obtained_by="RN")
    none_visit = records.add_visit(archive, pid, "2024-07-01")
    unconsented = add_photo(archive, none_visit, "landscape_3.jpg")
    out = tmp_path / "out"

    with pytest.raises(ConsentRefused) as refused:
        export_deidentified(archive, pid, "education", out)

    assert {r.image_id for r in refused.value.refusals} == {verbal, unconsented}
    assert f"image {verbal} lacks 'education'" in str(refused.value)
    assert f"image {unconsented} lacks 'education': no consent is recorded" in str(refused.value)
    assert f"image {ok} " not in str(refused.value)
    assert _leftovers(tmp_path) == []
    assert archive.audit.entries(archive.catalogue, action="export.refused")[-1].subject["images"] == \
        [verbal, unconsented]
    # the allowed image alone may go
    assert export_deidentified(archive, pid, "education", out, image_ids=[ok])["count"] == 1


def test_cli_export_refused_exits_non_zero(cli_archive: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with Archive.open(cli_archive[0], "nurse.ana", "correct horse 42") as a:
        vid = records.add_visit(a, make_patient(a), "2024-05-01")
        image = add_photo(a, vid)
        record_consent(a, vid, scopes=["clinical.referral"], method="verbal", obtained_by="RN")
    out = tmp_path / "cli-out"
    rc = main(["export", *cli_archive, "--patient", NHI, "--purpose", "publication", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and f"image {image} lacks 'publication'" in err and "Nothing was written" in err
    assert not out.exists()
    assert main(["consent", "set", *cli_archive, "--patient", NHI, "--grant", "publication",
                 "--method", "written-signature", "--obtained-by", "RN"]) == 0
    assert main(["export", *cli_archive, "--patient", NHI, "--purpose", "publication", "--out", str(out)]) == 0
    assert (out / "image-001.jpg").exists()


def test_redaction_blurs_and_crops_the_copy_only(archive: Archive, patient_visit, tmp_path: Path,
                                                 corpus: Path) -> None:
    pid, vid = patient_visit
    blurred = add_photo(archive, vid, "landscape_1.jpg", taken_at="2024-05-01T10:00:00")
    cropped = add_photo(archive, vid, "landscape_6.jpg", taken_at="2024-05-01T11:00:00")
    _grant(archive, vid, "publication")
    stored_before = records.image_bytes(archive, records.get_image(archive, blurred))
    box = Redaction("blur", 0.25, 0.25, 0.5, 0.5)
    export_deidentified(archive, pid, "publication", tmp_path / "out", redactions={
        blurred: [box], cropped: [Redaction("crop", 0.0, 0.5, 0.5, 0.5), Redaction("blur", 0, 0, 0.1, 0.1)]})

    with Image.open(corpus / "landscape_1.jpg") as src, Image.open(tmp_path / "out" / "image-001.jpg") as out:
        src, out = src.convert("L"), out.convert("L")
        inside = (150, 113, 450, 337)
        detail_src = ImageStat.Stat(_edges(src.crop(inside))).mean[0]
        detail_out = ImageStat.Stat(_edges(out.crop(inside))).mean[0]
        assert detail_out < detail_src / 4, (detail_src, detail_out)  # fine detail gone inside
        outside = (0, 0, 600, 100)
        diff = ImageStat.Stat(_diff(src.crop(outside), out.crop(outside))).mean[0]
        assert diff < 4  # outside: only JPEG re-encoding noise
    with Image.open(tmp_path / "out" / "image-002.jpg") as img:
        assert img.size == (300, 225)  # bottom-left quarter of the upright 600x450 picture
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "images.csv").read_text())))
    assert [r["redacted"] for r in rows] == ["blur", "blur,crop"]
    assert records.image_bytes(archive, records.get_image(archive, blurred)) == stored_before


def _leftovers(folder: Path) -> list[str]:
    """What an export left beside the archive: its folder or a temp folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-") or p.name in ("out", "teaching set"))


def _edges(img: Image.Image) -> Image.Image:
    from PIL import ImageFilter
    return img.filter(ImageFilter.FIND_EDGES)


def _diff(a: Image.Image, b: Image.Image) -> Image.Image:
    from PIL import ImageChops
    return ImageChops.difference(a, b)


def test_bad_requests_are_refused_before_anything_is_written(archive: Archive, patient_visit,
                                                             tmp_path: Path) -> None:
    pid, vid = patient_visit
    image = add_photo(archive, vid)
    _grant(archive, vid)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        export_deidentified(archive, pid, "research", busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInput, match="is for education"):
        export_deidentified(archive, pid, "clinical.referral", tmp_path / "x")
    with pytest.raises(InvalidInput, match="at most one crop"):
        export_deidentified(archive, pid, "research", tmp_path / "x",
                            redactions={image: [Redaction("crop", 0, 0, .5, .5), Redaction("crop", .5, .5, .5, .5)]})
    with pytest.raises(InvalidInput, match="not in this export"):
        export_deidentified(archive, pid, "research", tmp_path / "x", redactions={image + 1: []})
    with pytest.raises(InvalidInput, match="inside the picture"):
        Redaction("blur", 0.8, 0.1, 0.5, 0.1)
    other = make_patient(archive, "ZZZ0024", "Other", "Person")
    with pytest.raises(InvalidInput, match="another patient"):
        export_deidentified(archive, other, "research", tmp_path / "x", image_ids=[image])
    assert not (tmp_path / "x").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_deidentified(archive, pid, "research", empty)["count"] == 1  # an empty folder is fine


def test_cancel_leaves_nothing(archive: Archive, patient_visit, tmp_path: Path) -> None:
    pid, vid = patient_visit
    for n in (1, 2, 3):
        add_photo(archive, vid, f"landscape_{n}.jpg")
    _grant(archive, vid)
    seen: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        export_deidentified(archive, pid, "research", tmp_path / "out", progress=lambda d, t, m: seen.append((d, t)),
                            cancelled=lambda: len(seen) >= 2)
    assert seen == [(0, 3), (1, 3)]
    assert _leftovers(tmp_path) == []


def test_consent_form_photos_never_leave_and_withdrawal_stops_exports(archive: Archive, patient_visit,
                                                                      tmp_path: Path) -> None:
    pid, vid = patient_visit
    photo = add_photo(archive, vid)
    form = add_photo(archive, vid, "noexif.jpg", kind="consent-form")
    record_consent(archive, vid, scopes=["research"], method="photographed-form", obtained_by="RN",
                   form_image_id=form)
    assert export_deidentified(archive, pid, "research", tmp_path / "a")["count"] == 1  # form left out
    with pytest.raises(ConsentRefused, match="photo of a consent form"):
        export_deidentified(archive, pid, "research", tmp_path / "b", image_ids=[photo, form])
    withdraw_consent(archive, vid, reason="asked")
    with pytest.raises(ConsentRefused, match="withdrawn"):
        export_deidentified(archive, pid, "research", tmp_path / "c", image_ids=[photo])


@pytest.mark.parametrize("dob, on, band", [
    ("1961-03-07", "2024-03-06", "60-69"), ("1961-03-07", "2031-03-06", "60-69"),
    ("1961-03-07", "2031-03-07", "70-79"), ("2020-01-01", "2024-05-01", "0-9"),
    ("1920-01-01", "2024-05-01", "90+"), (None, "2024-05-01", "unknown")])
def test_age_band(dob: str | None, on: str, band: str) -> None:
    from datetime import date
    assert age_band(dob, date.fromisoformat(on)) == band


@pytest.mark.parametrize("name, upright, has_icc", [
    ("sugarshack.mpo", (640, 480), False),         # stereo MPO: the first frame only
    ("frame_size.mpo", (56, 70), True),            # iPhone 14 Pro Max MPF with ICC
    ("clipboard_target.png", (296, 176), False),
    ("IMG_5195.HEIC", (2566, 3313), True),         # real iPhone HEIC with GPS and XMP
    ("jolla.jpg", (3264, 2448), False),            # real phone JPEG with XMP
])
def test_every_stored_format_leaves_without_metadata(archive: Archive, patient_visit, tmp_path: Path,
                                                     name: str, upright: tuple[int, int], has_icc: bool) -> None:
    pid, vid = patient_visit
    from tests.test_consent_support import corpus_file
    data = corpus_file(name).read_bytes()
    with archive.transaction() as tx:  # stored exactly as the phone wrote it: the worst case
        blob = archive.store_blob(tx, data)
        records.insert_image(archive, tx, visit_id=vid, kind="clinical", blob_id=blob, width=1, height=1,
                             original_format=name.rsplit(".", 1)[1].upper(), stored_format="raw")
    _grant(archive, vid, "research")
    export_deidentified(archive, pid, "research", tmp_path / "out")
    got = (tmp_path / "out" / "image-001.jpg").read_bytes()
    assert {m for m, _ in jpeg_segments(got) if 0xE0 <= m <= 0xEF or m == 0xFE} <= {0xE0, 0xE2}
    for marker in (b"Exif\x00\x00", b"xmpmeta", b"Photoshop 3.0", b"iPhone", b"Nintendo", b"Jolla", b"MPF\x00"):
        assert marker not in got
    with Image.open(io.BytesIO(got)) as img:
        assert img.format == "JPEG" and img.size == upright
        assert bool(img.info.get("icc_profile")) == has_icc
