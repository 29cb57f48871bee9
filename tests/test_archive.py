"""The encrypted archive: unlock, users, wrong passphrase, damaged header, plaintext never on disk."""

import json
import sqlite3

import pytest

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.archive.schema import LATEST
from dermarchive.errors import (ArchiveCorrupt, ArchiveExists, ArchiveNotFound, PermissionDenied,
                                UnknownUser, WrongPassphrase)

from tests.conftest import PASSPHRASE, USER
from tests.helpers import folder_state, store_photo


def test_create_then_unlock_shows_the_same_records(make_archive, tmp_path):
    a = make_archive(tmp_path / "arch")
    p = records.add_patient(a, "ZZZ0016", "Ngata", "Hine", "1961-02-03")
    a.close()
    with Archive.open(tmp_path / "arch", USER, PASSPHRASE) as b:
        assert records.get_patient(b, p.id).display_name == "NGATA, Hine"
        assert b.catalogue.version() == LATEST


def test_catalogue_is_sqlcipher_not_plain_sqlite(archive):
    records.add_patient(archive, "ZZZ0016", "Ngata", "Hine")
    db = archive.path / "catalogue.db"
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("SELECT * FROM patient").fetchall()
    assert not db.read_bytes().startswith(b"SQLite format 3")


def test_hardening_pragmas_are_on(archive):
    q = archive.catalogue.scalar
    assert q("PRAGMA secure_delete") == 1
    assert q("PRAGMA foreign_keys") == 1
    assert q("PRAGMA journal_mode") == "wal"
    assert q("PRAGMA temp_store") == 2  # MEMORY
    assert q("PRAGMA cipher_memory_security") == "1"


def test_wrong_passphrase_is_refused_and_changes_no_file(make_archive, tmp_path):
    path = tmp_path / "arch"
    make_archive(path).close()
    before = folder_state(path)
    with pytest.raises(WrongPassphrase, match="passphrase for user 'nurse.ana' is wrong"):
        Archive.open(path, USER, "wrong horse 42")
    assert folder_state(path) == before


def test_failed_unlocks_reach_the_audit_log_on_next_unlock(make_archive, tmp_path):
    path = tmp_path / "arch"
    make_archive(path).close()
    for _ in range(3):
        with pytest.raises(WrongPassphrase):
            Archive.open(path, USER, "wrong horse 42")
    with Archive.open(path, USER, PASSPHRASE) as a:
        entries = a.audit.entries(a.catalogue)
    failed = [e for e in entries if e.action == "unlock.failed"]
    assert len(failed) == 1 and failed[0].user == USER  # one report: a count, not a line per try
    assert failed[0].details["count"] == 3 and failed[0].details["unverified"] is True
    assert entries[-1].action == "unlock"
    with Archive.open(path, USER, PASSPHRASE) as a:  # moved, not copied again
        assert [e.action for e in a.audit.entries(a.catalogue)].count("unlock.failed") == 1


def test_unknown_user_is_named(make_archive, tmp_path):
    make_archive(tmp_path / "arch").close()
    with pytest.raises(UnknownUser, match="no user called 'bob'"):
        Archive.open(tmp_path / "arch", "bob", PASSPHRASE)


def test_missing_or_corrupt_header_gives_a_clear_error(make_archive, tmp_path):
    path = tmp_path / "arch"
    make_archive(path).close()
    header = path / "archive.json"
    good = header.read_bytes()
    header.write_text('{"format": "dermarchive", "version": 1, "slots": [')
    with pytest.raises(ArchiveCorrupt, match="damaged"):
        Archive.open(path, USER, PASSPHRASE)
    header.unlink()
    with pytest.raises(ArchiveCorrupt, match="missing"):
        Archive.open(path, USER, PASSPHRASE)
    header.write_bytes(good)
    with Archive.open(path, USER, PASSPHRASE):
        pass


def test_not_an_archive_and_no_overwrite(make_archive, tmp_path):
    with pytest.raises(ArchiveNotFound):
        Archive.open(tmp_path / "nothing", USER, PASSPHRASE)
    make_archive(tmp_path / "arch").close()
    with pytest.raises(ArchiveExists):
        Archive.create(tmp_path / "arch", USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS)


def test_admin_adds_users_each_with_their_own_slot(make_archive, tmp_path):
    path = tmp_path / "arch"
    a = make_archive(path)
    a.add_user("dr.lee", "clinician", "lee passphrase 7", kdf=CHEAP_TEST_PARAMS)
    a.add_user("nurse.bo", "nurse", "bo passphrase 77", kdf=CHEAP_TEST_PARAMS)
    a.close()
    with Archive.open(path, "dr.lee", "lee passphrase 7") as lee:
        assert lee.user.role == "clinician"
        with pytest.raises(PermissionDenied, match="Only admin"):
            lee.add_user("x.y", "nurse", "another pass 99", kdf=CHEAP_TEST_PARAMS)
    with pytest.raises(WrongPassphrase):
        Archive.open(path, "nurse.bo", "lee passphrase 7")
    assert Archive.users_of(path) == [USER, "dr.lee", "nurse.bo"]


