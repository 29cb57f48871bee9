"""Backup faults on real files: full disk, drive removed, damage, another archive's backup,
interruption, wrong passphrase. Each gets a clear message; the archive and the previous backup
set stay whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.errors import ArchiveExists, Cancelled, InvalidInput, StorageError, WrongPassphrase
from dermarchive.backup import create as bk

from tests.conftest import PASSPHRASE, USER, needs_root
from tests.helpers import folder_state, store_photo



@pytest.fixture
def clinic(archive, corpus):
    patient = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine")
    ids = [store_photo(archive, patient.id, corpus / n) for n in ("landscape_1.jpg", "landscape_2.jpg")]
    return archive, patient, ids


@pytest.fixture
def backed_up(clinic, corpus, tmp_path):
    """A clinic archive with a good backup in tmp/backup, then one more photo not yet backed up."""
    archive, patient, ids = clinic
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    state = folder_state(dest)
    ids.append(store_photo(archive, patient.id, corpus / "landscape_4.jpg"))
    return archive, dest, state


def assert_whole(archive, dest, state, *, extra_blobs_allowed=False):
    """The archive verifies and the previous backup set is byte-for-byte as it was, and verifies.

    ``extra_blobs_allowed``: complete new blob files the manifest does not list (copied before a
    drive was pulled: the run could not remove them from a drive that was gone) are harmless.
    """
    assert verify(archive) == []
    now = {k: v for k, v in folder_state(dest).items() if k != bk.LOCK_NAME}
    before = {k: v for k, v in state.items() if k != bk.LOCK_NAME}
    assert {k: now.get(k) for k in before} == before
    extra = set(now) - set(before)
    assert not extra or (extra_blobs_allowed and all(k.startswith("blobs/") for k in extra)), extra
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok


@pytest.fixture
def small_mount(tmpfs):
    """A real 2 MiB 'USB drive'."""
    return tmpfs(2, "usb")


@needs_root
def test_destination_full_is_clear_and_keeps_the_previous_backup(clinic, corpus, small_mount):
    archive, patient, _ = clinic
    dest = small_mount / "backup"
    bk.backup(archive, dest, create=True)  # ~0.6 MB fits in the 2 MiB filesystem
    state = folder_state(dest)
    store_photo(archive, patient.id, corpus / "iphone_hdr_NO.jpg")  # 1.9 MB does not

    with pytest.raises(StorageError, match="disk is full"):
        bk.backup(archive, dest)

    assert_whole(archive, dest, state)
    assert not list(dest.rglob(".tmp-*")), "temp files were left on the full disk"


def test_drive_removed_mid_backup_and_plugged_back_in(backed_up, tmp_path):
    archive, dest, state = backed_up
    unplugged = tmp_path / "drive-elsewhere"
    calls = []

    def unplug_after_first_copy():
        calls.append(1)
        if len(calls) == 2:
            dest.rename(unplugged)  # the folder is gone from its path, as when a stick is pulled
        return False

    with pytest.raises(StorageError, match="no longer available|not available|replaced"):
        bk.backup(archive, dest, cancelled=unplug_after_first_copy)

    assert not dest.exists(), "the backup wrote onto the empty path after the drive went"
    unplugged.rename(dest)  # plugged back in
    for tmp in dest.rglob(".tmp-*"):  # what a pulled stick can keep: half a temp file, never a set file
        tmp.unlink()
    assert_whole(archive, dest, state, extra_blobs_allowed=True)
    again = bk.backup(archive, dest)
    assert again.copied <= 3 and again.images == 3
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok


def test_drive_removed_for_good_leaves_the_archive_whole(backed_up):
    archive, dest, _ = backed_up
    import shutil

    def pull():
        shutil.rmtree(dest)
        return False

    with pytest.raises(StorageError, match="no longer available|not available|replaced"):
        bk.backup(archive, dest, cancelled=pull)
    assert not dest.exists()
    assert verify(archive) == []
    with pytest.raises(bk.BackupError, match="is not there. Is the backup drive connected"):
        bk.backup(archive, dest)


def test_interrupted_and_cancelled_backups_leave_the_previous_set_usable(backed_up):
    archive, dest, state = backed_up
    with pytest.raises(Cancelled, match="The backup was cancelled"):
        bk.backup(archive, dest, cancelled=lambda: True)
    assert_whole(archive, dest, state)

    def crash(done, total, message=""):
        if total > 1 and done:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        bk.backup(archive, dest, progress=crash)
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok  # new blob files are extras, never harm
    done = bk.backup(archive, dest)
    assert done.copied == 0, "blobs already copied by the interrupted run were copied again"
    assert done.images == 3 and bk.verify_backup(dest, passphrase=PASSPHRASE).ok


KILLED_BACKUP = textwrap.dedent("""
    import sys
    from dermarchive.archive import Archive
    from dermarchive.backup import create as bk
    a = Archive.open(sys.argv[1], sys.argv[2], sys.argv[3])
    def slow(done, total, message=""):
        if total > 1:
            print("copying", flush=True)
            import time; time.sleep(5)
    bk.backup(a, sys.argv[4], progress=slow)
