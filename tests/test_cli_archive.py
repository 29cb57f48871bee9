"""The headless CLI over the archive core: output, JSON shapes, exit codes, plain errors."""

import json
import subprocess
import sys

import pytest

from dermarchive.cli import main

from tests.conftest import PASSPHRASE


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_patient_add_and_search_json(cli_archive, capsys):
    assert run(capsys, "patient", "add", *cli_archive, "--nhi", "zzz0016", "--family", "Ngata",
               "--given", "Hine", "--dob", "1961-02-03")[0] == 0
    assert run(capsys, "patient", "add", *cli_archive, "--nhi", "ZAC5361", "--family", "Smith")[0] == 0
    code, out, _ = run(capsys, "patients", *cli_archive, "--search", "ngat", "--json")
    assert code == 0
    assert json.loads(out) == {"patients": [{"id": 1, "nhi": "ZZZ0016", "family": "Ngata", "given": "Hine",
                                             "dob": "1961-02-03", "images": 0}]}
    code, out, _ = run(capsys, "patients", *cli_archive, "--search", "ZAC", "--json")
    assert [p["nhi"] for p in json.loads(out)["patients"]] == ["ZAC5361"]


def test_invalid_and_duplicate_nhi_say_which_rule(cli_archive, capsys):
    code, _, err = run(capsys, "patient", "add", *cli_archive, "--nhi", "ZZI0016", "--family", "X")
    assert code != 0 and "never use the letters I or O" in err and "Traceback" not in err
    run(capsys, "patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "X")
    code, _, err = run(capsys, "patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Y")
    assert code != 0 and "already in this archive" in err


def test_wrong_passphrase_exits_nonzero_without_traceback(cli_archive, tmp_path):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase 1\n")
    proc = subprocess.run([sys.executable, "-m", "dermarchive.cli", "info", cli_archive[0],
                           "--passphrase-file", str(wrong)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "passphrase for user 'nurse.ana' is wrong" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_passphrase_from_environment(cli_archive, capsys, monkeypatch):
    monkeypatch.setenv("DERMARCHIVE_PASSPHRASE_FILE", cli_archive[2])
    code, out, _ = run(capsys, "info", cli_archive[0], "--json")
    assert code == 0 and json.loads(out)["patients"] == 0


def test_audit_json_lists_the_actions(cli_archive, capsys):
    run(capsys, "patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Ngata")
    code, out, _ = run(capsys, "audit", *cli_archive, "--json")
    entries = json.loads(out)["entries"]
    assert code == 0
    assert [e["action"] for e in entries][:4] == ["archive.create", "unlock", "patient.add", "unlock"]
    assert {"seq", "at", "user", "action"} <= set(entries[0])
    assert "ZZZ0016" not in out and "Ngata" not in out


def test_verify_exit_codes_name_the_damaged_image(cli_archive, capsys, corpus):
    from dermarchive.archive import Archive, records

    from tests.helpers import store_photo
    with Archive.open(cli_archive[0], "nurse.ana", PASSPHRASE) as a:
        p = records.add_patient(a, "ZZZ0016", "Ngata")
        image_id = store_photo(a, p.id, corpus / "jolla.jpg")
        blob = a.blobs.path(records.get_image(a, image_id).blob_id)
    assert run(capsys, "verify", *cli_archive)[0] == 0
    raw = blob.read_bytes()
    blob.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0x01]))  # always a change (a fixed byte may already be there)
    code, out, _ = run(capsys, "verify", *cli_archive)
    assert code == 1
    assert f"image {image_id} (original): stored data is damaged" in out


def test_user_add_and_passwd(cli_archive, capsys, tmp_path):
    newpass = tmp_path / "new.txt"
    newpass.write_text("lee passphrase 7\n")
    code, _, err = run(capsys, "user", "add", *cli_archive, "--name", "dr.lee", "--role", "clinician",
                       "--new-passphrase-file", newpass, "--kdf-params", "1,8192,1")
    assert code == 0, err
    # several users now: the CLI asks which
    code, _, err = run(capsys, "info", *cli_archive)
    assert code != 0 and "say which with --user" in err
    lee = [cli_archive[0], "--user", "dr.lee", "--passphrase-file", str(newpass)]
    assert run(capsys, "info", *lee)[0] == 0
    weak = tmp_path / "weak.txt"
    weak.write_text("short\n")
    code, _, err = run(capsys, "passwd", *lee, "--new-passphrase-file", weak)
    assert code != 0 and "at least 10 characters" in err
    assert run(capsys, "passwd", *lee, "--new-passphrase-file", cli_archive[2], "--kdf-params", "1,8192,1")[0] == 0
    assert run(capsys, "info", cli_archive[0], "--user", "dr.lee", "--passphrase-file", cli_archive[2])[0] == 0


def test_init_refuses_weak_passphrase_and_existing_archive(cli_archive, capsys, tmp_path):
    weak = tmp_path / "weak.txt"
    weak.write_text("password\n")
    code, _, err = run(capsys, "init", tmp_path / "new", "--user", "a", "--passphrase-file", weak)
    assert code != 0 and "digit" in err and not (tmp_path / "new").exists()
    code, _, err = run(capsys, "init", cli_archive[0], "--user", "a", "--passphrase-file", cli_archive[2])
    assert code != 0 and "already an archive" in err


@pytest.mark.parametrize("module", ["dermarchive.cli", "dermarchive.archive.records", "dermarchive.consent.policy",
                                    "dermarchive.ingest.thumbnails"])
def test_core_never_imports_qt(module):
    """DESIGN §1: the core is Qt-free (checked with PySide6 made unimportable)."""
    code = (f"import sys; sys.modules['PySide6'] = None; import {module}, dermarchive.archive.verify; "
            "import dermarchive.cli as c; c.build_parser(); "
            "assert not any(m.startswith('PySide6') for m in sys.modules if sys.modules[m])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_passwd_at_the_terminal_asks_for_the_current_passphrase_once(cli_archive, tmp_path):
    """Typed at a real terminal (a pty): current passphrase once, then the new one twice."""
    import fcntl
    import os
    import pty
    import select
    import subprocess
    import sys
    import termios
    import time

    archive, _flag, pass_file = cli_archive
    current = open(pass_file).read().strip()
    main_fd, child_fd = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "dermarchive.cli", "passwd", archive, "--kdf-params", "1,8192,1"],
                            stdin=child_fd, stdout=child_fd, stderr=child_fd, preexec_fn=controlling_terminal,
                            env={k: v for k, v in os.environ.items() if k != "DERMARCHIVE_PASSPHRASE_FILE"})
    os.close(child_fd)
    answers = [current, "brand new phrase 42", "brand new phrase 42"]
    seen = fresh = b""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if not select.select([main_fd], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(main_fd, 1024)
        except OSError:
            break
        seen, fresh = seen + chunk, fresh + chunk
        if fresh.rstrip().endswith(b":") and answers:  # a new prompt: answer it
            os.write(main_fd, answers.pop(0).encode() + b"\n")
            fresh = b""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    os.close(main_fd)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert text.count("Passphrase:") == 1 and "Again:" in text
    new_file = tmp_path / "new.txt"
    new_file.write_text("brand new phrase 42\n")
    assert main(["info", archive, "--passphrase-file", str(new_file)]) == 0
