"""Encrypted blob store: round trip, chunking, tamper/truncate/swap detection, crypto-erasure, verify."""

import os

import pytest

from dermarchive.archive import records
from dermarchive.archive.blobs import CHUNK_SIZE, HEADER_LEN
from dermarchive.archive.verify import verify
from dermarchive.errors import BlobIntegrityError

from tests.helpers import store_photo


@pytest.fixture
def patient(archive):
    return records.add_patient(archive, "ZZZ0016", "Ngata", "Hine")


def _store(archive, data):
    with archive.transaction() as tx:
        return archive.store_blob(tx, data)


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_round_trip_across_chunk_boundaries(archive, size):
    data = os.urandom(size)
    blob_id = _store(archive, data)
    assert archive.read_blob(blob_id) == data
    ref = archive.blob_ref(blob_id)
    assert ref.chunks == max(1, -(-size // CHUNK_SIZE))
    assert archive.blobs.path(blob_id).stat().st_size == HEADER_LEN + size + 16 * ref.chunks


def test_same_content_is_stored_once_and_ids_are_keyed(make_archive):
    a, b = make_archive(), make_archive()
    data = os.urandom(5000)
    first, second = _store(a, data), _store(a, data)
    assert first == second
    assert len(list(a.blobs.stored_ids())) == 1
    import hashlib
    assert first != hashlib.sha256(data).hexdigest()  # not a plain hash of a known photo
    assert _store(b, data) != first  # another archive, another key


def test_a_blob_stored_under_another_contents_id_fails_its_read_back_check(archive):
    data, other = os.urandom(5000), os.urandom(5000)
    ref = archive.blobs.put(data, archive.blobs.blob_id(other))  # a caller's wrong id
    try:
        assert archive.blobs.check(ref) == "its content does not match its id"
    finally:
        archive.blobs.discard(ref)
    ref = archive.blobs.put(data, archive.blobs.blob_id(data))
    try:
        assert archive.blobs.check(ref) is None
    finally:
        archive.blobs.discard(ref)


def test_flipped_byte_is_named_by_verify_and_refused_on_read(archive, patient, corpus):
    image_id = store_photo(archive, patient.id, corpus / "jolla.jpg")
    img = records.get_image(archive, image_id)
    path = archive.blobs.path(img.blob_id)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobIntegrityError, match="fails authentication"):
        records.image_bytes(archive, img)
    problems = verify(archive)
    assert any(p.startswith(f"image {image_id} (original)") and "damaged" in p for p in problems)
    # listing still works and the thumbnail still shows
    assert [i.id for i in records.images(archive, patient_id=patient.id)] == [image_id]
    assert records.image_bytes(archive, img, "thumb")[:2] == b"\xff\xd8"


def test_truncated_and_missing_blobs_are_named(archive, patient, corpus):
    one = store_photo(archive, patient.id, corpus / "jolla.jpg")
    two = store_photo(archive, patient.id, corpus / "noexif.jpg")
    p1 = archive.blobs.path(records.get_image(archive, one).blob_id)
    p1.write_bytes(p1.read_bytes()[:-100])
    archive.blobs.path(records.get_image(archive, two).blob_id).unlink()
    problems = verify(archive)
    assert any(f"image {one} (original)" in p and "truncated" in p for p in problems)
    assert any(f"image {two} (original)" in p and "missing" in p for p in problems)


def test_older_valid_blob_swapped_in_is_detected(archive, patient, corpus):
    one = store_photo(archive, patient.id, corpus / "jolla.jpg")
    two = store_photo(archive, patient.id, corpus / "iphone_hdr_NO.jpg")
    a, b = (records.get_image(archive, i) for i in (one, two))
    archive.blobs.path(a.thumb_blob_id).write_bytes(archive.blobs.path(b.thumb_blob_id).read_bytes())
    with pytest.raises(BlobIntegrityError):
        records.image_bytes(archive, a, "thumb")
    assert any(f"image {one} (thumbnail)" in p for p in verify(archive))


def test_dropped_final_chunk_is_detected(archive):
    data = os.urandom(2 * CHUNK_SIZE + 10)
    blob_id = _store(archive, data)
    path = archive.blobs.path(blob_id)
    path.write_bytes(path.read_bytes()[: HEADER_LEN + 2 * (CHUNK_SIZE + 16)])
    with pytest.raises(BlobIntegrityError, match="truncated"):
        archive.read_blob(blob_id)


def test_delete_is_crypto_erasure_and_verify_stays_clean(archive, patient, corpus):
    keep = store_photo(archive, patient.id, corpus / "noexif.jpg")
    gone = store_photo(archive, patient.id, corpus / "jolla.jpg")
    img = records.get_image(archive, gone)
    records.delete_images(archive, [gone], reason="consent withdrawn")
    assert archive.catalogue.scalar("SELECT count(*) FROM blob WHERE id = ?", (img.blob_id,)) == 0
    assert not archive.blobs.path(img.blob_id).exists()
    assert [i.id for i in records.images(archive, patient_id=patient.id)] == [keep]
    assert verify(archive) == []
    entry = archive.audit.entries(archive.catalogue, action="image.delete")[-1]
    assert entry.subject["images"] == [gone] and entry.details["blobs_erased"] == 3


def test_unfinished_writes_are_removed_on_open_and_complete_orphans_are_quarantined(make_archive, tmp_path):
    from dermarchive.archive import Archive

    from tests.conftest import PASSPHRASE, USER
    a = make_archive(tmp_path / "arch")
    kept = _store(a, b"kept" * 100)
    placed = a.blobs.put(b"moved into place, but the transaction never committed")
    a.blobs.place(placed)
    a.blobs.put(b"encrypted, never moved into place")  # a pending temp file
    a.close()
    with Archive.open(tmp_path / "arch", USER, PASSPHRASE) as b:
        assert b.swept == 1  # the unfinished temp file
        # A complete file without a row may be a newer photo than an older catalogue: kept.
        assert sorted(b.blobs.stored_ids()) == sorted([kept, placed.id])
        problems = verify(b)
        assert len(problems) == 1 and "1 stored file(s) have no catalogue row" in problems[0]
        assert list(b.blobs.stored_ids()) == [kept]
        assert b.blobs.quarantined() == [placed.id]


STORE_SAME = """
import sys, time
from dermarchive.archive import Archive, records
a = Archive.open(sys.argv[1], sys.argv[2], sys.argv[3])
visit = int(sys.argv[4])
start = float(sys.argv[5])
while time.time() < start:
    time.sleep(0.001)
for n in range(40):
    data = bytes([n]) * 200_000   # the same content in both processes
    ref = a.blobs.put(data)       # encrypted in parallel, under this process's own data key
    with a.transaction() as tx:
        blob = a.register_blob(tx, ref)
        records.insert_image(a, tx, visit_id=visit, kind="clinical", blob_id=blob, width=1, height=1,
                             original_format="JPEG", stored_format="JPEG")
a.close()
"""


def test_two_processes_storing_the_same_content_leave_every_photo_readable(make_archive, tmp_path):
    """Each process encrypts under its own key; the write transaction decides whose file stays."""
    import subprocess
    import sys
    import time

    from dermarchive.archive import Archive

    from tests.conftest import PASSPHRASE, USER
    path = tmp_path / "arch"
    a = make_archive(path)
    p = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    visit = records.add_visit(a, p.id, "2026-01-01")
    a.close()
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, "-c", STORE_SAME, str(path), USER, PASSPHRASE, str(visit), start])
             for _ in range(2)]
    assert [proc.wait(120) for proc in procs] == [0, 0]
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert b.catalogue.scalar("SELECT count(*) FROM image") == 80
        assert b.catalogue.scalar("SELECT count(*) FROM blob") == 40
        for img in records.images(b):
            assert len(records.image_bytes(b, img)) == 200_000
        assert verify(b) == []


