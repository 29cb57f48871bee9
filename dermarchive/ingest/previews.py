"""Screen-size previews, made after the import: on a photo's first view, or by an idle job.

Import stores each photo's cleaned original and its grid thumbnail only: the 2016-px preview
(a 1/2-scale decode, a resize and a JPEG encode) was more than half of an import's work. Until a
photo has one, ``records.image_bytes(…, "preview")`` gives the original, so nothing waits on it.

A preview is made from the stored original (decrypted in memory, never on disk), encrypted as
its own blob and recorded in the image's row in one transaction with its audit entry
(``image.preview``: image ids and a count). Crash safety is the import's: the blob is a durable
pending file, moved into place and registered inside that transaction; a crash before the commit
leaves a pending file (removed at the next open) or, after the move, a complete blob without a
row (quarantined by ``verify``, never deleted); the image keeps no preview and gets one next time.
Once recorded, a preview is like any other blob of the image: backed up, verified, and erased
with the image (``records.delete_images`` reads the row as it is then).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import log
from ..archive import records
from ..archive.blobs import BlobRef
from ..archive.parallel import ordered_map
from ..errors import BlobIntegrityError, NotFound
from .metadata import DECODE_ERRORS
from .thumbnails import make_preview as encode_preview
from .thumbnails import open_decodable

Progress = Callable[[int, int, str], None]
BATCH = 16
COMMIT_SECONDS = 1.0


def _render(archive: Any, image: records.ImageRecord, *, skip_damaged: bool = False) -> BlobRef | None:
    """Decrypt the original, make its preview and write it as a durable pending blob.

    ``skip_damaged``: None for an original that is damaged or cannot be decoded (else it raises
    BlobIntegrityError); errors of the disk always raise."""
    try:
        preview = _encoded(archive, image)
    except (BlobIntegrityError, NotFound):
        if skip_damaged:
            return None
        raise
    except DECODE_ERRORS:
        if skip_damaged:
            return None
        raise BlobIntegrityError(image.blob_id, "the photo could not be decoded") from None
    ref: BlobRef = archive.blobs.put(preview)
    return ref


def _encoded(archive: Any, image: records.ImageRecord) -> bytes:
    """The upright screen preview (JPEG, no metadata) of the stored original, in memory."""
    with open_decodable(archive.read_blob(image.blob_id), image.stored_format.upper()) as img:
        return encode_preview(img, image.orientation)


def make_preview(archive: Any, image_id: int) -> str | None:
    """The image's preview blob id, made and recorded now if it has none (the first view).

    None when the archive is open read-only (the original then stands in). Raises NotFound for
    an image that no longer exists and BlobIntegrityError when the stored original is damaged.
    """
    image = records.get_image(archive, image_id)
    if image.preview_blob_id or not archive.writable:
        return image.preview_blob_id
    ref = _render(archive, image)
    assert ref is not None
    try:
        with archive.transaction() as tx:
            return records.record_previews(archive, tx, {image.id: ref}).get(image.id)
    except BaseException:
        archive.blobs.discard(ref)
        raise


def preview_bytes(archive: Any, image: records.ImageRecord) -> bytes:
    """The photo's screen preview (upright, no metadata), made and kept now if it has none; an
    audited view like ``records.view_image``. On a read-only archive a missing preview is made
    in memory only. (``records.image_bytes(…, "preview")`` alone gives the stored original for a
    photo without one, whose orientation is still a tag.)"""
    made = make_preview(archive, image.id)
    if made is not None:
        data: bytes = archive.read_blob(made)
    else:
        data = _encoded(archive, image)
    archive.log_event("image.view", {"image": image.id, "patient": image.patient_id})
    return data


def make_missing_previews(archive: Any, image_ids: list[int] | None = None, *, progress: Progress | None = None,
                          cancelled: Callable[[], bool] = lambda: False, threads: int = 1) -> int:
    """Make the previews these images (default: all) still lack; returns how many were made.

    Meant for an idle moment after an import (the GUI runs it as a cancellable job): ``threads``
    defaults to one, leaving the other core to the user. Committed in small batches, so a cancel
    or a crash loses at most a batch; a photo whose original is damaged or that was deleted
    meanwhile is skipped (``verify`` names the damage).
    """
    if not archive.writable:
        return 0
    todo = [i for i in records.images(archive, image_ids=image_ids) if not i.preview_blob_id]
    total, made = len(todo), 0
    pending: dict[int, BlobRef] = {}

    def render(image: records.ImageRecord) -> tuple[int, BlobRef | None]:
        return image.id, _render(archive, image, skip_damaged=True)

    def commit() -> None:
        nonlocal made
        if pending:
            with archive.transaction() as tx:
                recorded = records.record_previews(archive, tx, pending)
            made += sum(1 for i, ref in pending.items() if recorded.get(i) == ref.id)
            pending.clear()

    last = time.monotonic()
    try:
        for n, (image_id, ref) in enumerate(ordered_map(render, todo, threads=threads, cancelled=cancelled), 1):
            if ref is not None:
                pending[image_id] = ref
            if len(pending) >= BATCH or time.monotonic() - last > COMMIT_SECONDS:
                commit()
                last = time.monotonic()
            if progress:
                progress(n, total, "Making screen previews")
        commit()
    finally:
        for ref in pending.values():  # not committed (an error): their files are still pending
            archive.blobs.discard(ref)
    log.ingest.info("previews made: %d of %d", made, total)
    return made
