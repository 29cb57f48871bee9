"""Backup: encrypted, incremental, consistent, mirrored deletions, reminders — on real archives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.archive.verify import verify
from dermarchive.backup import create as bk

from tests.conftest import PASSPHRASE, USER
from tests.helpers import folder_state, store_photo

PHOTOS = ("landscape_1.jpg", "landscape_3.jpg", "frame_size.mpo")


@pytest.fixture
def clinic(archive, corpus):
    """An archive with one patient and three real photos (each: original, thumbnail, preview)."""
    patient = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine", "1961-04-02")
    image_ids = [store_photo(archive, patient.id, corpus / name) for name in PHOTOS]
    return archive, patient, image_ids


def blob_files(folder):
    return {p.name for p in (folder / "blobs").rglob("*") if p.is_file()}


def test_backup_holds_everything_encrypted_and_restores_with_the_same_passphrases(clinic, corpus, tmp_path):
    archive, patient, image_ids = clinic
    archive.add_user("dr.kim", "clinician", "another pass 77", kdf=CHEAP_TEST_PARAMS)
    dest = tmp_path / "usb" / "DermArchive backup"
    (tmp_path / "usb").mkdir()

    summary = bk.backup(archive, dest, create=True)

    assert summary.images == 3 and summary.copied == summary.blobs == 9
    assert blob_files(dest) == set(archive.blobs.stored_ids())
    # Nothing readable: no NHI, name, or any byte run of the photos in any backup file.
    secrets_ = [b"ZZZ0016", b"Ngata", b"Hine"] + [(corpus / n).read_bytes()[1000:1032] for n in PHOTOS]
    for f in dest.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(s in data for s in secrets_), f.name
            assert not data.startswith(b"\xff\xd8\xff") and b"SQLite format 3" not in data[:16]

    restored_path = tmp_path / "restored"
    result = bk.restore(dest, restored_path, user="dr.kim", passphrase="another pass 77")
    assert result.images == 3
    for user, passphrase in ((USER, PASSPHRASE), ("dr.kim", "another pass 77")):
        with Archive.open(restored_path, user, passphrase) as r:
            assert verify(r) == []
            assert records.patient_by_nhi(r, "ZZZ0016").family == "Ngata"
            for img in records.images(r):
                original = archive.read_blob(img.blob_id)
                assert records.image_bytes(r, img) == original
            assert [e.action for e in r.audit.entries(r.catalogue, action="restore")] == ["restore"]
            assert bk.last_backup(r) is not None  # the restored archive knows when its data was saved


def test_second_backup_copies_only_what_is_new_and_touches_nothing_else(clinic, corpus, tmp_path):
    archive, patient, _ = clinic
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    before = {k: v for k, v in folder_state(dest).items() if k.startswith("blobs/")}

    again = bk.backup(archive, dest)
    assert again.copied == 0 and again.blobs == 9

    store_photo(archive, patient.id, corpus / "landscape_5.jpg")
    third = bk.backup(archive, dest)
    assert third.copied == 3 and third.blobs == 12 and third.sequence == 3
    after = folder_state(dest)
    assert all(after[k] == v for k, v in before.items()), "existing blob files were rewritten"
    assert len(list(dest.glob("catalogue-*.db"))) == 1
    assert not list(dest.rglob(".tmp-*"))
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok


def test_deletions_are_mirrored_and_reported_while_an_older_set_keeps_them(clinic, tmp_path):
    archive, patient, image_ids = clinic
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    older_set = tmp_path / "last-weeks-drive"
    shutil.copytree(dest, older_set)
    doomed = records.get_image(archive, image_ids[1])
    doomed_blobs = {doomed.blob_id, doomed.thumb_blob_id, doomed.preview_blob_id}

    records.delete_images(archive, [doomed.id], reason="consent withdrawn")
    summary = bk.backup(archive, dest)

    assert summary.removed_images == [doomed.id] and summary.removed_blobs == 3
    assert any("deleted from the archive" in line and str(doomed.id) in line for line in summary.lines())
    assert not doomed_blobs & blob_files(dest)
    check = bk.verify_backup(dest, passphrase=PASSPHRASE)
    assert check.ok and check.images == 2
    with Archive.open(bk.restore(dest, tmp_path / "r1", passphrase=PASSPHRASE).archive, USER, PASSPHRASE) as r:
        assert doomed.id not in [i.id for i in records.images(r)]
    # The older set still has the photo (the README says so): restoring it brings it back.
    with Archive.open(bk.restore(older_set, tmp_path / "r2", passphrase=PASSPHRASE).archive, USER, PASSPHRASE) as r:
        assert doomed.id in [i.id for i in records.images(r)]


def test_backup_is_audited_and_remembered_for_the_reminder(clinic, tmp_path):
    archive, _, _ = clinic
    assert bk.last_backup(archive) is None
    assert bk.backup_overdue(archive)  # photos and never backed up
    summary = bk.backup(archive, tmp_path / "b", create=True)

    last = bk.last_backup(archive)
    assert last is not None and abs((datetime.now(UTC) - last).total_seconds()) < 60
    assert bk.backup_destination(archive) == tmp_path / "b"
    assert not bk.backup_overdue(archive)
    assert bk.backup_overdue(archive, now=datetime.now(UTC) + timedelta(days=8))
    assert not bk.backup_overdue(archive, 14, now=datetime.now(UTC) + timedelta(days=8))
    bk.set_reminder_days(archive, 3)
    assert bk.backup_overdue(archive, now=datetime.now(UTC) + timedelta(days=4))
    entry = archive.audit.entries(archive.catalogue, action="backup")[-1]
    assert entry.details["copied"] == 9 and entry.details["sequence"] == summary.sequence
    assert "ZZZ0016" not in json.dumps(entry.as_json()) and str(tmp_path) not in json.dumps(entry.as_json())
    assert verify(archive) == []


def test_empty_archive_is_not_overdue(archive):
    assert not bk.backup_overdue(archive)


# -- consistency with a concurrent writer ------------------------------------------------------
WRITER = textwrap.dedent("""
    import os, sys, time
    from dermarchive.archive import Archive, records
    a = Archive.open(sys.argv[1], sys.argv[2], sys.argv[3])
    p = records.patient_by_nhi(a, "ZZZ0016")
    print("ready", flush=True)
    n = 0
    while True:
        v = records.add_visit(a, p.id, "2026-01-01")
        with a.transaction() as tx:
            b = a.store_blob(tx, os.urandom(50_000) + n.to_bytes(4, "big"))
            img = records.insert_image(a, tx, visit_id=v, kind="clinical", blob_id=b, width=1, height=1,
                                       original_format="JPEG", stored_format="JPEG")
            a.record(tx, "image.import", {"image": img})
        if n % 3 == 2:
            records.delete_images(a, [img], reason="test")
        n += 1
        time.sleep(0.005)  # as an importer decodes between commits (one that never let go would starve all)
