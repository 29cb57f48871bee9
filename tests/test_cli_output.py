"""Issue 14, CLI output: survives a closed pipe, ``--json`` is always valid UTF-8, and every consent
refusal exits 3 (the README's promise), through the real entry point in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dermarchive.archive import Archive
from dermarchive.cli import main
from tests.test_referral import NHI, QUESTION, seed

PASSPHRASE = "correct horse 42"
REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "dermarchive.cli", *args], env=env, **kwargs)  # type: ignore[call-overload]


def test_output_into_a_closed_pipe_ends_quietly(cli_archive: list[str], corpus: Path) -> None:
    """``dermarchive consent show … | head -3``: no BrokenPipeError traceback."""
    with Archive.open(cli_archive[0], "nurse.ana", PASSPHRASE) as a:
        for label in ("L1", "L2", "L3"):
            seed(a, corpus, ("landscape_1.jpg",), scopes=("clinical.referral", "education"), label=label)
    for command in (["consent", "show", *cli_archive, "--patient", NHI],
                    ["consent", "show", *cli_archive, "--patient", NHI, "--json"]):
        proc = _cli(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the command writes (head -0)
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.wait(timeout=120)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert proc.returncode in (0, 141)
    shell = shutil.which("sh")
    if shell:  # the exact form
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run([shell, "-c", f'"{sys.executable}" -m dermarchive.cli consent show '
                               f'"{cli_archive[0]}" --passphrase-file "{cli_archive[2]}" --patient {NHI} | head -3'],
                              capture_output=True, env=env, timeout=120, check=False)
        assert b"Traceback" not in done.stderr and len(done.stdout.splitlines()) <= 3


def test_json_is_valid_utf8_with_undecodable_file_names(cli_archive: list[str], corpus: Path,
                                                        tmp_path: Path) -> None:
    with Archive.open(cli_archive[0], "nurse.ana", PASSPHRASE) as a:
        seed(a, corpus, ("landscape_1.jpg",), scopes=("clinical.referral",))
    folder = tmp_path / "phone"
    folder.mkdir()
    shutil.copy(corpus / "landscape_6.jpg", os.fsdecode(bytes(folder) + b"/IMG_\xff\xfe.jpg"))
    proc = _cli("import", *cli_archive, str(folder), "--patient", NHI, "--dry-run", "--json",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=180)
    assert b"Traceback" not in err, err.decode("utf-8", "replace")
    text = out.decode("utf-8")  # strict: raises on invalid UTF-8
    plan = json.loads(text)
    names = [e["path"] for e in plan["entries"]]
    assert names == ["IMG_\\xff\\xfe.jpg"]  # the undecodable bytes escaped, visibly


def test_referral_with_no_eligible_photo_is_a_consent_refusal(cli_archive: list[str], corpus: Path,
                                                               tmp_path: Path, capsys: object) -> None:
    with Archive.open(cli_archive[0], "nurse.ana", PASSPHRASE) as a:
        seed(a, corpus, ("landscape_1.jpg", "landscape_6.jpg"), scopes=("education",))  # no referral consent
    code = main(["referral", *cli_archive, "--patient", NHI, "--to", "Dermatology", "--question", QUESTION,
                 "--out", str(tmp_path / "ref.pdf")])
    assert code == 3
    assert not (tmp_path / "ref.pdf").exists()
