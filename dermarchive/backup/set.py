"""The backup set on disk: manifest, file primitives, folder lock, snapshot connections.

Shared by :mod:`.backup` (writing a set) and :mod:`.backup_restore` (checking and restoring one).
Layout of a backup folder::

    <dest>/
      dermarchive-backup.json   manifest: archive id, time, key slots, catalogue checksum, and
                                every blob's size and SHA-256; HMAC under the ``backup`` sub-key
      catalogue-<time>-<n>.db   consistent SQLCipher snapshot, keyed like the archive's catalogue
      blobs/ab/<id>             the archive's encrypted blob files, copied byte for byte
      backup.lock               held while a backup runs (shared while checking or restoring)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3

from .. import __version__
from ..archive.catalogue import read_only_uri
from ..archive.fsutil import TEMP_PREFIX, FileLock, copy_in_kernel, describe_os_error
from ..archive.header import Header, KeySlot
from ..errors import DermArchiveError, StorageError

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]

MANIFEST_NAME = "dermarchive-backup.json"
LOCK_NAME = "backup.lock"
BLOB_DIR = "blobs"
FORMAT = "dermarchive-backup"
FORMAT_VERSION = 1

SETTING_DESTINATION = "backup.destination"
SETTING_LAST = "backup.last"
SETTING_REMINDER_DAYS = "backup.reminder_days"
DEFAULT_REMINDER_DAYS = 7


class BackupError(DermArchiveError):
    """The backup folder cannot be used as asked (another archive's, damaged, not a backup)."""


# -- manifest ----------------------------------------------------------------------------------
@dataclass
class Manifest:
    archive_id: str
    created: str
    sequence: int
    header: dict[str, Any]
    catalogue: dict[str, Any]                 # {"name", "size", "sha256", "schema"}
    blobs: dict[str, list[Any]]               # blob id -> [file size, sha256 of the file]
    images: list[int]
    app_version: str = __version__
    mac: str = ""
    audit_head: dict[str, Any] | None = None  # {"count", "mac"}: the snapshot's audit chain head

    def body(self) -> dict[str, Any]:
        body = {"format": FORMAT, "version": FORMAT_VERSION, "archive_id": self.archive_id,
                "created": self.created, "sequence": self.sequence, "header": self.header,
                "catalogue": self.catalogue, "blobs": self.blobs, "images": self.images,
                "app_version": self.app_version}
        if self.audit_head is not None:  # absent from manifests made before issue 15
            body["audit_head"] = self.audit_head
        return body

    def compute_mac(self, key: bytes) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(key, b"dermarchive-backup|" + canonical, hashlib.sha256).hexdigest()

    def authentic(self, key: bytes) -> bool:
        return hmac.compare_digest(self.compute_mac(key), self.mac)

    def to_bytes(self) -> bytes:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    def key_header(self) -> Header:
        h = self.header
        return Header(archive_id=str(h["archive_id"]), created=str(h.get("created", "")),
                      slots=[KeySlot.from_json(s) for s in h["slots"]], version=int(h["version"]))


def read_manifest(dest: Path | str) -> Manifest | None:
    """The manifest of the backup set in ``dest``; None when there is none."""
    path = Path(dest) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(describe_os_error(exc, "read the backup manifest")) from None
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError("not a backup manifest")
        if int(data["version"]) > FORMAT_VERSION:
            raise BackupError(f"The backup in {dest} was written by a newer DermArchive; update the "
                              "application to use it.")
        manifest = Manifest(
            archive_id=str(data["archive_id"]), created=str(data["created"]),
            sequence=int(data["sequence"]), header=dict(data["header"]),
            catalogue=dict(data["catalogue"]),
            blobs={str(k): [int(v[0]), str(v[1])] for k, v in data["blobs"].items()},
            images=[int(i) for i in data["images"]], app_version=str(data.get("app_version", "")),
            mac=str(data["mac"]),
            audit_head=({"count": int(data["audit_head"]["count"]), "mac": str(data["audit_head"]["mac"])}
                        if data.get("audit_head") is not None else None),
        )
        manifest.key_header()
        return manifest
    except BackupError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BackupError(f"The backup manifest {MANIFEST_NAME} in {dest} is damaged and cannot be "
                          f"read ({type(exc).__name__}). Nothing was changed.") from None


def backup_users(dest: Path | str) -> list[str]:
    """User names whose passphrases open the backup in ``dest`` (no key needed)."""
    return require_manifest(Path(dest)).key_header().users()


def require_manifest(dest: Path) -> Manifest:
    if not dest.is_dir():
        raise BackupError(f"The backup folder {dest} is not there. Is the backup drive connected?")
    manifest = read_manifest(dest)
    if manifest is None:
        raise BackupError(f"{dest} holds no DermArchive backup (no {MANIFEST_NAME}).")
    return manifest


# -- files -------------------------------------------------------------------------------------
class SourceUnreadable(Exception):
    def __init__(self, exc: OSError) -> None:
        super().__init__(describe_os_error(exc, "read stored data to copy"))


# Each thread's copy buffer: a copy or a hash reads into it, hashes and writes from it (no new
# buffer per block, so no page faults for fresh memory on every megabyte). 1 MiB: the blob
# store's chunk size, so a thread that has copied keeps little.
COPY_BLOCK = 1024 * 1024
_buffers = threading.local()


def copy_pending(final: Path, source: Path | str, action: str, *, hashed: bool) -> tuple[Path, int, str | None]:
    """Copy the file ``source`` to a temp file beside ``final``; return it, the bytes copied and,
    when ``hashed``, the SHA-256 of those bytes (else None).

    Not fsynced: the caller makes a batch durable at once (``fsutil.sync_files``) and renames it,
    or unlinks it. The copy itself is :func:`copy_to`'s.
    """
    with _temp_beside(final, action) as tmp:
        size, digest = copy_to(tmp, source, action, hashed=hashed)
    return tmp, size, digest


def copy_to(final: Path, source: Path | str, action: str, *, hashed: bool = False) -> tuple[int, str | None]:
    """Copy the file ``source`` to the new name ``final``; return the bytes copied and, when
    ``hashed``, their SHA-256 (else None). Not fsynced.

    Straight to ``final`` (no temp file and rename, which cost a restore of 60,000 blobs about as
    much as the copying) where nobody uses the folder until it is complete and checked: a
    restore's hidden work folder. Unhashed (the caller knows the file's SHA-256), the bytes are
    copied inside the kernel where the OS can (:func:`fsutil.copy_in_kernel`), the rest through
    user space; hashed, each block is read once, hashed and written from one buffer. A read
    failure raises SourceUnreadable (the source's fault), a write failure StorageError; a partly
    written ``final`` is removed.
    """
    try:
        src = open(source, "rb", buffering=0)
    except OSError as exc:
        raise SourceUnreadable(exc) from exc
    digest = hashlib.sha256() if hashed else None
    with src, _removed_on_failure(final, action), open(final, "xb", buffering=0) as dst:
        size = 0 if hashed else copy_in_kernel(src.fileno(), dst.fileno())
        size += _pump(src, dst, digest)
    return size, digest.hexdigest() if digest is not None else None


@contextmanager
def _temp_beside(final: Path, action: str) -> Iterator[Path]:
    """A temp name beside ``final``; the file is removed when the block fails, and an OSError
    becomes StorageError (``action`` says what could not be done)."""
    with _removed_on_failure(final.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}", action) as tmp:
        yield tmp


@contextmanager
def _removed_on_failure(path: Path, action: str) -> Iterator[Path]:
    try:
        yield path
    except OSError as exc:
        unlink_quietly(path)
        raise StorageError(describe_os_error(exc, action)) from None
    except BaseException:
        unlink_quietly(path)
        raise


def _pump(src: Any, dst: Any, digest: Any) -> int:
    """Read ``src`` (a raw file) to its end through this thread's buffer, into ``digest`` and/or
    ``dst`` when given; return the bytes read. Read errors raise SourceUnreadable."""
    view = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(COPY_BLOCK))
    size = 0
    while True:
        try:
            n = src.readinto(view)
        except OSError as exc:
            raise SourceUnreadable(exc) from exc
        if not n:
            return size
        block = view[:n]
        if digest is not None:
            digest.update(block)
        if dst is not None:
            written = 0
            while written < n:
                written += dst.write(block[written:])
        size += n


