"""Encrypted, content-addressed blob store (``blobs/ab/<id>``).

File layout::

    "DAB1" | nonce prefix (7 bytes) | chunk 0 | chunk 1 | … | chunk n-1

Each chunk is AES-256-GCM of up to CHUNK_SIZE plaintext bytes under the blob's own random data
key, with nonce = prefix ‖ chunk counter (4 bytes, big-endian) ‖ last-chunk flag (1 byte), and AAD
binding the format tag and the blob id. Reordered, dropped, truncated or altered chunks fail.
The catalogue row stores the wrapped data key, plaintext size and chunk count, so an older valid
file swapped in, or a dropped final chunk, is detected too.

Blob id = HMAC-SHA256(blob-id key, plaintext): identical content dedups to one file without
revealing a plain hash of a known photo. Deleting the row (``secure_delete`` zeroes it) destroys
the only copy of the data key: crypto-erasure. The file is then unlinked.

Writes come in two steps. :meth:`BlobStore.put` encrypts into a durable temp file (any thread,
in parallel); :meth:`Archive.register_blob` then, inside the catalogue's write transaction (which
one process holds at a time), either moves it into place (rename, fsync the folder) and inserts
the row, or — when the row already exists — discards it. So two processes storing the same
content can never leave a file encrypted under one key and a row holding the other.

Pending temp files live in one folder, ``blobs/tmp/``, so the open that follows a crash removes
them by listing that folder only (open cost does not grow with the archive). A complete blob
without a row is never deleted: the catalogue may be an older copy (restored, or rolled back),
and the file may be the only copy of a newer photo. ``dermarchive verify`` (which reads every
file anyway) moves such files to ``quarantine/`` inside the archive and reports them; an open
whose catalogue has their rows again (a newer catalogue or backup put back) moves them back.

Key epochs: each row records the epoch of the ``blob-wrap`` key that wrapped its data key
(see :mod:`.keys`); blobs written after a user's removal use the new epoch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import log
from ..errors import BlobIntegrityError, StorageError
from .fsutil import TEMP_PREFIX, describe_os_error, move_into_place, private_mkdir, sync_files, sync_folders, write_temp
from .keys import HeldKey, MasterKey, hmac_hex, unwrap, wrap

MAGIC = b"DAB1"
PREFIX_LEN = 7
HEADER_LEN = len(MAGIC) + PREFIX_LEN
TAG_LEN = 16
CHUNK_SIZE = 1024 * 1024
BLOB_DIR = "blobs"
PENDING_DIR = "tmp"          # blobs/tmp/: encrypted files not yet in place
QUARANTINE_DIR = "quarantine"  # <archive>/quarantine/<id>: complete blobs without a row


@dataclass(frozen=True)
class BlobRef:
    """What the catalogue row of a blob holds (and, before registration, where its file waits)."""

    id: str
    wrapped_key: bytes
    size: int
    chunks: int
    pending: Path | None = None  # encrypted temp file, not yet moved into place
    epoch: int = 0               # key epoch of the blob-wrap key that wrapped ``wrapped_key``
    sha256: str | None = None    # of the encrypted file, as written (None: stored before schema 90)


def blob_ref_from_row(row: Any) -> BlobRef:
    """The :class:`BlobRef` of a ``blob`` row (``SELECT *``; rows before key epochs are epoch 0)."""
    keys = row.keys()
    epoch = row["epoch"] if "epoch" in keys else 0
    sha256 = row["sha256"] if "sha256" in keys else None
    return BlobRef(row["id"], bytes(row["wrapped_key"]), row["size"], row["chunks"], epoch=int(epoch),
                   sha256=sha256)


def _hashed(chunks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _aad(blob_id: str) -> bytes:
    return MAGIC + b"|" + blob_id.encode("ascii")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_SIZE))


def stored_size(size: int, chunks: int) -> int:
    """Bytes of the file of a blob holding ``size`` plaintext bytes in ``chunks`` chunks."""
    return HEADER_LEN + size + chunks * TAG_LEN


def _size_problem(actual: int, expected: int) -> str | None:
    if actual == expected:
        return None
    return f"the file is {'truncated' if actual < expected else 'longer than recorded'}"


class BlobStore:
    def __init__(self, folder: Path, master: MasterKey, *, create: bool = True) -> None:
        self.root = folder / BLOB_DIR
        self.quarantine_root = folder / QUARANTINE_DIR
        if create:
            private_mkdir(self.root, exist_ok=True)
        self._id_key = HeldKey(master.subkey("blob-id"))
        self.epoch = master.epoch
        self._wrap_keys = {e: HeldKey(master.epoch_key("blob-wrap", e)) for e in range(master.epoch + 1)}

    def forget(self) -> None:
        """Wipe this store's keys (the archive is closing); any later use raises ArchiveLocked."""
        self._id_key.forget()
        for key in self._wrap_keys.values():
            key.forget()

    def _wrap_key(self, epoch: int) -> bytes:
        try:
            return self._wrap_keys[epoch].get()
        except KeyError:
            raise BlobIntegrityError("0" * 12, f"its key epoch {epoch} is unknown to this catalogue") from None

    # -- ids and paths ----------------------------------------------------------------------
    def blob_id(self, data: bytes) -> str:
        return hmac_hex(self._id_key.get(), data)

    def fingerprint(self, data: bytes) -> str:
        """Keyed fingerprint of any bytes (e.g. an original phone file) for re-scan detection."""
        return hmac_hex(self._id_key.get(), b"source|" + data)

    def path(self, blob_id: str) -> Path:
        if len(blob_id) != 64 or any(c not in "0123456789abcdef" for c in blob_id):
            raise ValueError("not a blob id")
        return self.root / blob_id[:2] / blob_id

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).exists()

    # -- write ------------------------------------------------------------------------------
    def put(self, data: bytes, blob_id: str | None = None, *, sync: bool = True) -> BlobRef:
        """Encrypt ``data`` into a durable temp file; return the row to register.

        Nothing is in place until :meth:`place` (called by ``Archive.register_blob`` inside the
        write transaction); :meth:`discard` drops a pending file that is not needed.
        ``blob_id`` saves hashing ``data`` again when the caller has just computed
        :meth:`blob_id` (a wrong one is caught by :meth:`check`, which re-derives it).
        ``sync=False`` (the import's batches): not yet durable; :meth:`sync_pending` makes a
        batch of such files durable with one flush before any of them is placed.
        """
        blob_id = blob_id or self.blob_id(data)
        data_key = AESGCM.generate_key(bit_length=256)
        # The SHA-256 of the encrypted bytes, taken from the buffers being written (about 1 ms per
        # MB): a backup records it instead of reading the file back to hash it.
        digest = hashlib.sha256()
        tmp = write_temp(self.path(blob_id), _hashed(self._encrypt(data, data_key, blob_id), digest),
                         action="store an encrypted image", temp_dir=self.root / PENDING_DIR, sync=sync)
        return BlobRef(blob_id, wrap(self._wrap_key(self.epoch), data_key, _aad(blob_id)), len(data),
                       chunk_count(len(data)), pending=tmp, epoch=self.epoch, sha256=digest.hexdigest())

    def place(self, ref: BlobRef) -> None:
        """Move a pending file to its final name (replacing any stray file without a row)."""
        self.place_many([ref])

    def place_many(self, refs: list[BlobRef]) -> None:
        """Move pending files to their final names, then make the renames durable with one flush
        (``fsutil.sync_folders``: one syncfs on Linux, each folder elsewhere)."""
        folders = []
        for ref in refs:
            if ref.pending is None:
                raise ValueError("blob is not pending")
            if not ref.pending.exists():
                # Placed before by a transaction that then rolled back: fine if it is this very file.
                placed = BlobRef(ref.id, ref.wrapped_key, ref.size, ref.chunks, epoch=ref.epoch, sha256=ref.sha256)
                if self.exists(ref.id) and self.check(placed) is None:
                    continue
                raise BlobIntegrityError(ref.id, "its encrypted file went missing before it was stored")
            move_into_place(ref.pending, self.path(ref.id), action="store an encrypted image", sync=False)
            folders.append(self.path(ref.id).parent)
        if folders:
            self._flush(lambda: sync_folders(folders, self.root), "store an encrypted image")

    def sync_pending(self, refs: list[BlobRef]) -> None:
        """Make pending files written with ``put(sync=False)`` durable, with one flush
        (``fsutil.sync_files``: one syncfs on Linux, each file elsewhere)."""
        paths = [r.pending for r in refs if r.pending is not None and r.pending.exists()]
        if paths:
            self._flush(lambda: sync_files(paths, self.root / PENDING_DIR), "store the encrypted images")

    @staticmethod
    def _flush(sync: Callable[[], None], action: str) -> None:
        try:
            sync()
        except OSError as exc:
            raise StorageError(describe_os_error(exc, action)) from exc

    def discard(self, ref: BlobRef) -> None:
        if ref.pending is not None:
            ref.pending.unlink(missing_ok=True)

    def _encrypt(self, data: bytes, key: bytes, blob_id: str) -> Iterator[bytes]:
        aead = AESGCM(key)
        prefix = os.urandom(PREFIX_LEN)
        aad = _aad(blob_id)
        yield MAGIC + prefix
        n = chunk_count(len(data))
        view = memoryview(data)
        for i in range(n):
            part = view[i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE]
            yield aead.encrypt(_nonce(prefix, i, i == n - 1), bytes(part), aad)

    # -- read -------------------------------------------------------------------------------
    def iter_plain(self, ref: BlobRef) -> Iterator[bytes]:
        """Decrypt chunk by chunk (bounded memory); raises BlobIntegrityError on any damage."""
        path = ref.pending if ref.pending is not None and ref.pending.exists() else self.path(ref.id)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise BlobIntegrityError(ref.id, "its file is missing") from None
        with fh:
            actual = os.fstat(fh.fileno()).st_size
            expected = stored_size(ref.size, ref.chunks)
            problem = _size_problem(actual, expected)
            if problem:
                raise BlobIntegrityError(ref.id, f"{problem} ({actual} of {expected} bytes)")
            head = fh.read(HEADER_LEN)
            if head[:4] != MAGIC:
                raise BlobIntegrityError(ref.id, "the file does not start like a DermArchive blob")
            try:
                key = unwrap(self._wrap_key(ref.epoch), ref.wrapped_key, _aad(ref.id))
            except InvalidTag:
                raise BlobIntegrityError(ref.id, "its key in the catalogue does not fit") from None
            aead = AESGCM(key)
            prefix, aad = head[4:], _aad(ref.id)
            for i in range(ref.chunks):
                last = i == ref.chunks - 1
                want = (ref.size - i * CHUNK_SIZE if last else CHUNK_SIZE) + TAG_LEN
                sealed = fh.read(want)
                try:
                    yield aead.decrypt(_nonce(prefix, i, last), sealed, aad)
                except InvalidTag:
                    raise BlobIntegrityError(ref.id, f"chunk {i + 1} of {ref.chunks} fails authentication") from None

    def read(self, ref: BlobRef) -> bytes:
        data = b"".join(self.iter_plain(ref))
        if len(data) != ref.size:  # pragma: no cover - guarded by the length check above
            raise BlobIntegrityError(ref.id, "its length differs from the catalogue")
        return data

    def quick_problem(self, ref: BlobRef) -> str | None:
        """Missing or wrong-sized file (one stat, no decryption): for listings; :meth:`check`
        and ``dermarchive verify`` find everything else."""
        try:
            actual = self.path(ref.id).stat().st_size
        except FileNotFoundError:
            return "its file is missing"
        return _size_problem(actual, stored_size(ref.size, ref.chunks))

    def check(self, ref: BlobRef) -> str | None:
        """Decrypt fully and confirm the content matches its id; the problem, or None."""
        try:
            data = self.read(ref)
        except BlobIntegrityError as exc:
            return exc.problem
        if self.blob_id(data) != ref.id:
            return "its content does not match its id"
        return None

    # -- delete and sweep -------------------------------------------------------------------
    def unlink(self, blob_id: str) -> None:
        try:
            self.path(blob_id).unlink()
        except FileNotFoundError:
            pass

    def stored_ids(self) -> Iterator[str]:
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sub.iterdir():
                    if not f.name.startswith(TEMP_PREFIX):
                        yield f.name

    def temp_files(self) -> list[Path]:
        """Pending files left by an interrupted write (one folder listed, whatever the archive's size)."""
        try:
            with os.scandir(self.root / PENDING_DIR) as entries:
                return [Path(e.path) for e in entries if e.name.startswith(TEMP_PREFIX) and e.is_file()]
        except FileNotFoundError:
            return []

    def remove_temp_files(self) -> int:
        """Remove pending files (call only when no other process has the archive open)."""
        removed = 0
        for tmp in self.temp_files():
            tmp.unlink(missing_ok=True)
            removed += 1
        if removed:
            log.archive.info("removed %d unfinished file(s) left by an interrupted write", removed)
        return removed

    def stray_temp_files(self) -> list[Path]:
        """Temp files beside blobs, as versions before ``blobs/tmp/`` left them (full listing)."""
        out: list[Path] = []
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                out += [p for p in sub.iterdir() if p.name.startswith(TEMP_PREFIX)]
        return out

    # -- quarantine -------------------------------------------------------------------------
    def quarantine(self, blob_id: str) -> None:
        """Move a complete blob without a catalogue row out of the way (never deleted)."""
        private_mkdir(self.quarantine_root, exist_ok=True)
        move_into_place(self.path(blob_id), self.quarantine_root / blob_id, action="quarantine a stored file")

    def quarantined(self) -> list[str]:
        try:
            with os.scandir(self.quarantine_root) as entries:
                return sorted(e.name for e in entries if len(e.name) == 64 and e.is_file())
        except FileNotFoundError:
            return []

    def reattach(self, has_row: set[str]) -> int:
        """Move quarantined blobs whose rows exist again back into place; return how many."""
        back = 0
        for blob_id in self.quarantined():
            if blob_id in has_row and not self.exists(blob_id):
                move_into_place(self.quarantine_root / blob_id, self.path(blob_id),
                                action="put a quarantined file back")
                back += 1
        if back:
            log.archive.info("re-attached %d quarantined file(s): the catalogue has their rows", back)
        return back