""")


@pytest.mark.slow
def test_backup_killed_mid_copy_leaves_the_previous_set_usable(clinic, corpus, tmp_path):
    archive, patient, _ = clinic
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    for name in ("landscape_5.jpg", "landscape_6.jpg", "landscape_7.jpg", "landscape_8.jpg",
                 "jolla.jpg", "sugarshack.mpo"):
        store_photo(archive, patient.id, corpus / name)
    state = folder_state(dest)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BACKUP, str(archive.path), USER, PASSPHRASE,
                             str(dest)], stdout=subprocess.PIPE, env={**os.environ})
    assert proc.stdout.readline().strip() == b"copying"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    previous = {k: v for k, v in state.items() if k != bk.LOCK_NAME}
    now = folder_state(dest)
    assert all(now[k] == v for k, v in previous.items())
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok
    assert bk.backup(archive, dest).images == 8
    assert verify(archive) == []


def test_damaged_blob_at_the_destination_is_named_and_repaired(backed_up, tmp_path):
    archive, dest, _ = backed_up
    image = records.images(archive)[0]
    victim = dest / "blobs" / image.blob_id[:2] / image.blob_id
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))

    plain = bk.verify_backup(dest)
    assert not plain.ok and any(image.blob_id[:12] in p and "checksum" in p for p in plain.problems)
    keyed = bk.verify_backup(dest, passphrase=PASSPHRASE)
    assert keyed.problems == [f"image {image.id} (original): damaged at the backup (checksum differs)"]
    with pytest.raises(bk.BackupError, match="damaged, so nothing was restored"):
        bk.restore(dest, tmp_path / "restored", passphrase=PASSPHRASE)
    assert not (tmp_path / "restored").exists() and not list(tmp_path.glob(".restored*"))
    assert verify(archive) == []

    assert bk.backup(archive, dest).repaired == 0  # same size: only a re-check finds it
    assert bk.backup(archive, dest, recheck=True).repaired == 1
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok

    victim.write_bytes(victim.read_bytes()[:-100])  # truncated: found by the normal backup
    assert bk.backup(archive, dest).repaired == 1
    assert bk.verify_backup(dest, passphrase=PASSPHRASE).ok


def test_missing_blob_and_tampered_manifest_are_named(backed_up):
    archive, dest, _ = backed_up
    image = records.images(archive)[1]
    (dest / "blobs" / image.thumb_blob_id[:2] / image.thumb_blob_id).unlink()
    assert f"image {image.id} (thumbnail): missing from the backup" in \
        bk.verify_backup(dest, passphrase=PASSPHRASE).problems

    manifest = dest / bk.MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["sequence"] = 9  # an edit that keeps the file well-formed: only the MAC can tell
    manifest.write_text(json.dumps(data))
    assert bk.verify_backup(dest).problems == [f"stored file {image.thumb_blob_id[:12]}…: missing from the backup"]
    assert any("fails its authentication" in p for p in bk.verify_backup(dest, passphrase=PASSPHRASE).problems)
    state = folder_state(dest)
    with pytest.raises(bk.BackupError, match="fails its authentication check.*Nothing was changed"):
        bk.backup(archive, dest)
    assert folder_state(dest) == state
    assert verify(archive) == []


def test_another_archives_backup_is_refused_and_left_alone(backed_up, make_archive, tmp_path):
    archive, dest, state = backed_up
    other = make_archive(tmp_path / "other-practice")
    records.add_patient(other, "ZZZ0024", "Other", "Person")
    with pytest.raises(bk.BackupError, match="holds the backup of another archive.*Nothing was changed"):
        bk.backup(other, dest)
    assert_whole(archive, dest, state)
    assert verify(other) == []
    with pytest.raises(bk.BackupError, match="another archive"):
        bk.verify_backup(dest, archive=other)


def test_wrong_passphrase_on_restore_changes_nothing(backed_up, tmp_path):
    archive, dest, state = backed_up
    with pytest.raises(WrongPassphrase, match="passphrase for user 'nurse.ana' is wrong. Nothing was changed"):
        bk.restore(dest, tmp_path / "restored", passphrase="not the passphrase 1")
    assert not (tmp_path / "restored").exists()
    assert_whole(archive, dest, state)


def test_restore_never_overwrites(backed_up, make_archive, tmp_path):
    archive, dest, _ = backed_up
    existing = make_archive(tmp_path / "existing")
    existing.close()
    before = folder_state(tmp_path / "existing")
    with pytest.raises(ArchiveExists, match="already an archive.*never overwrites"):
        bk.restore(dest, tmp_path / "existing", passphrase=PASSPHRASE)
    assert folder_state(tmp_path / "existing") == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    with pytest.raises(ArchiveExists, match="not empty"):
        bk.restore(dest, tmp_path / "notes", passphrase=PASSPHRASE)
    (tmp_path / "empty").mkdir()
    restored = bk.restore(dest, tmp_path / "empty", passphrase=PASSPHRASE)
    with Archive.open(restored.archive, USER, PASSPHRASE) as r:
        assert verify(r) == []


def test_unsuitable_destinations_are_refused(clinic, tmp_path):
    archive, _, _ = clinic
    with pytest.raises(InvalidInput, match="inside the archive"):
        bk.backup(archive, archive.path / "backup", create=True)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(bk.BackupError, match="not empty and holds no DermArchive backup"):
        bk.backup(archive, tmp_path / "photos")
    with pytest.raises(bk.BackupError, match="is a DermArchive archive, not a backup folder"):
        bk.backup(archive, _another_archive(tmp_path))
    with pytest.raises(bk.BackupError, match="not there"):
        bk.backup(archive, tmp_path / "missing-drive")
    with pytest.raises(bk.BackupError, match="holds no DermArchive backup"):
        bk.verify_backup(tmp_path / "photos")
    assert verify(archive) == []


def _another_archive(tmp_path):
    from dermarchive.archive import CHEAP_TEST_PARAMS
    Archive.create(tmp_path / "second", "x.user", PASSPHRASE, kdf=CHEAP_TEST_PARAMS).close()
    return tmp_path / "second"


@needs_root
def test_restore_onto_a_full_disk_is_clear_and_leaves_nothing_behind(clinic, corpus, small_mount, tmp_path):
    archive, patient, _ = clinic
    store_photo(archive, patient.id, corpus / "iphone_hdr_NO.jpg")
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    state = folder_state(dest)
    with pytest.raises(StorageError, match="disk is full"):
        bk.restore(dest, small_mount / "restored", passphrase=PASSPHRASE)
    assert list(small_mount.iterdir()) == [], "a half-restored archive was left on the disk"
    assert folder_state(dest) == state
