"""Screen previews made after the import (issue 19): import stores the original and its thumbnail;
the preview is made on first view or by the idle job, kept encrypted, recorded once, audited,
erased with its photo, backed up, verified, and a crash while making one leaves the archive whole."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.backup import create as bk
from dermarchive.ingest import ImportOptions, run_import, scan
from dermarchive.ingest.previews import make_missing_previews, make_preview
from dermarchive.ingest.thumbnails import PREVIEW_MAX

from tests.conftest import PASSPHRASE, USER

PHOTOS = ("jolla.jpg", "landscape_6.jpg", "Apple iPhone 4S.jpg")


@pytest.fixture
def imported(archive, corpus_copy):
    patient = records.add_patient(archive, "ZZZ0016", "Preview", "Test")
    folder = corpus_copy(*PHOTOS)
    result = run_import(archive, scan(folder, archive), ImportOptions(patient.id))
    assert len(result.imported) == len(PHOTOS)
    return archive, result.imported


def _blob_files(archive: Archive) -> set[str]:
    return {p.name for p in archive.blobs.root.glob("??/*")}


def _audited(archive: Archive, action: str) -> list:
    return archive.audit.entries(archive.catalogue, action=action)


def test_import_leaves_the_preview_for_later_and_the_original_stands_in(imported):
    archive, ids = imported
    for image in records.images(archive, image_ids=ids):
        assert image.preview_blob_id is None and image.thumb_blob_id
        assert records.image_bytes(archive, image, "preview") == records.image_bytes(archive, image)
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") == 2 * len(ids)
    assert verify(archive) == []


def test_first_view_makes_the_preview_once_and_records_it(imported):
    archive, ids = imported
    image = max(records.images(archive, image_ids=ids), key=lambda i: i.width)  # the 8 MP iPhone photo
    blobs_before = archive.catalogue.scalar("SELECT count(*) FROM blob")

    made = make_preview(archive, image.id)
    assert made is not None and records.get_image(archive, image.id).preview_blob_id == made
    assert made in _blob_files(archive)
    preview = records.image_bytes(archive, records.get_image(archive, image.id), "preview")
    original = records.image_bytes(archive, image)
    assert preview != original
    with Image.open(io.BytesIO(preview)) as pic, Image.open(io.BytesIO(original)) as full:
        assert pic.format == "JPEG" and max(pic.size) <= PREVIEW_MAX and not pic.getexif()
        # upright: the same shape as the thumbnail import made (orientation applied)
        with Image.open(io.BytesIO(records.image_bytes(archive, image, "thumb"))) as thumb:
            assert (pic.width >= pic.height) == (thumb.width >= thumb.height)
        assert max(pic.size) < max(full.size)

    assert make_preview(archive, image.id) == made  # a second view makes nothing
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") == blobs_before + 1
    entries = _audited(archive, "image.preview")
    assert len(entries) == 1 and entries[0].subject == {"images": [image.id]}
    assert verify(archive) == []


def test_the_idle_job_fills_every_missing_preview_and_can_be_cancelled(imported):
    archive, ids = imported
    assert make_missing_previews(archive, cancelled=lambda: True) == 0
    assert all(i.preview_blob_id is None for i in records.images(archive))
    steps: list[tuple[int, int]] = []
    assert make_missing_previews(archive, progress=lambda d, t, _m: steps.append((d, t))) == len(ids)
    assert steps[-1] == (len(ids), len(ids))
    assert all(i.preview_blob_id for i in records.images(archive))
    assert make_missing_previews(archive) == 0
    assert verify(archive) == []


def test_deleting_a_photo_whose_preview_was_made_later_erases_it_too(imported):
    archive, ids = imported
    made = make_preview(archive, ids[0])
    image = records.get_image(archive, ids[0])
    records.delete_images(archive, [image.id], reason="consent withdrawn")
    for blob_id in (image.blob_id, image.thumb_blob_id, made):
        assert archive.catalogue.scalar("SELECT count(*) FROM blob WHERE id = ?", (blob_id,)) == 0
        assert blob_id not in _blob_files(archive)
    assert verify(archive) == []


def test_a_preview_made_after_a_backup_goes_into_the_next_one_and_is_checked(imported, tmp_path):
    archive, ids = imported
    dest = tmp_path / "backup"
    bk.backup(archive, dest, create=True)
    made = make_preview(archive, ids[1])
    summary = bk.backup(archive, dest)
    assert summary.copied == 1
    assert (dest / "blobs" / made[:2] / made).is_file()
    check = bk.verify_backup(dest, passphrase=PASSPHRASE)
    assert check.ok
    victim = dest / "blobs" / made[:2] / made
    data = bytearray(victim.read_bytes())
    data[100] ^= 1
    victim.write_bytes(bytes(data))
    assert any(f"image {ids[1]} (preview)" in p for p in bk.verify_backup(dest, passphrase=PASSPHRASE).problems)


def test_verify_names_a_damaged_preview_made_later(imported):
    archive, ids = imported
    made = make_preview(archive, ids[2])
    path = archive.blobs.path(made)
    data = bytearray(path.read_bytes())
    data[-5] ^= 1
    path.write_bytes(bytes(data))
    assert any(f"image {ids[2]} (preview)" in p and "damaged" in p for p in verify(archive))


CRASH = textwrap.dedent("""
    import os, signal, sys
    from dermarchive.archive import Archive, records
    from dermarchive.archive.archive import Archive as A
    from dermarchive.ingest import previews

    path, image_id, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    archive = Archive.open(path, {user!r}, {passphrase!r})
    if when == "written":    # the preview blob is a durable pending file, nothing recorded
        real_put = archive.blobs.put
        def put(data, blob_id=None):
            real_put(data, blob_id)
            os.kill(os.getpid(), signal.SIGKILL)
        archive.blobs.put = put
    else:                    # moved into place and its row inserted, the transaction not committed
        real_update = records.record_previews
        def record(archive, tx, made):
            for ref in made.values():
                archive.register_blob(tx, ref)
            os.kill(os.getpid(), signal.SIGKILL)
        previews.records.record_previews = record
    previews.make_preview(archive, image_id)
""")


@pytest.mark.parametrize("when", ["written", "placed"])
def test_a_crash_while_making_a_preview_leaves_the_archive_whole(imported, when):
    archive, ids = imported
    path = archive.path
    archive.close()
    script = CRASH.format(user=USER, passphrase=PASSPHRASE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", script, str(path), str(ids[0]), when], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr

    with Archive.open(path, USER, PASSPHRASE) as again:
        image = records.get_image(again, ids[0])
        assert image.preview_blob_id is None  # nothing recorded; the original stands in
        assert records.image_bytes(again, image, "preview") == records.image_bytes(again, image)
        assert not again.blobs.temp_files()
        made = make_preview(again, image.id)  # and the next view makes it after all
        assert records.get_image(again, image.id).preview_blob_id == made
        assert verify(again) == []
        assert again.catalogue.scalar("SELECT count(*) FROM blob") == 2 * len(ids) + 1