def test_change_passphrase_rewraps_only_that_slot(make_archive, tmp_path):
    path = tmp_path / "arch"
    a = make_archive(path)
    a.add_user("dr.lee", "clinician", "lee passphrase 7", kdf=CHEAP_TEST_PARAMS)
    a.close()
    slots_before = {s["user"]: s for s in json.loads((path / "archive.json").read_text())["slots"]}
    with Archive.open(path, "dr.lee", "lee passphrase 7") as lee:
        with pytest.raises(WrongPassphrase):
            lee.change_passphrase("not the old one 1", "brand new pass 8", kdf=CHEAP_TEST_PARAMS)
        lee.change_passphrase("lee passphrase 7", "brand new pass 8", kdf=CHEAP_TEST_PARAMS)
    slots_after = {s["user"]: s for s in json.loads((path / "archive.json").read_text())["slots"]}
    assert slots_after[USER] == slots_before[USER]
    assert slots_after["dr.lee"]["sealed_master"] != slots_before["dr.lee"]["sealed_master"]
    assert slots_after["dr.lee"]["public"] != slots_before["dr.lee"]["public"]  # a new key pair
    with pytest.raises(WrongPassphrase):
        Archive.open(path, "dr.lee", "lee passphrase 7")
    with Archive.open(path, "dr.lee", "brand new pass 8") as lee:
        assert lee.user.name == "dr.lee"


def test_no_identifier_or_plaintext_photo_anywhere_on_disk(make_archive, tmp_path, corpus):
    """Every byte of the archive folder, after adding a patient and real phone photos."""
    path = tmp_path / "arch"
    a = make_archive(path)
    p = records.add_patient(a, "ZAC5361", "Wharepapa", "Mereana", "1975-09-30")
    photos = [corpus / "jolla.jpg", corpus / "iphone_hdr_NO.jpg"]
    for photo in photos:
        store_photo(a, p.id, photo)
    a.close()
    needles = [b"ZAC5361", b"Wharepapa", b"Mereana", b"1975-09-30", b"Exif\x00\x00", b"JFIF\x00",
               "Wharepapa".encode("utf-16-le")]
    for photo in photos:
        data = photo.read_bytes()
        needles += [data[i:i + 32] for i in range(1000, len(data) - 32, len(data) // 7)]
    files = [f for f in path.rglob("*") if f.is_file()]
    assert len(files) >= 3 + 3 * len(photos)
    for f in files:
        blob = f.read_bytes()
        for needle in needles:
            assert needle not in blob, f"plaintext found in {f.relative_to(path)}"


def test_closing_wipes_every_key_copy_and_later_use_is_refused(make_archive):
    from dermarchive.errors import ArchiveLocked

    archive = make_archive()
    held = [archive.blobs._id_key._buf, archive.blobs._wrap_keys[0]._buf, archive.audit._key._buf]
    assert all(any(buf) for buf in held)
    archive.close(reason="test")
    assert all(not any(buf) for buf in held)  # zeroed in place, not just dropped
    with pytest.raises(ArchiveLocked):
        archive.blobs.blob_id(b"any photo")
    with pytest.raises(ArchiveLocked):
        archive.blobs.put(b"any photo")
    with pytest.raises(ArchiveLocked):
        archive.audit.verify(archive.catalogue)


def test_a_read_still_running_when_the_archive_locks_is_told_it_is_locked(make_archive):
    # A background job of the app (a thumbnail, a patient list) that reaches the catalogue after
    # lock gets the app's own "locked" error, which the GUI drops quietly, not sqlcipher's
    # "Cannot operate on a closed database" logged as a failed job.
    from dermarchive.errors import ArchiveLocked

    archive = make_archive()
    records.add_patient(archive, "ZZZ0016", "Locked", "Before")
    archive.close(reason="lock")
    with pytest.raises(ArchiveLocked):
        records.find_patients(archive)
    with pytest.raises(ArchiveLocked):
        archive.catalogue.scalar("SELECT count(*) FROM patient")
    with pytest.raises(ArchiveLocked):
        with archive.catalogue.transaction():
            pass


@pytest.mark.parametrize("os_name", ["linux", "windows"])
def test_file_lock_branches_refuse_a_second_holder_until_released(tmp_path, os_name):
    """fcntl.flock on Linux/macOS, portalocker on Windows (selected by name: on Linux portalocker
    itself uses flock, so only the branch's code is tested here, not LockFileEx)."""
    from dermarchive.archive.fsutil import FileLock
    first, second = FileLock(tmp_path / "x.lock"), FileLock(tmp_path / "x.lock")
    first.acquire(exclusive=True, os_name=os_name)
    with pytest.raises(BlockingIOError, match="x.lock is locked by another process"):
        second.acquire(exclusive=False, blocking=False, os_name=os_name)
    first.release()
    second.acquire(exclusive=False, blocking=False, os_name=os_name)
    third = FileLock(tmp_path / "x.lock")
    third.acquire(exclusive=False, blocking=False, os_name=os_name)  # shared locks share
    with pytest.raises(BlockingIOError):
        first.acquire(exclusive=True, blocking=False, os_name=os_name)
    for lock in (first, second, third):
        lock.release()
