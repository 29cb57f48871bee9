"""Correcting the record from the command line (issue 16), black-box: each command runs as a
subprocess against a real archive with real photos, and ``verify`` must stay clean after every
kind of correction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO

A, B, C = "ZZZ0016", "ZAC5361", "ZZZ0024"   # test NHIs (Z… are reserved for testing)


class Cli:
    def __init__(self, path: Path, passphrase_file: Path) -> None:
        self.path = path
        self.common = [str(path), "--passphrase-file", str(passphrase_file)]

    def run(self, *args: Any, ok: bool = True, common: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd, rest = [], list(args)
        while rest and isinstance(rest[0], str) and not rest[0].startswith("-"):  # command words, then the archive
            cmd.append(str(rest.pop(0)))
        proc = subprocess.run([sys.executable, "-m", "dermarchive.cli", *cmd, *(common or self.common),
                               *map(str, rest)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        if ok:
            assert proc.returncode == 0, proc.stderr
        else:
            assert proc.returncode != 0, proc.stdout
        return proc

    def json(self, *args: Any) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def verify_clean(self) -> None:
        out = self.run("verify").stdout
        assert "Archive verified" in out

    def images(self, nhi: str) -> dict[int, dict[str, Any]]:
        return {i["id"]: i for i in self.json("images", "--patient", nhi)["images"]}


@pytest.fixture
def cli(tmp_path: Path, passphrase_file: Path) -> Cli:
    tool = Cli(tmp_path / "archive", passphrase_file)
    proc = subprocess.run([sys.executable, "-m", "dermarchive.cli", "init", str(tool.path), "--user", "nurse.ana",
                           "--passphrase-file", str(passphrase_file), "--kdf-params", "1,8192,1"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert proc.returncode == 0, proc.stderr
    for nhi, family in ((A, "Ngata"), (B, "Smith")):
        tool.run("patient", "add", "--nhi", nhi, "--family", family, "--given", "Hine")
    return tool


def _import(cli: Cli, corpus_copy: Any, nhi: str, *names: str, folder: str, extra: tuple[str, ...] = ()) -> Any:
    phone = corpus_copy(*names, folder=folder)
    return cli.json("import", "--patient", nhi, str(phone), *extra)


def test_move_to_another_patient_takes_that_visits_consent_and_leaves_the_first_patients_exports(
        cli: Cli, corpus_copy: Any, tmp_path: Path) -> None:
    # Patient A: a photo of 21 Sept 2014 (camera date) with written consent for education.
    _import(cli, corpus_copy, A, "jolla.jpg", folder="phone-a", extra=("--lesion", "L1", "--site", "forearm"))
    cli.run("consent", "set", "--patient", A, "--grant", "clinical,education", "--method", "written-signature",
            "--obtained-by", "RN Ana")
    # Patient B: a visit on the same day (a photo with no camera date, dated by the nurse),
    # verbal consent: clinical purposes only.
    _import(cli, corpus_copy, B, "67-0_length_string.jpg", folder="phone-b",
            extra=("--undated-visit-date", "2014-09-21", "--lesion", "L1"))
    cli.run("consent", "set", "--patient", B, "--grant", "clinical", "--method", "verbal", "--obtained-by", "RN Ana")
    [moving] = cli.images(A)
    [b_photo] = cli.images(B).values()

    export_a = tmp_path / "export-a-before"
    cli.run("export", "--patient", A, "--purpose", "education", "--out", export_a)
    assert len([p for p in export_a.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")]) == 1

    done = cli.json("image", "move", "--image", moving, "--to-patient", B, "--reason", "filed under the wrong patient")
    assert done["new_visits"] == [] and [m["image"] for m in done["moved"]] == [moving]
    assert done["moved"][0]["to"]["visit"] == b_photo["visit_id"], "joins B's visit of the same day"
    assert done["moved"][0]["to"]["lesion"] is None, "A's lesion is not B's"
    assert cli.images(A) == {}
    moved = cli.images(B)[moving]
    assert moved["visit_id"] == b_photo["visit_id"]

    # B's visit has verbal consent: the photo can no longer go to education (A's consent stayed behind)
    refused = cli.run("export", "--patient", B, "--purpose", "education", "--image", moving,
                      "--out", tmp_path / "export-b", ok=False)
    assert "education" in (refused.stderr + refused.stdout)
    # and A's exports no longer include it
    export_a2 = tmp_path / "export-a-after"
    proc = cli.run("export", "--patient", A, "--purpose", "education", "--out", export_a2, ok=False)
    assert not [p for p in export_a2.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")]
    assert "Traceback" not in proc.stderr

    # audited with the reason and the ids before and after, never names or NHIs
    [entry] = cli.json("audit", "--action", "image.move")["entries"]
    assert entry["details"]["reason"] == "filed under the wrong patient"
    assert entry["details"]["moves"][0]["from"]["patient"] == 1 and entry["details"]["moves"][0]["to"]["patient"] == 2
    text = json.dumps(entry)
    assert A not in text and B not in text and "Ngata" not in text
    cli.verify_clean()


def test_move_to_a_patient_without_a_visit_that_day_makes_one_and_to_lesion(cli: Cli, corpus_copy: Any) -> None:
    _import(cli, corpus_copy, A, "jolla.jpg", "iphone_hdr_NO.jpg", folder="phone", extra=("--lesion", "L1"))
    ids = sorted(cli.images(A))
    done = cli.json("image", "move", "--image", ids[0], "--to-patient", B, "--reason", "wrong patient")
    assert len(done["new_visits"]) == 1
    assert cli.images(B)[ids[0]]["visit_id"] == done["new_visits"][0]
    cli.verify_clean()
    # within one patient: to another lesion of theirs (it must exist)
    err = cli.run("image", "move", "--image", ids[1], "--to-lesion", "L2", "--reason", "r", ok=False).stderr
    assert "no lesion labelled 'L2'" in err and "L1" in err
    # nothing half-done: a missing image stops the whole move
    err = cli.run("image", "move", "--image", ids[1], "--image", 999, "--to-patient", B, "--reason", "r",
                  ok=False).stderr
    assert "999" in err and ids[1] in cli.images(A)
    # to the patient it already belongs to, no lesion named: it keeps its lesion (nothing to do)
    same = cli.json("image", "move", "--image", ids[1], "--to-patient", A, "--reason", "r")
    assert same["moved"] == [] and same["unchanged"] == [ids[1]]
    err = cli.run("image", "move", "--image", ids[1], "--to-patient", B, "--reason", " ", ok=False).stderr
    assert "needs a reason" in err


def test_delete_erases_the_stored_files_and_keeps_the_fact(cli: Cli, corpus_copy: Any) -> None:
    _import(cli, corpus_copy, A, "jolla.jpg", "iphone_hdr_NO.jpg", folder="phone")
    ids = sorted(cli.images(A))
    info = cli.json("info")
    blob_files = {p.name for p in (cli.path / "blobs").rglob("*") if p.is_file()}
    done = cli.json("image", "delete", "--image", ids[0], "--reason", "duplicate photo")
    assert done["deleted"] == [ids[0]]
    after = cli.json("info")
    assert after["images"] == info["images"] - 1
    # original and thumbnail erased (since issue 19 import leaves the preview to the first view;
    # tests/test_previews.py erases a preview made later)
    assert after["blobs"] == info["blobs"] - 2, "original and thumbnail erased"
    left = {p.name for p in (cli.path / "blobs").rglob("*") if p.is_file()}
    assert len(blob_files - left) == 2
    [entry] = cli.json("audit", "--action", "image.delete")["entries"]
    assert entry["subject"]["images"] == [ids[0]] and entry["details"]["reason"] == "duplicate photo"
    assert list(cli.images(A)) == [ids[1]]
    cli.verify_clean()


def test_roles_nurses_correct_filing_clinicians_delete_and_merge(cli: Cli, corpus_copy: Any, tmp_path: Path) -> None:
    nurse_pass = tmp_path / "nurse.txt"
    nurse_pass.write_text("nurse passphrase 77\n")
    cli.run("user", "add", "--name", "rn.bo", "--role", "nurse", "--new-passphrase-file", nurse_pass,
            "--kdf-params", "1,8192,1", "--user", "nurse.ana")
    cli.common += ["--user", "nurse.ana"]  # an admin (the first user)
    _import(cli, corpus_copy, A, "jolla.jpg", folder="phone", extra=("--lesion", "L1"))
    [image] = cli.images(A)
    nurse = [str(cli.path), "--passphrase-file", str(nurse_pass), "--user", "rn.bo"]
    err = cli.run("image", "delete", "--image", image, "--reason", "r", ok=False, common=nurse).stderr
    assert "Only clinician or admin users may delete photos" in err
    err = cli.run("patient", "merge", "--from", A, "--into", B, "--reason", "r", ok=False, common=nurse).stderr
    assert "may merge patients" in err
    err = cli.run("patient", "edit", "--nhi", A, "--new-nhi", C, "--reason", "r", ok=False, common=nurse).stderr
    assert "may change a patient's NHI" in err
    # what a nurse may do
    cli.run("lesion", "edit", "--patient", A, "--lesion", "L1", "--diagnosis", "naevus", "--reason", "r", common=nurse)
    cli.run("patient", "edit", "--nhi", A, "--dob", "1961-02-03", "--reason", "r", common=nurse)
    cli.run("image", "move", "--image", image, "--to-patient", B, "--reason", "r", common=nurse)
    assert image in cli.images(B)


def test_patient_edit_and_new_nhi(cli: Cli) -> None:
    done = cli.json("patient", "edit", "--nhi", A, "--family", "Ngata-Smith", "--dob", "1961-02-03",
                    "--reason", "spelling")
    assert done["changed"] == ["dob", "family"] and done["patient"]["family"] == "Ngata-Smith"
    err = cli.run("patient", "edit", "--nhi", A, "--new-nhi", B, "--reason", "r", ok=False).stderr
    assert "Another patient already has NHI" in err and "merge" in err
    err = cli.run("patient", "edit", "--nhi", A, "--new-nhi", "ZZZ0017", "--reason", "r", ok=False).stderr
    assert "check digit" in err
    err = cli.run("patient", "edit", "--nhi", A, "--dob", "2999-01-01", "--reason", "r", ok=False).stderr
    assert "future" in err
    assert cli.json("patient", "edit", "--nhi", A, "--new-nhi", C.lower(), "--reason", "NHI typo")["patient"]["nhi"] == C
    assert sorted(p["nhi"] for p in cli.json("patients")["patients"]) == sorted([C, B])
    entries = cli.json("audit", "--action", "patient.update")["entries"]
    assert entries[-1]["details"] == {"fields": ["nhi"], "reason": "NHI typo"}
    assert A not in json.dumps(entries) and C not in json.dumps(entries) and "Ngata" not in json.dumps(entries)
    cli.verify_clean()


def test_merge_moves_everything_and_the_first_is_no_longer_listed(cli: Cli, corpus_copy: Any) -> None:
    _import(cli, corpus_copy, A, "jolla.jpg", folder="pa", extra=("--lesion", "L1"))
    cli.run("consent", "set", "--patient", A, "--grant", "clinical,education", "--method", "written-signature",
            "--obtained-by", "RN Ana")
    _import(cli, corpus_copy, B, "iphone_hdr_NO.jpg", folder="pb", extra=("--lesion", "L1"))
    done = cli.json("patient", "merge", "--from", A, "--into", B, "--reason", "same person registered twice")
    assert len(done["images"]) == 1 and len(done["visits"]) == 1 and len(done["relabelled_lesions"]) == 1
    assert [p["nhi"] for p in cli.json("patients")["patients"]] == [B]
    err = cli.run("images", "--patient", A, ok=False).stderr
    assert "No patient with NHI" in err
    assert len(cli.images(B)) == 2
    assert sorted(l["label"] for l in cli.json("lesions", "--patient", B)["lesions"]) == ["L1", "L1 (2)"]
    # the visit kept its own consent
    visits = cli.json("consent", "show", "--patient", B)["visits"]
    assert sum(1 for v in visits if v["current"] and "education" in v["current"]["scopes"]) == 1
    [entry] = cli.json("audit", "--action", "patient.merge")["entries"]
    assert entry["subject"] == {"patient": 2, "merged_from": 1}
    assert entry["details"]["reason"] == "same person registered twice"
    err = cli.run("patient", "merge", "--from", B, "--into", B.lower(), "--reason", "r", ok=False).stderr
    assert "same patient" in err
    cli.verify_clean()


def test_patient_import_all_or_nothing_with_every_bad_row_listed(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nhi,family,given,dob\n"
                   "ZZZ0024,Tāne,Ārihi,1990-01-01\n"
                   "ZZZ0044,Smith,Jo,1980-05-05\n"
                   "ZZZ00AC,,Jo,\n"
                   "ZBN77VL,Brown,Al,31/12/1970\n"
                   "ZZZ0024,Again,,\n", encoding="utf-8")
    err = cli.run("patient", "import", bad, ok=False).stderr
    assert "Nothing was imported: 4 row(s)" in err
    for line, why in ((3, "check digit"), (4, "family name is empty"), (5, "YYYY-MM-DD"), (6, "also on line 2")):
        assert f"line {line}: " in err and why in err.split(f"line {line}: ")[1].splitlines()[0]
    assert len(cli.json("patients")["patients"]) == 2, "nothing imported"

    good = tmp_path / "good.csv"
    good.write_bytes("\ufeffnhi,family,given,dob\r\nZZZ0024,Tāne,Ārihi,1990-01-01\r\nzbn77vl,Brown,,\r\n"
                     f"{A},Other,Name,\r\n".encode())
    done = cli.json("patient", "import", good)
    assert done["added"] == 2 and done["already_registered"] == [A]
    found = {p["nhi"]: p for p in cli.json("patients")["patients"]}
    assert found["ZZZ0024"]["family"] == "Tāne" and found["ZBN77VL"]["dob"] is None
    assert found[A]["family"] == "Ngata", "an existing patient is left alone"
    text = cli.run("patient", "import", good).stdout
    assert "Registered 0 patient(s)" in text and A in text

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("nhi,family,given,dob\nZZZ00AC,T\u00e2ne,,\n".encode("latin-1"))
    assert "not UTF-8" in cli.run("patient", "import", latin1, ok=False).stderr
    header = tmp_path / "header.csv"
    header.write_text("NHI;Family\nZZZ00AC;X\n")
    assert "header nhi,family,given,dob" in cli.run("patient", "import", header, ok=False).stderr
    cli.verify_clean()


def test_lesion_edit_and_lesions_json(cli: Cli, corpus_copy: Any) -> None:
    _import(cli, corpus_copy, A, "jolla.jpg", folder="phone", extra=("--lesion", "L1", "--site", "forearm",
                                                                       "--laterality", "left"))
    assert cli.json("lesions", "--patient", A) == {"lesions": [
        {"label": "L1", "site": "forearm", "laterality": "left", "diagnosis": "", "status": "active", "images": 1}]}
    cli.run("lesion", "edit", "--patient", A, "--lesion", "L1", "--label", "L1a", "--site", "upper-arm",
            "--laterality", "right", "--diagnosis", "seborrhoeic keratosis", "--status", "monitoring",
            "--reason", "reviewed")
    assert cli.json("lesions", "--patient", A)["lesions"] == [
        {"label": "L1a", "site": "upper-arm", "laterality": "right", "diagnosis": "seborrhoeic keratosis",
         "status": "monitoring", "images": 1}]
    err = cli.run("lesion", "edit", "--patient", A, "--lesion", "L1a", "--site", "elbowish", "--reason", "r",
                  ok=False).stderr
    assert "Unknown body site 'elbowish'" in err
    err = cli.run("lesion", "edit", "--patient", A, "--lesion", "L1", "--status", "excised", "--reason", "r",
                  ok=False).stderr
    assert "no lesion labelled 'L1'" in err
    [entry] = cli.json("audit", "--action", "lesion.update")["entries"]
    assert entry["details"] == {"fields": ["diagnosis", "label", "laterality", "site", "status"], "reason": "reviewed"}
    assert "keratosis" not in json.dumps(entry)
    cli.verify_clean()


def test_import_lists_photos_without_a_camera_date(cli: Cli, corpus_copy: Any) -> None:
    phone = corpus_copy("67-0_length_string.jpg", "jolla.jpg", folder="phone")
    out = cli.run("import", "--patient", A, str(phone)).stdout
    assert "1 photo(s) had no camera date" in out
    [line] = [l for l in out.splitlines() if l.startswith("  67-0_length_string.jpg")]
    assert "visit dated " in line and "jolla.jpg  (visit dated" not in out
    phone2 = corpus_copy("noexif.jpg", folder="phone2")
    done = cli.json("import", "--patient", B, str(phone2))
    assert [u["file"] for u in done["undated"]] == ["noexif.jpg"]
    phone3 = corpus_copy("clipboard_target.png", folder="phone3")
    done = cli.json("import", "--patient", B, str(phone3), "--undated-visit-date", "2026-01-05")
    assert len(done["imported"]) == 1 and done["undated"] == [], "the nurse gave the date: nothing to flag"
    assert {i["visit_date"] for i in cli.images(B).values() if i["id"] in done["imported"]} == {"2026-01-05"}