def file_sha256(path: Path | str) -> str:
    """SHA-256 of the file; a read failure raises SourceUnreadable."""
    digest = hashlib.sha256()
    try:
        fh = open(path, "rb", buffering=0)
    except OSError as exc:
        raise SourceUnreadable(exc) from exc
    with fh:
        _pump(fh, None, digest)
    return digest.hexdigest()


def put_file(final: Path, data: bytes, action: str) -> None:
    """Write ``data`` to ``final`` via a temp name, fsync, rename.

    Unlike ``fsutil.atomic_write`` it never creates missing parent folders: on a drive that was
    unplugged that would write the backup onto the empty mount point instead.
    """
    with _temp_beside(final, action) as tmp:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)


def unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def blob_path(root: Path, blob_id: str) -> Path:
    return root / BLOB_DIR / blob_id[:2] / blob_id


def scan_blobs(root: Path) -> tuple[list[str], list[str]]:
    """Paths of the blob files and of temp files in ``root/blobs`` (one os.scandir pass)."""
    files: list[str] = []
    temps: list[str] = []
    try:
        subs = [e.path for e in os.scandir(root / BLOB_DIR) if e.is_dir() and len(e.name) == 2]
    except FileNotFoundError:
        return files, temps
    for sub in subs:
        with os.scandir(sub) as entries:
            for e in entries:
                (temps if e.name.startswith(TEMP_PREFIX) else files).append(e.path)
    return files, temps


class FolderLock:
    """``backup.lock`` in the backup folder: exclusive while backing up, shared while reading."""

    def __init__(self, folder: Path, exclusive: bool) -> None:
        self.lock: FileLock | None = FileLock(folder / LOCK_NAME)
        try:
            self.lock.acquire(exclusive=exclusive, blocking=False)
        except BlockingIOError:
            self.lock.release()
            raise BackupError(f"Another backup to {folder} is running. Try again when it has finished.") from None
        except OSError:
            self.lock.release()
            self.lock = None  # read-only medium: reading needs no lock, and writing fails clearly later

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.release()


def folder_identity(folder: Path) -> tuple[int, int]:
    try:
        st = folder.stat()
    except OSError as exc:
        raise StorageError(describe_os_error(exc, "use the backup folder")) from None
    return st.st_dev, st.st_ino



# -- catalogue connections ---------------------------------------------------------------------
def connect_catalogue(path: Path, key: bytes, *, read_only: bool = False) -> Any:
    uri = read_only_uri(path) if read_only else str(path)
    conn = sqlcipher3.connect(uri, uri=read_only, isolation_level=None, timeout=30.0,
                              check_same_thread=False)
    conn.row_factory = sqlcipher3.dbapi2.Row
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("PRAGMA temp_store = MEMORY")  # SQLCipher's temp files are not encrypted
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a wrong key fails here
    return conn



def sha256_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except SourceUnreadable:
        return None


def size_or_none(path: Path | str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