""")


@pytest.mark.slow
def test_backups_taken_while_another_process_writes_are_consistent(clinic, tmp_path):
    archive, _, _ = clinic
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(archive.path), USER, PASSPHRASE],
                            stdout=subprocess.PIPE, env={**os.environ})
    try:
        assert proc.stdout.readline().strip() == b"ready"
        dest = tmp_path / "backup"
        sizes = []
        for _ in range(4):
            time.sleep(0.3)
            summary = bk.backup(archive, dest, create=True)
            sizes.append(summary.images)
            check = bk.verify_backup(dest, passphrase=PASSPHRASE)
            assert check.ok, check.problems
    finally:
        proc.kill()
        proc.wait()
    assert sizes[-1] > sizes[0], "the writer did not write during the backups"
    with Archive.open(bk.restore(dest, tmp_path / "r", passphrase=PASSPHRASE).archive, USER, PASSPHRASE) as r:
        assert verify(r) == []


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_sync_files_flushes_a_batch_once_on_linux_and_file_by_file_elsewhere(tmp_path, os_name):
    """The backup's one flush per batch: Linux syncs the folder's filesystem with one syncfs(2)
    (it never opens the files); macOS and Windows fsync each file (a file gone is an error there).
    Only Linux runs here: the other branches are selected by name."""
    from dermarchive.archive import fsutil
    files = [tmp_path / f"f{n}" for n in range(3)]
    for f in files:
        f.write_bytes(b"x" * 1000)
    fsutil.sync_files(files, tmp_path, os_name=os_name)
    gone = [*files, tmp_path / "gone"]
    if os_name == "linux":
        fsutil.sync_files(gone, tmp_path, os_name=os_name)
    else:
        with pytest.raises(FileNotFoundError):
            fsutil.sync_files(gone, tmp_path, os_name=os_name)
