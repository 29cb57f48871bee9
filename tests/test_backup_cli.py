"""``dermarchive backup ARCHIVE DEST``, ``backup verify DEST``, ``restore DEST NEWARCHIVE``."""

from __future__ import annotations

import json

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.cli import main

from tests.conftest import PASSPHRASE, USER
from tests.helpers import store_photo


def add_photos(cli_archive, corpus, *names):
    with Archive.open(cli_archive[0], USER, PASSPHRASE) as a:
        p = records.add_patient(a, "ZAC5361", "Tane", "Mere")
        for name in names:
            store_photo(a, p.id, corpus / name)


def test_backup_verify_restore_round_trip(cli_archive, corpus, tmp_path, capsys, passphrase_file):
    add_photos(cli_archive, corpus, "landscape_1.jpg", "frame_size.mpo")
    dest = tmp_path / "usb-backup"

    assert main(["backup", cli_archive[0], str(dest), *cli_archive[1:]]) == 0
    out = capsys.readouterr().out
    assert "Backed up 2 photo(s)" in out and "copied 6 new file(s)" in out

    assert main(["backup", cli_archive[0], str(dest), *cli_archive[1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 0

    assert main(["backup", "verify", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "verified: 2 photo(s), 6 stored file(s); structure, sizes and checksums" in out

    assert main(["backup", "verify", str(dest), "--passphrase-file", str(passphrase_file)]) == 0
    assert "the manifest is authentic and every file decrypts" in capsys.readouterr().out

    new = tmp_path / "restored"
    assert main(["restore", str(dest), str(new), "--passphrase-file", str(passphrase_file)]) == 0
    assert "opens with the same user names and passphrases" in capsys.readouterr().out
    assert main(["verify", str(new), "--passphrase-file", str(passphrase_file)]) == 0
    capsys.readouterr()
    assert main(["info", str(new), "--passphrase-file", str(passphrase_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 2


def test_cli_faults_print_one_clear_line_without_traceback(cli_archive, corpus, tmp_path, capsys, passphrase_file):
    add_photos(cli_archive, corpus, "landscape_2.jpg")
    dest = tmp_path / "b"
    assert main(["backup", cli_archive[0], str(dest), *cli_archive[1:]]) == 0
    capsys.readouterr()

    blob = next(p for p in (dest / "blobs").rglob("*") if p.is_file())
    raw = blob.read_bytes()
    blob.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0x01]))  # always a change
    assert main(["backup", "verify", str(dest), "--passphrase-file", str(passphrase_file)]) == 1
    out = capsys.readouterr().out
    assert "damaged at the backup (checksum differs)" in out and "image 1" in out
    assert "--recheck" in out

    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it at all 9\n")
    assert main(["restore", str(dest), str(tmp_path / "r"), "--passphrase-file", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "dermarchive: The passphrase for user 'nurse.ana' is wrong. Nothing was changed."
    assert not (tmp_path / "r").exists()

    assert main(["restore", str(dest), cli_archive[0], "--passphrase-file", str(passphrase_file)]) == 2
    assert "already an archive" in capsys.readouterr().err

    assert main(["backup", "verify"]) == 2
    assert "Give the backup folder" in capsys.readouterr().err
    with Archive.open(cli_archive[0], USER, PASSPHRASE) as a:
        assert verify(a) == []
