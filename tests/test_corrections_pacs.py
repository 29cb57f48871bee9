"""A correction reaches the practice PACS (a real Orthanc): a photo moved to another patient is
deleted there and sent again under the right patient; with the PACS down the move is made and the
wrong copy named for the administrator; a patient's corrected name replaces the old one there; a deleted photo
is deleted there too. ``verify`` stays clean."""

from __future__ import annotations

from pathlib import Path

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.errors import InvalidInput
from dermarchive.dicom import pacs
from dermarchive.workflows import corrections
from tests.orthanc_fixture import (
    ORTHANC_PASSWORD,
    ORTHANC_USER,
    Orthanc,
    add_consent,
    make_photo_archive,
    orthanc,  # noqa: F401 - the fixture
)


def _patients_in(server: Orthanc) -> dict[str, str]:
    """SOP Instance UID → Patient ID of every instance the PACS holds."""
    out = {}
    for oid in server.instances():
        tags = server.rest("GET", f"/instances/{oid}/simplified-tags")
        out[tags["SOPInstanceUID"]] = tags["PatientID"]
    return out


def test_moves_edits_and_deletes_are_corrected_in_the_pacs(archive, corpus: Path, orthanc: Orthanc) -> None:  # noqa: F811
    pa = make_photo_archive(archive, corpus, which=("baseline", "png", "dermoscopic"))
    other = records.add_patient(archive, "ZAC5361", "Smith", "Jo")
    same_day = records.add_visit(archive, other.id, "2024-03-05")
    add_consent(archive, same_day, ["clinical.documentation", "clinical.referral"])
    pacs.set_target(archive, orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
    pacs.send_to_pacs(archive, pa.patient.id)
    assert sorted(_patients_in(orthanc).values()) == ["ZZZ0016"] * 3

    moved = corrections.move_images(archive, [pa.ids["baseline"]], to_patient_nhi="ZAC5361", reason="wrong patient")
    assert moved.pacs.resent == [pa.ids["baseline"]] and moved.pacs.left == []
    held = _patients_in(orthanc)
    assert sorted(held.values()) == ["ZAC5361", "ZZZ0016", "ZZZ0016"], "one copy each, under the right patient"
    assert moved.moves[pa.ids["baseline"]][1].visit == same_day

    # to a patient with no visit that day: a new visit (keeping the photo in the record, which the
    # PACS is, needs no consent of the new visit beyond the clinical record)
    third = records.add_patient(archive, "ZZZ0024", "Third")
    moved = corrections.move_images(archive, [pa.ids["png"]], to_patient_id=third.id, reason="wrong patient")
    assert moved.pacs.resent == [pa.ids["png"]] and len(moved.new_visits) == 1
    assert sorted(_patients_in(orthanc).values()) == ["ZAC5361", "ZZZ0016", "ZZZ0024"]

    # a corrected NHI reaches the PACS copies of that patient
    edit = corrections.edit_patient(archive, "ZAC5361", new_nhi="ZBN77VL", reason="NHI typo")
    assert edit.pacs.resent == [pa.ids["baseline"]]
    assert sorted(_patients_in(orthanc).values()) == ["ZBN77VL", "ZZZ0016", "ZZZ0024"]
    same = corrections.edit_patient(archive, "ZBN77VL", family="Smith", given="Jo", reason="saved unchanged")
    assert same.changed == [] and same.pacs.in_pacs == [], "nothing changed: the PACS is left alone"

    gone = corrections.delete_images(archive, [pa.ids["dermoscopic"]], reason="duplicate")
    assert gone.deleted == [pa.ids["dermoscopic"]] and gone.pacs.deleted == [pa.ids["dermoscopic"]]
    assert sorted(_patients_in(orthanc).values()) == ["ZBN77VL", "ZZZ0024"]

    # the PACS is down: the move is still made here, and the wrong copy is named for its administrator
    orthanc.stop(graceful=False)
    moved = corrections.move_images(archive, [pa.ids["png"]], to_patient_id=pa.patient.id, reason="back")
    assert records.get_image(archive, pa.ids["png"]).patient_id == pa.patient.id
    assert moved.pacs.left == [pa.ids["png"]]
    assert any(line.startswith(f"Still in the practice PACS under the old details: image(s) {pa.ids['png']}.")
               for line in moved.pacs.lines())
    failed = archive.audit.entries(archive.catalogue, action="pacs.delete")[-1]
    assert failed.details["failed"] and failed.details["sop_instance_uids"]
    assert verify(archive) == []


def test_undo_puts_the_photo_back_in_its_visit_and_lesion(archive, corpus: Path) -> None:
    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    other = records.add_patient(archive, "ZAC5361", "Smith", "Jo")
    lesion = records.add_lesion(archive, other.id, "B1")
    moved = corrections.move_images(archive, [pa.ids["png"]], to_patient_id=other.id, to_lesion_id=lesion,
                                    reason="wrong patient")
    [(before, after)] = moved.moves.values()
    assert after.patient == other.id and after.lesion == lesion and moved.new_visits == [after.visit]
    corrections.undo_move(archive, moved)
    back = records.get_image(archive, pa.ids["png"])
    assert (back.patient_id, back.visit_id, back.lesion_id) == (before.patient, before.visit, before.lesion)
    entries = archive.audit.entries(archive.catalogue, action="image.move")
    assert [e.details["undo"] for e in entries] == [False, True]
    assert entries[1].details["removed_visits"] == [after.visit], "the visit the move made is gone with it"
    assert [v.id for v in records.visits(archive, other.id)] == []
    assert verify(archive) == []


def test_a_consent_form_photo_stays_with_its_visit(archive, corpus: Path) -> None:
    from tests.orthanc_fixture import add_photo

    pa = make_photo_archive(archive, corpus, which=("baseline",))
    form = add_photo(archive, pa.visit_id, (corpus / "jolla.jpg").read_bytes(), kind="consent-form")
    with archive.transaction() as tx:
        tx.execute("UPDATE consent SET method = 'photographed-form', form_image_id = ? WHERE visit_id = ?",
                   (form, pa.visit_id))
    other = records.add_patient(archive, "ZAC5361", "Smith")
    try:
        corrections.move_images(archive, [form], to_patient_id=other.id, reason="r")
    except InvalidInput as exc:
        assert "signed consent form" in str(exc)
    else:
        raise AssertionError("a consent form photo was moved away from its consent")
    assert records.get_image(archive, form).visit_id == pa.visit_id


def test_a_stored_file_shared_by_two_photos_is_erased_with_the_last(archive, corpus: Path) -> None:
    from tests.helpers import store_photo

    first = records.add_patient(archive, "ZZZ0016", "One")
    second = records.add_patient(archive, "ZAC5361", "Two")
    a = store_photo(archive, first.id, corpus / "jolla.jpg")
    b = store_photo(archive, second.id, corpus / "jolla.jpg")   # the same content: one stored file
    blob = records.get_image(archive, a).blob_id
    assert records.get_image(archive, b).blob_id == blob
    corrections.delete_images(archive, [a], reason="duplicate")
    assert archive.blobs.exists(blob) and archive.catalogue.scalar("SELECT 1 FROM blob WHERE id = ?", (blob,))
    assert records.image_bytes(archive, records.get_image(archive, b)) == (corpus / "jolla.jpg").read_bytes()
    corrections.delete_images(archive, [b], reason="duplicate")
    assert not archive.blobs.exists(blob)
    assert archive.catalogue.scalar("SELECT 1 FROM blob WHERE id = ?", (blob,)) is None, "wrapped key destroyed"
    assert verify(archive) == []
