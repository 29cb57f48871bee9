"""Scanning a phone folder: every corpus file gets a status and, if not imported, a reason."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from dermarchive.ingest import preview_thumbnail, scan, suggest_visits
from dermarchive.ingest.scan import PlanEntry

# Decodable camera photos whose EXIF block piexif cannot parse: imported, the block dropped (issue 14).
DAMAGED_METADATA = {"30-type_error.jpg", "45-gps_ifd.jpg", "exif_gps_typeerror.jpg", "truncated_exif_dpi.jpg"}
REJECTED = {
    "truncated_jpeg.jpg": "truncated", "truncated_image.png": "truncated",
    "truncated.heic": "truncated", "broken.png": "truncated", "corrupted.heic": "damaged",
    "corrupted.jpg": "damaged", "empty.heic": "empty", "notjpeg.jpg": "empty",
    "decompression_bomb.gif": "decompression bomb",
}
SKIPPED = {"IMG_1853.AAE": "edit", "with-gps.mov": "video", "note.txt": "not a photo"}


def _photos_in(corpus: Path) -> list[str]:
    return [p.name for p in corpus.iterdir() if p.name not in ("MANIFEST.tsv", "README.md")]


def test_every_corpus_file_has_a_status_and_a_reason(corpus_copy):
    folder = corpus_copy()
    plan = scan(folder)
    by_name = {e.rel: e for e in plan.entries}
    assert set(by_name) == set(_photos_in(folder))
    for name, word in REJECTED.items():
        assert by_name[name].status == "rejected", name
        assert word in by_name[name].reason, (name, by_name[name].reason)
    for name, word in SKIPPED.items():
        assert by_name[name].status == "skipped", name
        assert word in by_name[name].reason, (name, by_name[name].reason)
    new = {e.rel for e in plan.new_entries()}
    assert new == set(by_name) - set(REJECTED) - set(SKIPPED)
    assert all(e.metadata is not None for e in plan.new_entries())
    assert {e.rel: e.reason for e in plan.new_entries() if e.reason} == dict.fromkeys(
        DAMAGED_METADATA, "metadata damaged, removed")
    assert plan.counts()["new"] == len(new) == 34


def test_metadata_of_real_phone_photos(corpus_copy):
    plan = scan(corpus_copy())
    meta = {e.rel: e.metadata for e in plan.new_entries()}
    nokia = meta["HMD_Nokia_8.3_5G.jpg"]
    assert (nokia.taken_at, nokia.taken_at_source) == ("2022-08-14T14:12:31+03:00", "exif-offset")
    assert nokia.device == "HMD Global Nokia 8.3 5G" and nokia.has_location
    assert (nokia.width, nokia.height) == (4608, 1976)
    iphone = meta["Apple iPhone 4S.jpg"]
    assert iphone.orientation == 6 and not iphone.has_location
    assert (iphone.taken_at, iphone.taken_at_source) == ("2012-08-26T15:53:03", "exif-local")
    assert "embedded thumbnail" in iphone.identifying
    # An empty GPS IFD is not a location.
    assert meta["empty_gps_ifd.jpg"].has_location is False and meta["empty_gps_ifd.jpg"].orientation == 6
    assert nokia.location == pytest.approx({"lat": 60.1467056, "lon": 24.9067722})
    # A malformed latitude still counts as carrying a location (it is removed all the same).
    assert meta["exif_gps.jpg"].has_location and meta["exif_gps.jpg"].location is None
    assert meta["pug.heic"].format == "HEIC" and meta["pug.heic"].has_location
    assert meta["pug.heic"].taken_at == "2023-02-21T14:33:08+03:00"
    assert meta["IMG_5195.HEIC"].has_location and "XMP" in meta["IMG_5195.HEIC"].identifying
    assert meta["sugarshack.mpo"].format == "MPO" and meta["sugarshack.mpo"].frames == 2
    assert "maker notes" in meta["87_OSError.jpg"].identifying
    assert "IPTC" in meta["87_OSError.jpg"].identifying


def test_capture_time_falls_back_to_the_file_time_and_says_so(corpus_copy):
    folder = corpus_copy("67-0_length_string.jpg", "exif_gps.jpg")
    os.utime(folder / "67-0_length_string.jpg", (1_600_000_000, 1_600_000_000))
    plan = scan(folder)
    no_date = plan.entry("67-0_length_string.jpg").metadata
    assert no_date.taken_at_source == "file-time"
    assert no_date.taken_at.startswith("2020-09-1")
    # A camera clock set to 2099 is not believed either.
    assert plan.entry("exif_gps.jpg").metadata.taken_at_source == "file-time"


def test_duplicates_name_the_first_copy_and_junk_is_skipped(corpus_copy):
    folder = corpus_copy("jolla.jpg", "arrow.heic", "with-gps.mov")
    (folder / "sub").mkdir()
    shutil.copy(folder / "jolla.jpg", folder / "sub" / "jolla copy.jpg")
    shutil.copy(folder / "with-gps.mov", folder / "arrow.MOV")          # Live Photo pair
    (folder / ".trashed-1700000000-IMG_1.jpg").write_bytes((folder / "jolla.jpg").read_bytes())
    (folder / ".IMG_2.HEIC.icloud").write_bytes(b"bplist00")
    (folder / ".thumbnails").mkdir()
    shutil.copy(folder / "jolla.jpg", folder / ".thumbnails" / "1.jpg")
    (folder / "Thumbs.db").write_bytes(b"\0" * 10)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    (folder / "renamed.jpg").write_bytes(png.getvalue())
    (folder / "IMG_3.dng").write_bytes(b"II*\0" + b"\0" * 100)
    with open(folder / "huge.jpg", "wb") as fh:  # sparse: costs no disk
        fh.write(b"\xff\xd8\xff\xe0")
        fh.truncate(300_000_000)

    os.mkfifo(folder / "pipe.jpg")  # would block a naive reader for ever
    plan = scan(folder)
    e = {x.rel: x for x in plan.entries}
    assert e["pipe.jpg"].status == "skipped" and "regular" in e["pipe.jpg"].reason
    assert e["jolla.jpg"].status == "new"
    assert e["sub/jolla copy.jpg"].status == "duplicate" and e["sub/jolla copy.jpg"].duplicate_of == "jolla.jpg"
    assert "Live Photo" in e["arrow.MOV"].reason and e["arrow.MOV"].status == "skipped"
    assert "video" in e["with-gps.mov"].reason
    assert "trash" in e[".trashed-1700000000-IMG_1.jpg"].reason
    assert "iCloud" in e[".IMG_2.HEIC.icloud"].reason
    assert "hidden folder" in e[".thumbnails/1.jpg"].reason
    assert e["Thumbs.db"].status == "skipped"
    assert e["renamed.jpg"].status == "rejected" and "PNG" in e["renamed.jpg"].reason
    assert e["IMG_3.dng"].status == "rejected" and "RAW" in e["IMG_3.dng"].reason
    assert e["huge.jpg"].status == "rejected" and "larger than any phone photo" in e["huge.jpg"].reason


def test_already_imported_needs_the_archive_fingerprint(archive, corpus_copy):
    from dermarchive.archive import records

    folder = corpus_copy("jolla.jpg")
    plan = scan(folder, archive)
    assert plan.keyed and plan.entries[0].fingerprint != scan(folder).entries[0].fingerprint
    # The fingerprint is keyed: the plain SHA-256 of the file never reaches the catalogue.
    patient = records.add_patient(archive, "ZZZ0016", "Test")
    from dermarchive.ingest import ImportOptions, run_import
    run_import(archive, plan, ImportOptions(patient.id))
    again = scan(folder, archive)
    assert again.entries[0].status == "already-imported"
    assert again.entries[0].existing_image_id == records.images(archive, patient_id=patient.id)[0].id


def _entry(rel: str, taken_at: str | None) -> PlanEntry:
    from dermarchive.ingest.metadata import PhotoMetadata

    return PlanEntry(Path(rel), rel, "new", metadata=PhotoMetadata("JPEG", 1, 1, taken_at=taken_at))


def test_visits_are_suggested_by_capture_gaps():
    entries = [_entry("a", "2024-03-01T09:00:00"), _entry("b", "2024-03-01T09:40:00+13:00"),
               _entry("c", "2024-03-01T15:00:00"), _entry("d", "2024-03-08T10:00:00"), _entry("e", None)]
    groups = suggest_visits(entries, gap_hours=4)
    assert [[x.rel for x in g] for g in groups] == [["a", "b"], ["c"], ["d"], ["e"]]
    assert [[x.rel for x in g] for g in suggest_visits(entries, gap_hours=8)] == [["a", "b", "c"], ["d"], ["e"]]


def test_preview_thumbnail_is_oriented_and_small(corpus_copy):
    plan = scan(corpus_copy("Apple iPhone 4S.jpg", "arrow.heic"))
    for entry in plan.new_entries():
        jpeg = preview_thumbnail(entry, 200)
        with Image.open(io.BytesIO(jpeg)) as img:
            assert img.format == "JPEG" and max(img.size) == 200
            assert img.height > img.width  # both are portrait once turned upright
            assert not img.getexif()


_SCAN_AS_USER = """
import json, sys
from dermarchive.errors import InvalidInput
from dermarchive.ingest import scan
try:
    plan = scan(sys.argv[1])
