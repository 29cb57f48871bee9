"""Issue 19: a backup copies blob files without reading them back to hash them. The SHA-256 its
manifest lists is the one the archive recorded when it wrote the file, so a file damaged in the
archive itself is named by ``backup verify`` even without a passphrase; blobs stored before
schema 90 (no recorded checksum) are hashed as they are copied."""

from __future__ import annotations

import hashlib
import os

import pytest

from dermarchive.archive import fsutil, records
from dermarchive.backup import create as bk
from dermarchive.backup.set import copy_pending

from tests.conftest import PASSPHRASE
from tests.helpers import store_photo


def file_sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def clinic(archive, corpus):
    patient = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine")
    ids = [store_photo(archive, patient.id, corpus / n) for n in ("landscape_1.jpg", "landscape_2.jpg")]
    return archive, patient, ids


def test_each_blob_file_checksum_is_recorded_as_it_is_written_and_listed_by_the_backup(clinic, tmp_path):
    archive, _patient, _ids = clinic
    rows = archive.catalogue.query("SELECT id, sha256 FROM blob")
    assert len(rows) == 6
    for row in rows:
        assert row["sha256"] == file_sha(archive.blobs.path(row["id"]))
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    manifest = bk.read_manifest(dest)
    assert manifest is not None
    for row in rows:
        copy = dest / "blobs" / row["id"][:2] / row["id"]
        assert manifest.blobs[row["id"]][1] == row["sha256"] == file_sha(copy)
    assert bk.verify_backup(dest).ok and bk.verify_backup(dest, passphrase=PASSPHRASE).ok


def test_a_photo_damaged_in_the_archive_is_named_by_backup_verify_without_a_passphrase(clinic, tmp_path):
    """Before, the backup hashed whatever it read: a file damaged in the archive went into the
    manifest under its damaged checksum, and only a check with the passphrase found it."""
    archive, _patient, ids = clinic
    image = records.get_image(archive, ids[0])
    source = archive.blobs.path(image.blob_id)
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01  # same length: nothing but the content tells
    source.write_bytes(bytes(data))

    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    check = bk.verify_backup(dest)
    assert not check.ok
    assert any(image.blob_id[:12] in p and "checksum differs" in p for p in check.problems), check.problems

    again = bk.backup(archive, dest, recheck=True)  # re-reads the archive's file: the archive is at fault
    assert any(image.blob_id[:12] in p and "in the archive is damaged" in p for p in again.problems), again.problems


def test_blobs_stored_before_checksums_were_recorded_are_hashed_as_they_are_copied(clinic, tmp_path):
    archive, _patient, _ids = clinic
    with archive.transaction() as tx:
        tx.execute("UPDATE blob SET sha256 = NULL")  # as in an archive written before schema 90
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    manifest = bk.read_manifest(dest)
    assert manifest is not None and len(manifest.blobs) == 6
    for blob_id, (size, digest) in manifest.blobs.items():
        copy = dest / "blobs" / blob_id[:2] / blob_id
        assert digest == file_sha(copy) == file_sha(archive.blobs.path(blob_id)) and size == copy.stat().st_size
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_copy_in_kernel_on_linux_and_through_user_space_elsewhere(tmp_path, os_name):
    """Linux copies inside the kernel (copy_file_range); macOS and Windows copy nothing there and
    leave the whole file to the caller's read/write loop. Only Linux runs here: the other
    branches are selected by name."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    with open(src, "rb", buffering=0) as fi, open(dst, "xb", buffering=0) as fo:
        copied = fsutil.copy_in_kernel(fi.fileno(), fo.fileno(), os_name=os_name)
        assert copied == (len(data) if os_name == "linux" else 0)
        assert fi.tell() == fo.tell() == copied
    assert dst.read_bytes() == data[:copied]


@pytest.mark.parametrize("hashed", [True, False])
def test_copy_pending_copies_every_byte_and_hashes_when_asked(tmp_path, hashed):
    data = os.urandom(9 * 1024 * 1024 + 5)  # more than two copy blocks
    (tmp_path / "src").write_bytes(data)
    pending, size, digest = copy_pending(tmp_path / "final", tmp_path / "src", "copy", hashed=hashed)
    assert pending.read_bytes() == data and size == len(data)
    assert digest == (hashlib.sha256(data).hexdigest() if hashed else None)
    assert not (tmp_path / "final").exists()  # the caller flushes and renames


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_sync_files_makes_new_names_in_folders_durable_on_every_branch(tmp_path, os_name):
    """The backup's commit and the restore make their new file names durable with the same call
    as the data: one syncfs on Linux; elsewhere each file, then each folder (Windows cannot open
    folders: NTFS journals renames). Only Linux runs here: the other branches are selected by name."""
    sub = tmp_path / "ab"
    sub.mkdir()
    (sub / "f").write_bytes(b"x")
    fsutil.sync_files([sub / "f"], tmp_path, folders=[sub, tmp_path], os_name=os_name)
    if os_name == "macos":
        with pytest.raises(FileNotFoundError):  # each file is opened and fsynced there
            fsutil.sync_files([sub / "gone"], tmp_path, folders=[sub], os_name=os_name)


def test_a_photo_deleted_while_the_backup_copies_is_left_out_without_a_problem(clinic, tmp_path):
    """Its file and row are gone after the snapshot listed it: a worker finds the file missing,
    the catalogue has no row, and the backup takes a new snapshot instead of reporting damage."""
    archive, _patient, ids = clinic
    calls = []

    def delete_once():
        if not calls:
            records.delete_images(archive, [ids[0]], reason="consent withdrawn")
        calls.append(1)
        return False

    dest = tmp_path / "backup"
    summary = bk.backup(archive, dest, create=True, cancelled=delete_once)
    assert summary.problems == [] and summary.images == 1 and summary.blobs == 3
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok
