"""``dermarchive referral`` and ``dermarchive settings practice`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

from pypdf import PdfReader

from dermarchive.archive import Archive
from dermarchive.cli import main

from tests.test_referral import NHI, QUESTION, embedded_images, seed, text_of

PASSPHRASE = "correct horse 42"


def _seed(cli_archive: list[str], corpus: Path, *files: str, scopes=("clinical.referral",), label="L1"):
    with Archive.open(cli_archive[0], "nurse.ana", PASSPHRASE) as a:
        return seed(a, corpus, files, scopes=scopes, label=label)


def test_cli_writes_referral_with_default_photos(cli_archive, corpus, tmp_path, capsys):
    s = _seed(cli_archive, corpus, "landscape_1.jpg", "landscape_6.jpg")
    _seed(cli_archive, corpus, "landscape_2.jpg", scopes=(), label="L2")  # no referral consent: left out by default
    assert main(["settings", "practice", *cli_archive, "--name", "Harbourside Skin Clinic",
                 "--address", "12 Quay St\\nAuckland", "--phone", "09 555 0199"]) == 0
    out = tmp_path / "ref.pdf"
    code = main(["referral", *cli_archive, "--patient", NHI.lower(), "--to", "Dermatology, Auckland",
                 "--question", QUESTION, "--urgency", "urgent", "--out", str(out)])
    assert code == 0
    assert "Referral written to" in capsys.readouterr().out
    reader = PdfReader(out)
    text = text_of(reader)
    assert NHI in text and "URGENT" in text and "Harbourside Skin Clinic" in text and "Auckland" in text
    assert len(embedded_images(reader)) == 2 == len(s.image_ids)


def test_cli_json_summary_and_chosen_images(cli_archive, corpus, tmp_path, capsys):
    s = _seed(cli_archive, corpus, "landscape_1.jpg", "landscape_6.jpg")
    capsys.readouterr()
    out = tmp_path / "one.pdf"
    assert main(["referral", *cli_archive, "--patient", NHI, "--image", str(s.image_ids[1]), "--to", "Dr B",
                 "--question", "Excise?", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == [s.image_ids[1]] and summary["pages"] == 1 and summary["path"] == str(out)
    assert len(embedded_images(PdfReader(out))) == 1


def test_cli_password_file_encrypts(cli_archive, corpus, tmp_path):
    _seed(cli_archive, corpus, "landscape_1.jpg")
    pw = tmp_path / "pdfpw.txt"
    pw.write_text("harbour-lights-7\n")
    out = tmp_path / "locked.pdf"
    assert main(["referral", *cli_archive, "--patient", NHI, "--to", "Dr B", "--question", "Excise?",
                 "--out", str(out), "--pdf-password-file", str(pw)]) == 0
    reader = PdfReader(out)
    assert reader.is_encrypted and reader.decrypt("harbour-lights-7")
    assert NHI in text_of(reader)


def test_cli_refusal_is_one_message_exit_3_and_no_file(cli_archive, corpus, tmp_path, capsys):
    s = _seed(cli_archive, corpus, "landscape_1.jpg", scopes=())
    out = tmp_path / "no.pdf"
    code = main(["referral", *cli_archive, "--patient", NHI, "--image", str(s.image_ids[0]), "--to", "Dr B",
                 "--question", "Excise?", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    assert f"image {s.image_ids[0]} lacks 'clinical.referral'" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_unknown_patient_is_named(cli_archive, tmp_path, capsys):
    code = main(["referral", *cli_archive, "--patient", "ZAC5361", "--to", "Dr B", "--question", "Q",
                 "--out", str(tmp_path / "x.pdf")])
    assert code == 2
    assert "No patient with NHI ZAC5361" in capsys.readouterr().err


def test_cli_practice_shows_current_letterhead(cli_archive, capsys):
    assert main(["settings", "practice", *cli_archive, "--phone", "09 555 0100"]) == 0
    capsys.readouterr()
    assert main(["settings", "practice", *cli_archive, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["phone"] == "09 555 0100"