except InvalidInput as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({e.rel: [e.status, e.reason] for e in plan.entries}))
"""


def _scan_without_override(folder: Path) -> dict:
    """Scan in a process that file permissions apply to: as root, one without the capabilities
    that let root read any folder (as a clinic's ordinary user account is)."""
    import json
    import subprocess
    import sys

    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to drop root's read-anything capability")
        prefix = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                  "--bounding-set=-dac_override,-dac_read_search"]
    out = subprocess.run([*prefix, sys.executable, "-c", _SCAN_AS_USER, str(folder)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_a_folder_that_cannot_be_opened_is_named_not_silently_left_out(corpus_copy, tmp_path):
    folder = corpus_copy("jolla.jpg")
    locked = folder / "Camera" / "Locked"
    locked.mkdir(parents=True)
    shutil.copy(folder / "jolla.jpg", locked / "IMG_0001.jpg")
    hidden = folder / ".thumbnails"
    hidden.mkdir()
    for d in (locked, hidden):
        d.chmod(0)
    try:
        found = _scan_without_override(folder)
        assert found["jolla.jpg"][0] == "new"
        status, reason = found["Camera/Locked/"]
        assert status == "rejected"
        assert "cannot be opened" in reason and "permission denied" in reason
        assert found[".thumbnails/"][0] == "skipped"  # a hidden cache folder is skipped as before
        assert "Camera/Locked/IMG_0001.jpg" not in found
        # The chosen folder itself unreadable: one clear message, not an empty plan.
        folder.chmod(0o311)
        assert "cannot be read (Permission denied)" in _scan_without_override(folder)["error"]
    finally:
        for d in (locked, hidden, folder):
            d.chmod(0o755)


def test_a_folder_that_disappears_while_it_is_read_gets_one_plain_message(archive, corpus_copy):
    from dermarchive.archive import records
    from dermarchive.errors import InvalidInput
    from dermarchive.ingest import ImportOptions, run_import

    folder = corpus_copy("jolla.jpg", "noexif.jpg", "landscape_1.jpg", "landscape_2.jpg")

    def unplug(done: int, _total: int, _message: str = "") -> None:
        if done == 1:  # the phone is unplugged after the first photo was read
            shutil.rmtree(folder)

    with pytest.raises(InvalidInput, match="disappeared while it was being read"):
        scan(folder, archive, progress=unplug, workers=1)
    # Scanned while it was there, gone before the import: one message, nothing imported.
    again = corpus_copy("jolla.jpg")
    plan = scan(again, archive)
    shutil.rmtree(again)
    patient = records.add_patient(archive, "ZZZ0016", "Tester")
    with pytest.raises(InvalidInput, match="no longer there"):
        run_import(archive, plan, ImportOptions(patient.id))
    assert records.images(archive) == []
