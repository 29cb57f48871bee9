"""Consent records: versions, methods and their evidence, withdrawal with real deletion, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.cli import main
from dermarchive.consent import policy
from dermarchive.consent.records import current, history, normalise_signature, record_consent, signature_png
from dermarchive.workflows.consent import withdraw_consent
from dermarchive.errors import InvalidInput, NotFound
from tests.test_consent_support import NHI, add_photo, make_patient, signature_png as drawn_signature


@pytest.fixture
def visit(archive: Archive) -> int:
    return records.add_visit(archive, make_patient(archive), "2024-05-01", clinician="Dr K")


def test_each_change_adds_a_version_and_history_keeps_them(archive: Archive, visit: int) -> None:
    v1 = record_consent(archive, visit, scopes=["clinical.documentation"], method="verbal", obtained_by="RN Ana")
    v2 = record_consent(archive, visit, scopes=["clinical.documentation", "education"], method="written-signature",
                        obtained_by="RN Ana", signature=drawn_signature())
    assert (v1.version, v2.version) == (1, 2)
    assert [v.method for v in history(archive, visit)] == ["verbal", "written-signature"]
    assert current(archive, visit) == v2
    assert v2.recorded_by == "nurse.ana"
    entries = archive.audit.entries(archive.catalogue, action="consent.record")
    assert [e.details["version"] for e in entries] == [1, 2]
    assert all("Quenneville" not in json.dumps(e.as_json()) for e in entries)


def test_signature_is_stored_encrypted_and_reads_back(archive: Archive, visit: int) -> None:
    v = record_consent(archive, visit, scopes=["education"], method="written-signature", obtained_by="RN Ana",
                       signature=drawn_signature())
    png = signature_png(archive, v)
    assert png is not None and png.startswith(b"\x89PNG")
    stored = archive.path / "blobs" / v.signature_blob_id[:2] / v.signature_blob_id
    assert stored.exists() and b"PNG" not in stored.read_bytes()[:64]
    assert verify(archive) == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="written-signature"), "needs the patient's signature"),
    (dict(method="exemption"), "needs its reason"),
    (dict(method="verbal", scopes=["education"]), "Verbal consent covers clinical purposes only"),
    (dict(method="exemption", reason="NAI", scopes=["research"]), "clinical purposes only"),
    (dict(method="verbal", scopes=[]), "at least one purpose"),
    (dict(method="verbal", obtained_by=" "), "who obtained"),
    (dict(method="photographed-form"), "photo of the signed consent form"),
    (dict(method="verbal", obtained_at="2999-01-01"), "in the future"),
    (dict(method="verbal", obtained_at="last Tuesday"), "YYYY-MM-DD"),
    (dict(method="telepathy"), "Unknown consent method"),
    (dict(method="verbal", scopes=["marketing"]), "Unknown consent purpose"),
])
def test_bad_consent_is_refused_with_a_plain_reason_and_nothing_recorded(
        archive: Archive, visit: int, kwargs: dict, message: str) -> None:
    args = dict(scopes=["clinical.documentation"], obtained_by="RN Ana")
    reason = kwargs.pop("reason", None)
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=message):
        record_consent(archive, visit, exemption_reason=reason, **args)
    assert history(archive, visit) == []


def test_blank_signature_is_refused(archive: Archive, visit: int) -> None:
    from PIL import Image
    import io
    blank = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(blank, "PNG")
    with pytest.raises(InvalidInput, match="blank"):
        record_consent(archive, visit, scopes=["education"], method="written-signature", obtained_by="RN",
                       signature=blank.getvalue())
    with pytest.raises(InvalidInput, match="not a readable"):
        normalise_signature(b"not an image at all")


def test_signature_scan_loses_its_metadata(corpus: Path) -> None:
    png = normalise_signature((corpus / "landscape_1.jpg").read_bytes())
    from PIL import Image
    import io
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and "exif" not in img.info and "xmp" not in img.info


def test_form_photo_must_be_a_consent_form_of_the_same_visit(archive: Archive, visit: int) -> None:
    clinical = add_photo(archive, visit)
    form = add_photo(archive, visit, "noexif.jpg", kind="consent-form")
    other_visit = records.add_visit(archive, records.get_visit(archive, visit).patient_id, "2024-06-01")
    other_form = add_photo(archive, other_visit, "noapp01.jpg", kind="consent-form")
    base = dict(scopes=["research"], method="photographed-form", obtained_by="RN Ana")
    with pytest.raises(InvalidInput, match="not marked as a consent form"):
        record_consent(archive, visit, form_image_id=clinical, **base)
    with pytest.raises(InvalidInput, match="another visit"):
        record_consent(archive, visit, form_image_id=other_form, **base)
    with pytest.raises(NotFound):
        record_consent(archive, visit, form_image_id=9999, **base)
    v = record_consent(archive, visit, form_image_id=form, **base)
    assert v.form_image_id == form and policy.allowed(archive, clinical, "research")


def test_exemption_grants_clinical_purposes_only(archive: Archive, visit: int) -> None:
    image = add_photo(archive, visit)
    v = record_consent(archive, visit, scopes=[], method="exemption", obtained_by="Dr K",
                       exemption_reason="Suspected non-accidental injury of a child")
    assert set(v.scopes) == {"clinical.documentation", "clinical.referral", "clinical.second_opinion",
                             "clinical.triage"}
    assert policy.allowed(archive, image, "clinical.referral")
    assert not policy.allowed(archive, image, "education")


def test_withdrawal_deletes_only_non_essential_photos_and_verify_stays_clean(archive: Archive, visit: int) -> None:
    keep = add_photo(archive, visit, "landscape_1.jpg", essential=True)
    drop = add_photo(archive, visit, "landscape_2.jpg")
    mark_essential = add_photo(archive, visit, "landscape_3.jpg")
    form = add_photo(archive, visit, "noexif.jpg", kind="consent-form")
    record_consent(archive, visit, scopes=["clinical.referral", "education"], method="photographed-form",
                   obtained_by="RN Ana", form_image_id=form)
    drop_blob = records.get_image(archive, drop).blob_id
    blob_file = archive.path / "blobs" / drop_blob[:2] / drop_blob
    assert blob_file.exists()

    w = withdraw_consent(archive, visit, reason="patient asked", essential={mark_essential: True},
                         delete_non_essential=True)

    assert w.deleted == [drop] and w.kept == sorted([keep, mark_essential])
    assert w.version.version == 2 and w.version.withdrawn and w.version.withdrawn_reason == "patient asked"
    assert {i.id for i in records.images(archive, visit_id=visit)} == {keep, mark_essential, form}
    assert not blob_file.exists()
    assert archive.catalogue.scalar("SELECT count(*) FROM blob WHERE id = ?", (drop_blob,)) == 0
    assert records.get_image(archive, mark_essential).essential_for_care
    # kept photos are restricted to the clinical record
    assert policy.allowed(archive, keep, "clinical.documentation")
    assert not policy.allowed(archive, keep, "clinical.referral")
    assert not policy.allowed(archive, keep, "education")
    deletion = archive.audit.entries(archive.catalogue, action="image.delete")[-1]
    assert deletion.subject["images"] == [drop]
    assert verify(archive) == []
    # history is kept: both versions are there
    assert [v.withdrawn for v in history(archive, visit)] == [False, True]


def test_withdrawal_without_deletion_keeps_every_photo(archive: Archive, visit: int) -> None:
    photos = [add_photo(archive, visit, f"landscape_{n}.jpg") for n in (1, 2)]
    record_consent(archive, visit, scopes=["clinical.referral"], method="verbal", obtained_by="RN")
    w = withdraw_consent(archive, visit, reason="changed mind")
    assert w.deleted == [] and w.kept == photos
    with pytest.raises(InvalidInput, match="already withdrawn"):
        withdraw_consent(archive, visit, reason="again")


def test_nothing_to_withdraw_without_consent(archive: Archive, visit: int) -> None:
    with pytest.raises(InvalidInput, match="nothing to withdraw"):
        withdraw_consent(archive, visit, reason="x")
    with pytest.raises(InvalidInput, match="needs the reason"):
        withdraw_consent(archive, visit, reason="  ")


def test_archive_reopens_consistent_after_withdrawal(make_archive, tmp_path: Path) -> None:
    path = tmp_path / "reopen"
    a = make_archive(path)
    vid = records.add_visit(a, make_patient(a), "2024-05-01")
    add_photo(a, vid)
    record_consent(a, vid, scopes=["education"], method="written-signature", obtained_by="RN",
                   signature=drawn_signature())
    withdraw_consent(a, vid, reason="asked", delete_non_essential=True)
    a.close()
    with Archive.open(path, "nurse.ana", "correct horse 42") as b:
        assert b.swept == 0
        assert current(b, vid).withdrawn
        assert records.images(b, visit_id=vid) == []
        assert verify(b) == []


# -- CLI --------------------------------------------------------------------------------------
def _cli_visit(cli_archive: list[str], n_photos: int = 2) -> tuple[int, list[int]]:
    with Archive.open(cli_archive[0], "nurse.ana", "correct horse 42") as a:
        pid = make_patient(a)
        records.add_visit(a, pid, "2024-01-01")
        vid = records.add_visit(a, pid, "2024-05-01")
        photos = [add_photo(a, vid, f"landscape_{n + 1}.jpg", essential=n == 0) for n in range(n_photos)]
    return vid, photos


def test_cli_set_show_withdraw(cli_archive: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    vid, photos = _cli_visit(cli_archive)
    assert main(["consent", "set", *cli_archive, "--patient", NHI.lower(), "--grant", "clinical,education",
                 "--method", "written-signature", "--obtained-by", "RN Ana"]) == 0
    assert "signed on paper" in capsys.readouterr().out
    assert main(["consent", "show", *cli_archive, "--patient", NHI, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    latest = shown["visits"][-1]
    assert latest["visit_id"] == vid  # defaults to the latest visit
    assert latest["current"]["signature_on_paper"] and latest["current"]["evidence"] == "signed on paper (no image stored)"
    assert "education" in latest["current"]["scopes"]
    assert shown["visits"][0]["current"] is None

    assert main(["consent", "withdraw", *cli_archive, "--patient", NHI, "--reason", "asked",
                 "--delete-non-essential", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["deleted_images"] == [photos[1]] and result["kept_images"] == [photos[0]]
    assert main(["verify", *cli_archive]) == 0


def test_cli_signature_file_and_errors(cli_archive: list[str], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    vid, _photos = _cli_visit(cli_archive, 1)
    sig = tmp_path / "sig.png"
    sig.write_bytes(drawn_signature())
    assert main(["consent", "set", *cli_archive, "--patient", NHI, "--visit", str(vid), "--grant", "research",
                 "--method", "written-signature", "--obtained-by", "RN", "--signature", str(sig), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["signature_stored"] is True
    rc = main(["consent", "set", *cli_archive, "--patient", NHI, "--grant", "clinical",
               "--method", "exemption", "--obtained-by", "RN"])
    err = capsys.readouterr().err
    assert rc != 0 and "exemption needs its reason" in err and "Traceback" not in err
    rc = main(["consent", "set", *cli_archive, "--patient", NHI, "--grant", "clinical,teaching",
               "--method", "verbal", "--obtained-by", "RN"])
    assert rc != 0 and "Unknown consent purpose 'teaching'" in capsys.readouterr().err
    rc = main(["consent", "set", *cli_archive, "--patient", NHI, "--visit", "999", "--grant", "clinical",
               "--method", "verbal", "--obtained-by", "RN"])
    assert rc != 0 and "No such visit" in capsys.readouterr().err


def test_cli_form_photo(cli_archive: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    vid, photos = _cli_visit(cli_archive, 1)
    with Archive.open(cli_archive[0], "nurse.ana", "correct horse 42") as a:
        form = add_photo(a, vid, "noexif.jpg", kind="consent-form")
    rc = main(["consent", "set", *cli_archive, "--patient", NHI, "--grant", "research", "--method",
               "photographed-form", "--obtained-by", "RN", "--form-photo", str(photos[0])])
    assert rc != 0 and "not marked as a consent form" in capsys.readouterr().err
    assert main(["consent", "set", *cli_archive, "--patient", NHI, "--grant", "research", "--method",
                 "photographed-form", "--obtained-by", "RN", "--form-photo", str(form)]) == 0
    assert f"consent form photo (image {form})" in capsys.readouterr().out
    assert main(["consent", "show", *cli_archive, "--patient", NHI]) == 0
    shown = capsys.readouterr().out
    assert "no consent recorded" in shown and "photographed-form: research" in shown