def test_verify_checks_every_blob_on_several_threads_names_each_damaged_one_and_reports_progress(archive):
    """verify checks blobs in parallel: every damaged one among many is still named (each once),
    progress counts up to the total in order, and cancelling part-way says so."""
    ids = [_store(archive, os.urandom(3000 + n)) for n in range(40)]
    damaged = sorted(ids)[5::9]
    for blob_id in damaged:
        path = archive.blobs.path(blob_id)
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0x80
        path.write_bytes(bytes(raw))
    seen: list[tuple[int, int]] = []
    problems = verify(archive, lambda done, total, _msg: seen.append((done, total)))
    named = [p for p in problems if "damaged" in p]
    assert named == [f"blob {b[:12]}…: stored data is damaged: chunk 1 of 1 fails authentication" for b in damaged]
    assert seen == [(n, 40) for n in range(1, 41)]
    calls = []
    problems = verify(archive, lambda done, total, _msg: calls.append(done), cancelled=lambda: len(calls) >= 10)
    assert "verify: cancelled before every blob was checked" in problems
    assert len(calls) < 40


def test_disk_usage_counts_the_stored_blobs_without_walking_their_folders(archive, patient, corpus):
    """``info``'s bytes on disk: the blobs' file sizes come from their rows (no walk of every
    blob file), and the figure is what the folder really takes."""
    store_photo(archive, patient.id, corpus / "jolla.jpg")
    _store(archive, os.urandom(3 * CHUNK_SIZE + 5))
    walked = sum(f.stat().st_size for f in archive.path.rglob("*") if f.is_file())
    assert archive.disk_usage() == walked
