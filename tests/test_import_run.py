"""Import runs on real archives: cleaned, encrypted, verified, resumable, exactly once."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.cli import main
from dermarchive.errors import InvalidInput
from dermarchive.ingest import EntryAssignment, ImportOptions, remove_originals, run_import, scan
from dermarchive.ingest.previews import make_missing_previews
from dermarchive.ingest.metadata import read_metadata, sniff

SMALL = ("landscape_1.jpg", "landscape_3.jpg", "landscape_6.jpg", "empty_gps_ifd.jpg", "noexif.jpg",
         "sugarshack.mpo", "clipboard_target.png", "exif_gps.jpg", "note.txt", "truncated_jpeg.jpg")


@pytest.fixture
def patient(archive):
    return records.add_patient(archive, "ZZZ0016", "Tester", "Pat")


def _set_time(path, when: str) -> None:
    t = datetime.fromisoformat(when).timestamp()
    os.utime(path, (t, t))


def _assert_stored_clean(archive, patient_id):
    for image in records.images(archive, patient_id=patient_id):
        data = records.image_bytes(archive, image)
        meta = read_metadata(data, sniff(data[:32]))
        assert not meta.has_location and meta.identifying == (), image.id


def test_import_cleans_stores_and_verifies(archive, patient, corpus_copy):
    folder = corpus_copy(*SMALL)
    plan = scan(folder, archive)
    seen = []
    result = run_import(archive, plan, ImportOptions(patient.id, lesion_label="L1", site="back"),
                        progress=lambda d, t, m: seen.append((d, t)))
    photos = {e.rel for e in plan.new_entries()}
    assert {o.rel for o in result.outcomes if o.status == "imported"} == photos
    assert set(result.verified) == photos and len(result.imported) == 8
    assert seen[-1] == (8, 8)
    assert verify(archive) == []
    _assert_stored_clean(archive, patient.id)
    stored = records.images(archive, patient_id=patient.id)
    assert {i.lesion_id for i in stored} == {records.find_lesion(archive, patient.id, "L1").id}
    assert next(i for i in stored if i.original_format == "MPO").stored_format == "JPEG"  # primary image alone
    six = [i for i in stored if i.orientation == 6]
    assert len(six) == 2  # landscape_6 and empty_gps_ifd keep their orientation tag
    exif_gps = next(i for i in stored if i.device == "Make XXX-XXX")
    assert exif_gps.had_location and not exif_gps.location_kept
    # Nothing in plain on disk: every file the import wrote is an encrypted blob (or the
    # encrypted catalogue); the phone folder got no new files either.
    for path in archive.path.rglob("*"):
        if path.is_file() and path.parent.name != archive.path.name:
            assert path.read_bytes()[:4] == b"DAB1", path
    assert sorted(p.name for p in folder.iterdir()) == sorted(SMALL)
    # Audit: one image.import entry per batch, ids and counts only.
    entries = archive.audit.entries(archive.catalogue, action="image.import")
    assert sum(e.details["count"] for e in entries) == 8
    assert not any(name.split(".")[0] in json.dumps([e.as_json() for e in entries]) for name in SMALL)


def test_rerun_imports_nothing_twice(archive, patient, corpus_copy):
    folder = corpus_copy(*SMALL)
    run_import(archive, scan(folder, archive), ImportOptions(patient.id))
    again = scan(folder, archive)
    assert again.counts()["new"] == 0 and again.counts()["already-imported"] == 8
    result = run_import(archive, again, ImportOptions(patient.id))
    assert result.imported == [] and result.counts() == {"already-imported": 8}
    assert len(result.verified) == 8  # their stored copies were read back
    assert len(records.images(archive, patient_id=patient.id)) == 8
    # Without that read-back, removing originals checks them first; one whose stored copy was
    # damaged meanwhile stays on the phone.
    result = run_import(archive, again, ImportOptions(patient.id, verify_existing=False))
    assert result.verified == []
    damaged = records.images(archive, patient_id=patient.id)[0]
    blob = archive.blobs.path(damaged.blob_id)
    raw = bytearray(blob.read_bytes())
    raw[-5] ^= 0xFF
    blob.write_bytes(bytes(raw))
    removed = remove_originals(archive, result)
    assert len(removed) == 7
    kept = [p.name for p in folder.iterdir() if p.name not in ("note.txt", "truncated_jpeg.jpg")]
    assert len(kept) == 1 and kept[0] not in removed


def test_visits_follow_capture_gaps_and_consent_forms_are_marked(archive, patient, corpus_copy):
    folder = corpus_copy("landscape_1.jpg", "landscape_2.jpg", "landscape_3.jpg", "noexif.jpg")
    _set_time(folder / "landscape_1.jpg", "2024-03-01T09:00:00")
    _set_time(folder / "landscape_2.jpg", "2024-03-01T09:20:00")
    _set_time(folder / "noexif.jpg", "2024-03-01T09:25:00")
    _set_time(folder / "landscape_3.jpg", "2024-03-08T14:00:00")
    options = ImportOptions(patient.id, per_entry={"noexif.jpg": EntryAssignment(kind="consent-form")})
    result = run_import(archive, scan(folder, archive), options)
    assert len(result.visits) == 2
    visits = records.visits(archive, patient.id)
    assert [(v.date, v.image_count) for v in visits] == [("2024-03-01", 3), ("2024-03-08", 1)]
    kinds = {i.kind for i in records.images(archive, visit_id=visits[0].id)}
    assert kinds == {"clinical", "consent-form"}


def test_the_user_can_regroup_photos_and_pick_an_existing_visit(archive, patient, corpus_copy):
    folder = corpus_copy("landscape_1.jpg", "landscape_2.jpg", "landscape_3.jpg")
    _set_time(folder / "landscape_1.jpg", "2024-03-01T09:00:00")
    _set_time(folder / "landscape_2.jpg", "2024-03-09T09:00:00")
    _set_time(folder / "landscape_3.jpg", "2024-03-20T09:00:00")
    earlier = records.add_visit(archive, patient.id, "2024-02-01")
    options = ImportOptions(patient.id, per_entry={
        "landscape_1.jpg": EntryAssignment(visit_group="a"), "landscape_2.jpg": EntryAssignment(visit_group="a"),
        "landscape_3.jpg": EntryAssignment(visit_id=earlier, notes="brought in late")})
    result = run_import(archive, scan(folder, archive), options)
    assert len(result.visits) == 1
    assert [(v.date, v.image_count) for v in records.visits(archive, patient.id)] == [("2024-02-01", 1),
                                                                                     ("2024-03-01", 2)]
    assert records.images(archive, visit_id=earlier)[0].notes == "brought in late"
    other = records.add_patient(archive, "ZZZ0024", "Other")
    foreign = records.add_visit(archive, other.id, "2024-01-01")
    with pytest.raises(InvalidInput, match="another patient"):
        run_import(archive, scan(folder, archive), ImportOptions(
            patient.id, per_entry={"landscape_1.jpg": EntryAssignment(visit_id=foreign)}))


def test_a_photo_with_no_capture_date_goes_into_a_visit_on_the_date_the_user_gives(archive, patient,
                                                                                  corpus_copy):
    # WhatsApp-forwarded photos carry no EXIF: the file time is the day it was saved, not taken.
    folder = corpus_copy("noexif.jpg", "landscape_1.jpg")
    _set_time(folder / "noexif.jpg", "2024-06-30T18:00:00")
    _set_time(folder / "landscape_1.jpg", "2024-06-30T18:05:00")
    plan = scan(folder, archive)
    assert {e.metadata.taken_at_source for e in plan.entries} == {"file-time"}
    result = run_import(archive, plan, ImportOptions(patient.id, per_entry={
        "noexif.jpg": EntryAssignment(visit_date="2024-06-12"),
        "landscape_1.jpg": EntryAssignment(visit_date="2024-06-12")}))
    assert len(result.visits) == 1
    assert [(v.date, v.image_count) for v in records.visits(archive, patient.id)] == [("2024-06-12", 2)]
    for bad, message in (("12/06/2024", "a date like"), ("2999-01-01", "in the future")):
        with pytest.raises(InvalidInput, match=message):
            run_import(archive, scan(folder, archive), ImportOptions(
                patient.id, per_entry={"noexif.jpg": EntryAssignment(visit_date=bad)}))


def test_location_is_kept_only_when_asked_with_a_reason(archive, patient, corpus_copy):
    folder = corpus_copy("HMD_Nokia_8.3_5G.jpg")
    plan = scan(folder, archive)
    with pytest.raises(InvalidInput, match="reason"):
        run_import(archive, plan, ImportOptions(patient.id, keep_location=True))
    run_import(archive, plan, ImportOptions(patient.id, keep_location=True,
                                            location_reason="home visit: place of exposure matters"))
    image = records.images(archive, patient_id=patient.id)[0]
    assert image.had_location and image.location_kept
    row = archive.catalogue.query_one("SELECT location, location_reason FROM image WHERE id = ?", (image.id,))
    assert json.loads(row["location"]) == pytest.approx({"lat": 60.1467056, "lon": 24.9067722})
    assert row["location_reason"].startswith("home visit")
    _assert_stored_clean(archive, patient.id)  # the stored photo itself never carries it
    audit = archive.audit.entries(archive.catalogue, action="image.import")[-1]
    assert audit.details["location_kept"] == 1 and "home" not in json.dumps(audit.details)


def test_cancel_then_resume_imports_each_photo_once(archive, patient, corpus_copy):
    folder = corpus_copy(*[f"landscape_{i}.jpg" for i in range(1, 9)], "jolla.jpg", "noexif.jpg")
    calls = []
    result = run_import(archive, scan(folder, archive), ImportOptions(patient.id, workers=1),
                        progress=lambda d, t, m: calls.append(d), cancelled=lambda: len(calls) >= 2)
    assert result.cancelled
    first = len(result.imported)
    assert 2 <= first < 10
    assert {o.status for o in result.outcomes} == {"imported", "cancelled"}
    assert verify(archive) == []
    rest = run_import(archive, scan(folder, archive), ImportOptions(patient.id))
    assert len(rest.imported) == 10 - first and not rest.cancelled
    hmacs = [r[0] for r in archive.catalogue.query("SELECT source_hmac FROM image")]
    assert len(hmacs) == len(set(hmacs)) == 10
    # The resumed photos continue in the visit of the first run (same capture session).
    assert len(records.visits(archive, patient.id)) == len({v for v in result.visits + rest.visits})


def test_remove_originals_deletes_only_verified_unchanged_files(archive, patient, corpus_copy):
    folder = corpus_copy("landscape_1.jpg", "landscape_2.jpg", "truncated_jpeg.jpg", "note.txt")
    result = run_import(archive, scan(folder, archive), ImportOptions(patient.id))
    with open(folder / "landscape_2.jpg", "ab") as fh:  # changed on the phone after the import
        fh.write(b"more")
    removed = remove_originals(archive, result)
    assert removed == ["landscape_1.jpg"]
    assert sorted(p.name for p in folder.iterdir()) == ["landscape_2.jpg", "note.txt", "truncated_jpeg.jpg"]
    audit = archive.audit.entries(archive.catalogue, action="image.remove-original")
    assert audit[-1].details == {"count": 1} and "landscape" not in json.dumps(audit[-1].as_json())


def test_remove_originals_also_removes_copies_of_the_same_photo_saved_twice(archive, patient, corpus_copy):
    # Phones and sync clients save the same photo twice ("IMG_0001 (1).jpg"): once its stored
    # copy is verified, neither copy should stay on the phone.
    folder = corpus_copy("landscape_1.jpg", "jolla.jpg")
    (folder / "landscape_1 (1).jpg").write_bytes((folder / "landscape_1.jpg").read_bytes())
    (folder / "jolla (1).jpg").write_bytes((folder / "jolla.jpg").read_bytes())
    plan = scan(folder, archive)
    assert plan.counts()["duplicate"] == 2
    # The nurse leaves jolla out of this import: its copy has no verified stored copy, it stays.
    jolla = next(e.rel for e in plan.new_entries() if e.rel.startswith("jolla"))
    result = run_import(archive, plan, ImportOptions(patient.id, per_entry={jolla: EntryAssignment(include=False)}))
    assert sorted(result.removable()) == ["landscape_1 (1).jpg", "landscape_1.jpg"]
    assert sorted(remove_originals(archive, result)) == ["landscape_1 (1).jpg", "landscape_1.jpg"]
    assert sorted(p.name for p in folder.iterdir()) == ["jolla (1).jpg", "jolla.jpg"]
    audit = archive.audit.entries(archive.catalogue, action="image.remove-original")[-1]
    assert audit.details == {"count": 2, "duplicates": 1}


def test_bad_options_are_refused_before_anything_is_written(archive, patient, corpus_copy):
    plan = scan(corpus_copy("noexif.jpg"), archive)
    for bad in (ImportOptions(patient.id, kind="selfie"), ImportOptions(patient.id, site="moon"),
                ImportOptions(patient.id, per_entry={"noexif.jpg": EntryAssignment(kind="x")})):
        with pytest.raises(InvalidInput):
            run_import(archive, plan, bad)
    with pytest.raises(InvalidInput, match="scan again"):
        run_import(archive, scan(corpus_copy("noexif.jpg")), ImportOptions(patient.id))
    assert records.images(archive) == []


@pytest.mark.slow
def test_whole_corpus_imports_or_explains_every_file(archive, patient, corpus_copy):
    folder = corpus_copy()
    plan = scan(folder, archive)
    result = run_import(archive, plan, ImportOptions(patient.id))
    outcome = {o.rel: o for o in result.outcomes}
    for entry in plan.entries:
        if entry.status == "new":
            assert outcome[entry.rel].status == "imported" and outcome[entry.rel].verified, entry.rel
        else:
            assert entry.reason, entry.rel
    assert len(result.imported) == 34
    assert verify(archive) == []
    _assert_stored_clean(archive, patient.id)


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_dry_run_import_and_images(cli_archive, corpus_copy, capsys):
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0024", "--family", "Cli"]) == 0
    folder = corpus_copy("landscape_6.jpg", "HMD_Nokia_8.3_5G.jpg", "note.txt", "empty.heic")
    capsys.readouterr()
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0024", "--dry-run", "--json"]) == 0
    entries = {e["path"]: e for e in json.loads(capsys.readouterr().out)["entries"]}
    nokia = entries["HMD_Nokia_8.3_5G.jpg"]
    assert nokia["status"] == "new" and nokia["has_location"] and nokia["taken_at"].startswith("2022-08-14")
    assert nokia["device"] and nokia["orientation"] == 1 and nokia["duplicate_of"] is None
    assert entries["landscape_6.jpg"]["orientation"] == 6
    assert entries["note.txt"]["status"] == "skipped" and entries["note.txt"]["reason"]
    assert entries["empty.heic"]["status"] == "rejected" and "empty" in entries["empty.heic"]["reason"]

    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0024", "--kind", "dermoscopic",
                 "--lesion", "L2", "--remove-originals"]) == 0
    out = capsys.readouterr().out
    assert "Imported 2 photo(s)" in out and "empty.heic" in out and "Removed 2" in out
    assert sorted(p.name for p in folder.iterdir()) == ["empty.heic", "note.txt"]
    assert main(["images", *cli_archive, "--patient", "ZZZ0024", "--json"]) == 0
    images = json.loads(capsys.readouterr().out)["images"]
    assert len(images) == 2 and {i["kind"] for i in images} == {"dermoscopic"}
    assert {i["had_location"] for i in images} == {True, False} and not any(i["location_kept"] for i in images)


def test_cli_undated_photos_go_into_one_visit_on_the_date_given(cli_archive, corpus_copy, capsys):
    folder = corpus_copy("noexif.jpg", "landscape_1.jpg", "jolla.jpg")  # jolla has its camera date
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Tester"]) == 0
    capsys.readouterr()
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0016",
                 "--undated-visit-date", "2024-06-12", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["visits"]) == 2
    assert main(["images", *cli_archive, "--patient", "ZZZ0016", "--json"]) == 0
    images = json.loads(capsys.readouterr().out)["images"]
    assert sorted(i["visit_date"] for i in images) == ["2014-09-21", "2024-06-12", "2024-06-12"]


def test_cli_images_flags_damaged_stored_copies_and_is_audited(cli_archive, corpus_copy, capsys, tmp_path):
    from dermarchive.archive import Archive

    folder = corpus_copy("noexif.jpg", "landscape_1.jpg", "jolla.jpg")
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Tester"]) == 0
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0016", "--json"]) == 0
    capsys.readouterr()
    path, _flag, pass_file = cli_archive
    with Archive.open(path, Archive.users_of(path)[0], open(pass_file).read().strip()) as archive:
        first, second, third = records.images(archive)
        truncated = archive.blobs.path(first.blob_id)
        truncated.write_bytes(truncated.read_bytes()[:-50])
        archive.blobs.path(second.blob_id).unlink()
    assert main(["images", *cli_archive, "--patient", "ZZZ0016", "--json"]) == 0
    state = {i["id"]: i["stored_copy"] for i in json.loads(capsys.readouterr().out)["images"]}
    assert state == {first.id: "the file is truncated", second.id: "its file is missing", third.id: "ok"}
    assert main(["images", *cli_archive, "--patient", "ZZZ0016"]) == 0
    text = capsys.readouterr().out
    assert text.count("[DAMAGED") == 2 and "2 stored copy(ies) damaged" in text
    with Archive.open(path, Archive.users_of(path)[0], open(pass_file).read().strip()) as archive:
        views = archive.audit.entries(archive.catalogue, action="patient.view")
        assert len(views) == 2 and views[-1].details == {"images_listed": 3}


def test_cli_keep_location_needs_a_reason(cli_archive, corpus_copy, capsys):
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0024", "--family", "Cli"]) == 0
    folder = corpus_copy("HMD_Nokia_8.3_5G.jpg")
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0024", "--keep-location"]) == 2
    assert "--location-reason" in capsys.readouterr().err
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0024", "--site", "back"]) == 2
    assert "--lesion" in capsys.readouterr().err
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0024", "--keep-location",
                 "--location-reason", "outbreak tracing", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"imported": 1}


def test_damaged_files_are_rejected_one_by_one_never_the_batch(archive, patient, corpus_copy):
    """Truncations, flipped bytes and broken segment lengths of real photos: each file ends
    imported or rejected with a reason; nothing crashes, the archive verifies clean."""
    import random

    folder = corpus_copy("landscape_2.jpg", "sugarshack.mpo", "clipboard_target.png")
    rng = random.Random(3)
    for name in ("landscape_2.jpg", "sugarshack.mpo", "clipboard_target.png"):
        data = (folder / name).read_bytes()
        stem, ext = name.rsplit(".", 1)
        for i in range(8):
            cut = rng.randrange(2, len(data))
            (folder / f"{stem}-cut{i}.{ext}").write_bytes(data[:cut])
            flipped = bytearray(data)
            for _ in range(rng.randrange(1, 6)):
                flipped[rng.randrange(2, len(data))] = rng.randrange(256)
            (folder / f"{stem}-flip{i}.{ext}").write_bytes(bytes(flipped))
    plan = scan(folder, archive)
    result = run_import(archive, plan, ImportOptions(patient.id))
    outcome = {o.rel: o for o in result.outcomes}
    for entry in plan.entries:
        final = outcome.get(entry.rel)
        status, reason = (final.status, final.reason) if final else (entry.status, entry.reason)
        assert status in ("imported", "rejected", "duplicate"), (entry.rel, status, reason)
        assert status == "imported" or reason, entry.rel
    assert outcome["landscape_2.jpg"].status == "imported"
    assert any(o.status == "rejected" for o in result.outcomes) or plan.counts()["rejected"]
    assert verify(archive) == []
    _assert_stored_clean(archive, patient.id)


def test_photos_that_clean_to_the_same_picture_share_their_stored_copy(archive, patient, corpus_copy):
    """Copies differing only in metadata (here a comment) are different files but the same
    cleaned picture: each is imported, the encrypted copy is stored once, whichever commits first."""
    folder = corpus_copy("landscape_1.jpg")
    original = (folder / "landscape_1.jpg").read_bytes()
    for i in range(6):
        comment = f"copy {i}".encode()
        (folder / f"copy{i}.jpg").write_bytes(original[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big")
                                              + comment + original[2:])
    plan = scan(folder, archive)
    assert plan.counts()["new"] == 7
    result = run_import(archive, plan, ImportOptions(patient.id, workers=3))
    assert len(result.imported) == 7
    stored = records.images(archive, patient_id=patient.id)
    assert len({i.blob_id for i in stored}) == 1 and len({i.thumb_blob_id for i in stored}) == 1
    # The original and its thumbnail; the screen preview is made after the import, once too.
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") == 2
    assert make_missing_previews(archive) == 7
    assert len({i.preview_blob_id for i in records.images(archive, patient_id=patient.id)} - {None}) == 1
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") == 3
    assert verify(archive) == []


def test_dermoscopic_photos_keep_the_dermatoscope_settings_of_their_day(archive, patient, corpus_copy):
    from dermarchive.archive.dicom_store import dermoscopy_of, set_dermoscopy_defaults

    set_dermoscopy_defaults(archive, polarization="POLARIZED", contact="NON_CONTACT", magnification=10)
    folder = corpus_copy("jolla.jpg", "noexif.jpg")
    result = run_import(archive, scan(folder, archive), ImportOptions(patient.id, kind="dermoscopic"))
    assert len(result.imported) == 2
    set_dermoscopy_defaults(archive, polarization="NON_POLARIZED", contact="CONTACT", magnification=20)
    for image_id in result.imported:
        taken = dermoscopy_of(archive, image_id)
        assert (taken.polarization, taken.contact, taken.magnification) == ("POLARIZED", "NON_CONTACT", 10)


def test_the_import_stores_the_scans_thumbnail_and_never_a_stale_one(archive, patient, corpus_copy):
    """The scan's check decodes each JPEG and keeps its thumbnail, so the import need not decode
    it again; a photo replaced after the scan gets a thumbnail of what is stored."""
    import shutil

    from dermarchive.ingest.clean import check

    folder = corpus_copy("landscape_1.jpg", "jolla.jpg")
    plan = scan(folder, archive)
    kept = {e.rel: e.thumb for e in plan.entries}
    assert all(kept.values())
    shutil.copyfile(corpus_copy("landscape_6.jpg", folder="other") / "landscape_6.jpg", folder / "jolla.jpg")
    os.utime(folder / "jolla.jpg", ns=(1, 1))  # a different file: size and time differ from the scan's
    result = run_import(archive, plan, ImportOptions(patient.id))
    assert len(result.imported) == 2
    by_rel = {o.rel: records.get_image(archive, o.image_id) for o in result.outcomes}
    assert records.image_bytes(archive, by_rel["landscape_1.jpg"], "thumb") == kept["landscape_1.jpg"]
    assert all(e.thumb is None for e in plan.entries)  # the plan does not keep them after use
    replaced = records.image_bytes(archive, by_rel["jolla.jpg"], "thumb")
    now = (folder / "jolla.jpg").read_bytes()
    assert replaced != kept["jolla.jpg"]
    assert replaced == check(now, read_metadata(now, "JPEG"), thumbnail=True)
