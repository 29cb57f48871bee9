"""Faults the disk and the operating system can throw at the archive: it always reopens consistent."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.errors import StorageError

from tests.conftest import PASSPHRASE, USER, needs_root

@pytest.fixture
def small_mount(tmpfs):
    """A real 3 MiB filesystem that can fill up or be remounted read-only."""
    return tmpfs(3)


WRITER = textwrap.dedent("""
    import os, sys
    from dermarchive.archive import Archive, records
    a = Archive.open(sys.argv[1], sys.argv[2], sys.argv[3])
    p = records.patient_by_nhi(a, "ZZZ0016")
    v = records.add_visit(a, p.id, "2026-01-01")
    print("ready", flush=True)
    n = 0
    while True:
        data = os.urandom(300_000) + n.to_bytes(4, "big")
        with a.transaction() as tx:
            b = a.store_blob(tx, data)
            records.insert_image(a, tx, visit_id=v, kind="clinical", blob_id=b, width=1, height=1,
                                 original_format="JPEG", stored_format="JPEG")
            a.record(tx, "image.import", {"image": n})
        n += 1
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.15, 0.4, 0.9])
def test_killed_mid_write_reopens_consistent(make_archive, tmp_path, delay):
    path = tmp_path / "arch"
    a = make_archive(path)
    records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    a.close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), USER, PASSPHRASE],
                            stdout=subprocess.PIPE, env={**os.environ})
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Archive.open(path, USER, PASSPHRASE) as b:
        rows = b.catalogue.scalar("SELECT count(*) FROM image")
        assert rows > 0
        # A file placed just before the kill, whose row never committed, is kept (quarantined
        # and reported), never deleted: the catalogue could have been an older copy.
        problems = verify(b)
        assert all("have no catalogue row and are kept in" in p for p in problems), problems
        assert len(list(b.blobs.stored_ids())) == rows
        for img in records.images(b)[-3:]:
            assert len(records.image_bytes(b, img)) == 300_004


@needs_root
def test_full_disk_gives_a_clear_error_and_loses_nothing(small_mount, make_archive):
    path = small_mount / "arch"
    a = make_archive(path)
    p = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    v = records.add_visit(a, p.id, "2026-01-01")
    stored = []
    with pytest.raises(StorageError, match="disk is full"):
        for _ in range(50):
            data = os.urandom(400_000)
            with a.transaction() as tx:
                b = a.store_blob(tx, data)
                records.insert_image(a, tx, visit_id=v, kind="clinical", blob_id=b, width=1, height=1,
                                     original_format="JPEG", stored_format="JPEG")
            stored.append((b, data))
    assert stored, "the disk filled before anything could be stored"
    assert not any(f.name.startswith(".tmp-") for f in path.rglob("*"))
    a.close()
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert b.catalogue.scalar("SELECT count(*) FROM image") == len(stored)
        for blob_id, data in stored:
            assert b.read_blob(blob_id) == data
        assert verify(b) == []


@needs_root
def test_read_only_disk_is_refused_clearly_and_nothing_is_lost(small_mount, make_archive):
    path = small_mount / "arch"
    a = make_archive(path)
    p = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    a.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    with pytest.raises(StorageError, match="read-only disk or folder.*copy the archive"):
        Archive.open(path, USER, PASSPHRASE)
    with pytest.raises(StorageError, match="read-only"):
        Archive.create(small_mount / "new", USER, PASSPHRASE)
    subprocess.run(["mount", "-o", "remount,rw", str(small_mount)], check=True)
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert records.get_patient(b, p.id).nhi == "ZZZ0016"
        assert verify(b) == []


def test_atomic_write_where_a_file_blocks_the_folder_says_so(tmp_path):
    from dermarchive.archive.fsutil import atomic_write_bytes
    (tmp_path / "blocked").write_text("a file, not a folder")
    with pytest.raises(StorageError, match="Could not write the letter"):
        atomic_write_bytes(tmp_path / "blocked" / "sub" / "x.pdf", b"data", action="write the letter")
    assert (tmp_path / "blocked").read_text() == "a file, not a folder"
