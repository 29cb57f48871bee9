"""The patient's own copy: their stored, cleaned photos under neutral names, always allowed."""

from __future__ import annotations

import csv
import json

import pytest

from dermarchive.archive import records
from dermarchive.cli import main
from dermarchive.errors import InvalidInput
from dermarchive.exports.patient_access import export_patient_access
from dermarchive.ingest import ImportOptions, run_import, scan
from dermarchive.ingest.metadata import read_metadata, sniff


@pytest.fixture
def imported(archive, corpus_copy):
    patient = records.add_patient(archive, "ZZZ0016", "Access", "Pat")
    folder = corpus_copy("HMD_Nokia_8.3_5G.jpg", "landscape_6.jpg", "clipboard_target.png", "sugarshack.mpo")
    run_import(archive, scan(folder, archive), ImportOptions(patient.id, lesion_label="L1"))
    return patient


def test_export_writes_the_stored_originals_under_neutral_names(archive, imported, tmp_path):
    out = tmp_path / "for-patient"
    progress = []
    summary = export_patient_access(archive, imported.id, out, progress=lambda d, t, m: progress.append(d))
    stored = records.images(archive, patient_id=imported.id)
    assert summary["count"] == len(stored) == 4 and progress[-1] == 4
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(summary["files"] + ["photos.csv"])
    assert [n[:10] for n in summary["files"]] == ["image-0001", "image-0002", "image-0003", "image-0004"]
    assert sorted(n[-4:] for n in summary["files"]) == [".jpg", ".jpg", ".jpg", ".png"]
    for name, image in zip(summary["files"], stored):
        data = (out / name).read_bytes()
        assert data == records.image_bytes(archive, image)  # the cleaned original, byte for byte
        meta = read_metadata(data, sniff(data[:32]))
        assert not meta.has_location and meta.identifying == ()
    with open(out / "photos.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == summary["files"] and {r["lesion"] for r in rows} == {"L1"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left
    entry = archive.audit.entries(archive.catalogue, action="export")[-1]
    assert entry.details == {"purpose": "patient-access", "count": 4}
    assert entry.subject == {"patient": imported.id, "images": [i.id for i in stored]}
    assert "ZZZ0016" not in json.dumps(entry.as_json())


def test_export_refuses_other_patients_images_and_a_used_folder(archive, imported, tmp_path):
    other = records.add_patient(archive, "ZZZ0024", "Other")
    mine = [i.id for i in records.images(archive, patient_id=imported.id)]
    with pytest.raises(InvalidInput, match="do not belong"):
        export_patient_access(archive, other.id, tmp_path / "x", image_ids=mine[:1])
    used = tmp_path / "used"
    used.mkdir()
    (used / "letter.txt").write_text("keep me")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        export_patient_access(archive, imported.id, used)
    assert [p.name for p in used.iterdir()] == ["letter.txt"]
    with pytest.raises(InvalidInput, match="no stored photos"):
        export_patient_access(archive, other.id, tmp_path / "none")
    summary = export_patient_access(archive, imported.id, tmp_path / "one", image_ids=mine[1:2])
    assert summary["count"] == 1


def test_cli_patient_access_export(cli_archive, corpus_copy, tmp_path, capsys):
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Cli"]) == 0
    folder = corpus_copy("landscape_2.jpg", "jolla.jpg")
    assert main(["import", *cli_archive, str(folder), "--patient", "ZZZ0016"]) == 0
    out = tmp_path / "copy"
    assert main(["export", *cli_archive, "--patient", "ZZZ0016", "--purpose", "patient-access",
                 "--out", str(out)]) == 0
    assert "Exported 2 image(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["image-0001.jpg", "image-0002.jpg", "photos.csv"]
