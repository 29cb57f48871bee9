"""kill -9 during an import, again and again; the re-run imports every photo exactly once and the
archive verifies clean. A real `dermarchive import` subprocess, killed with SIGKILL."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from dermarchive.archive import Archive
from dermarchive.archive.fsutil import TEMP_PREFIX
from dermarchive.archive.verify import verify
from dermarchive.cli import main
from dermarchive.ingest.run import BATCH


def _synthetic_photos(folder, count: int) -> None:
    """Noise photos: distinct, and slow enough to decode that kills land mid-import."""
    for i in range(count):
        out = io.BytesIO()
        Image.frombytes("RGB", (1200, 900), os.urandom(1200 * 900 * 3)).save(out, "JPEG", quality=90)
        (folder / f"IMG_{i:04d}.jpg").write_bytes(out.getvalue())


def _open(cli_archive: list[str]) -> Archive:
    path, _flag, passphrase_file = cli_archive
    with open(passphrase_file) as fh:
        passphrase = fh.read().rstrip("\n")
    return Archive.open(path, Archive.users_of(path)[0], passphrase)


def _stored_blobs(blob_dir: Path) -> int:
    return sum(1 for p in blob_dir.rglob("*") if p.is_file() and not p.name.startswith(TEMP_PREFIX))


def _image_state(cli_archive: list[str]) -> tuple[int, int]:
    with _open(cli_archive) as archive:
        hmacs = [r[0] for r in archive.catalogue.query("SELECT source_hmac FROM image")]
        return len(hmacs), len(set(hmacs))


@pytest.mark.slow
def test_sigkill_at_any_moment_then_rerun_imports_each_photo_once(cli_archive, corpus_copy):
    folder = corpus_copy("jolla.jpg", "Apple iPhone 4S.jpg", "sugarshack.mpo", "landscape_6.jpg", "note.txt")
    _synthetic_photos(folder, 36)
    total = 40
    assert main(["patient", "add", *cli_archive, "--nhi", "ZZZ0016", "--family", "Crash"]) == 0
    command = [sys.executable, "-m", "dermarchive.cli", "import", *cli_archive, str(folder),
               "--patient", "ZZZ0016", "--lesion", "L1"]
    blob_dir = Path(cli_archive[0]) / "blobs"
    partial = []
    # Kills during start-up (unlock, scan), just after a batch commit, and at clock times that land
    # anywhere. The commit trigger watches the blob store, not a clock, so it lands mid-import on a
    # fast or a loaded machine alike: each photo is 3 blobs, a batch is at most BATCH photos, so more
    # new blob files than one batch holds means a batch has committed.
    for trigger in ("start", "commit", 0.9, "commit", 1.2, 2.0):
        committed, _ = _image_state(cli_archive)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trigger == "start":
            time.sleep(0.3)
        elif trigger == "commit":
            deadline = time.monotonic() + 120
            while (proc.poll() is None and time.monotonic() < deadline
                   and _stored_blobs(blob_dir) <= 3 * (committed + BATCH)):
                time.sleep(0.002)
        else:
            time.sleep(trigger)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        count, distinct = _image_state(cli_archive)
        assert count == distinct  # never the same photo twice, whenever it was cut off
        partial.append(count)
        if count == total:
            break
    final = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert _image_state(cli_archive) == (total, total)
    assert any(0 < n < total for n in partial), partial  # some kills did land mid-import
    with _open(cli_archive) as archive:
        assert verify(archive) == []
        assert not list(archive.blobs.temp_files())
        visits = archive.catalogue.scalar("SELECT count(*) FROM visit")
        lesions = archive.catalogue.scalar("SELECT count(*) FROM lesion")
    assert lesions == 1
    assert visits == 4  # one per capture session, continued on re-runs, never duplicated
