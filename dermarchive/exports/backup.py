"""Backup and restore: encrypted, incremental, verified, atomic.

A backup folder (USB drive, practice share) holds one *current backup set* of one archive::

    <dest>/
      dermarchive-backup.json   manifest: archive id, time, key slots, catalogue checksum, and
                                every blob's size and SHA-256; HMAC under the archive's
                                ``backup`` sub-key
      catalogue-<time>-<n>.db   consistent SQLCipher snapshot, keyed like the archive's catalogue
      blobs/ab/<id>             the archive's encrypted blob files, copied byte for byte
      backup.lock               held while a backup runs

Everything is copied as it is stored, so a backup is exactly as unreadable as the archive
without a passphrase; the key slots travel in the manifest, so a restored archive opens with
the same user names and passphrases.

*Consistent.* The catalogue snapshot is ``sqlcipher_export`` from a second connection inside one
read transaction (WAL gives it a stable view while the app keeps writing); the blob list comes
from the same transaction. Blob files are durable before their catalogue row commits (see
``Archive.store_blob``), so every blob in the snapshot exists. If one disappears before it is
copied (deleted while the backup runs), the snapshot is taken again.

*Incremental.* Blobs are immutable and content-addressed: only blobs the previous manifest does
not list (or whose file at the destination is missing or of the wrong size) are copied.
``recheck=True`` also re-hashes every blob already at the destination and re-copies damaged ones.

*Atomic.* New blobs are written under temp names, fsynced and renamed; the snapshot gets a new
name; the manifest is replaced by one rename, which is the commit. Only after it do deletions
happen: blobs no longer in the archive (mirrored deletions, reported) and the old snapshot. An
interruption at any point leaves the previous manifest, its snapshot and all its blobs in place.

Older backup sets (another drive, an earlier copy of the folder) keep what they had, deleted
photos included: their snapshot still holds the wrapped keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlcipher3

from .. import __version__, log
from ..archive.archive import Archive
from ..archive.blobs import HEADER_LEN, TAG_LEN, BlobRef, BlobStore
from ..archive.catalogue import CATALOGUE_NAME
from ..archive.fsutil import TEMP_PREFIX, describe_os_error, fsync_dir
from ..archive.header import HEADER_NAME, Header, KeySlot, now_iso
from ..archive.keys import MasterKey
from ..archive.verify import verify as verify_archive
from ..errors import (ArchiveExists, Cancelled, DermArchiveError, InvalidInput, StorageError,
                      UnknownUser)

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]

MANIFEST_NAME = "dermarchive-backup.json"
LOCK_NAME = "backup.lock"
BLOB_DIR = "blobs"
FORMAT = "dermarchive-backup"
FORMAT_VERSION = 1
READ_SIZE = 1024 * 1024

SETTING_DESTINATION = "backup.destination"
SETTING_LAST = "backup.last"
SETTING_REMINDER_DAYS = "backup.reminder_days"
DEFAULT_REMINDER_DAYS = 7

# Names a USB stick or share may carry that do not make a folder "someone else's".
_IGNORABLE = {"lost+found", "System Volume Information", "$RECYCLE.BIN"}


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

    def body(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "archive_id": self.archive_id,
                "created": self.created, "sequence": self.sequence, "header": self.header,
                "catalogue": self.catalogue, "blobs": self.blobs, "images": self.images,
                "app_version": self.app_version}

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
    return _require_manifest(Path(dest)).key_header().users()


def _require_manifest(dest: Path) -> Manifest:
    if not dest.is_dir():
        raise BackupError(f"The backup folder {dest} is not there. Is the backup drive connected?")
    manifest = read_manifest(dest)
    if manifest is None:
        raise BackupError(f"{dest} holds no DermArchive backup (no {MANIFEST_NAME}).")
    return manifest


# -- files -------------------------------------------------------------------------------------
class _SourceUnreadable(Exception):
    def __init__(self, exc: OSError) -> None:
        super().__init__(describe_os_error(exc, "read stored data to copy"))


def _read_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes in chunks; a read failure is the source's fault, not the destination's."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise _SourceUnreadable(exc) from exc
    with fh:
        while True:
            try:
                chunk = fh.read(READ_SIZE)
            except OSError as exc:
                raise _SourceUnreadable(exc) from exc
            if not chunk:
                return
            yield chunk


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _put(final: Path, chunks: Iterable[bytes], action: str) -> tuple[int, str]:
    """Write ``chunks`` to ``final`` via a temp name, fsync, rename; return (size, sha256).

    Unlike ``fsutil.atomic_write`` it never creates missing parent folders: on a drive that was
    unplugged that would write the backup onto the empty mount point instead.
    """
    tmp = final.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise StorageError(describe_os_error(exc, action)) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return size, digest.hexdigest()


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _blob_path(root: Path, blob_id: str) -> Path:
    return root / BLOB_DIR / blob_id[:2] / blob_id


def _scan_blobs(root: Path) -> tuple[list[str], list[str]]:
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


class _FolderLock:
    """``backup.lock`` in the backup folder: exclusive while backing up, shared while reading."""

    def __init__(self, folder: Path, exclusive: bool) -> None:
        self.fh = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        try:
            self.fh = open(folder / LOCK_NAME, "a+b")
        except OSError:
            return  # read-only medium: reading needs no lock, and writing fails clearly later
        try:
            fcntl.flock(self.fh, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise BackupError(f"Another backup to {folder} is running. Try again when it has finished.") from None

    def __enter__(self) -> _FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()


def _identity(folder: Path) -> tuple[int, int]:
    try:
        st = folder.stat()
    except OSError as exc:
        raise StorageError(describe_os_error(exc, "use the backup folder")) from None
    return st.st_dev, st.st_ino


# -- catalogue snapshot ------------------------------------------------------------------------
def _connect(path: Path, key: bytes, *, read_only: bool = False) -> Any:
    uri = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    conn = sqlcipher3.connect(uri, uri=read_only, isolation_level=None, timeout=30.0,
                              check_same_thread=False)
    conn.row_factory = sqlcipher3.dbapi2.Row
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("PRAGMA temp_store = MEMORY")  # SQLCipher's temp files are not encrypted
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a wrong key fails here
    return conn


def _database_error(exc: Exception, action: str) -> DermArchiveError:
    text = str(exc).lower()
    if "full" in text:
        return StorageError(f"The backup disk is full: could not {action}. Free some space or use a "
                            "larger drive.")
    if "unable to open" in text or "disk i/o" in text or "readonly" in text:
        return StorageError(f"The backup folder is not available or not writable: could not {action}.")
    return BackupError(f"Could not {action}: the database reported '{exc}'.")


@dataclass
class _Snapshot:
    temp: Path
    schema: int
    blobs: dict[str, tuple[int, int]]          # id -> (plaintext size, chunks)
    images: list[int]


def _take_snapshot(archive: Archive, dest: Path) -> _Snapshot:
    """Export the catalogue and read its blob list, both in one read transaction."""
    key = archive.master.subkey("catalogue")
    temp = dest / f"{TEMP_PREFIX}{secrets.token_hex(8)}.db"
    conn = None
    try:
        conn = _connect(archive.path / CATALOGUE_NAME, key)
        conn.execute(f"ATTACH DATABASE ? AS snapshot KEY \"x'{key.hex()}'\"", (str(temp),))
        # A temp file nobody reads until it is fsynced and renamed below: no journal, no syncs.
        conn.execute("PRAGMA snapshot.journal_mode = OFF")
        conn.execute("PRAGMA snapshot.synchronous = OFF")
        conn.execute("BEGIN")
        schema = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
        blobs = {r[0]: (int(r[1]), int(r[2])) for r in conn.execute("SELECT id, size, chunks FROM main.blob")}
        images = [int(r[0]) for r in conn.execute("SELECT id FROM main.image ORDER BY id")]
        conn.execute("SELECT sqlcipher_export('snapshot')")
        conn.execute(f"PRAGMA snapshot.user_version = {schema}")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE snapshot")
        conn.close()
        conn = None
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
    except sqlcipher3.dbapi2.DatabaseError as exc:
        if conn is not None:
            conn.close()
        _remove_temp_db(temp)
        raise _database_error(exc, "write the catalogue snapshot") from None
    except OSError as exc:
        _remove_temp_db(temp)
        raise StorageError(describe_os_error(exc, "write the catalogue snapshot")) from None
    except BaseException:
        if conn is not None:
            conn.close()
        _remove_temp_db(temp)
        raise
    return _Snapshot(temp, schema, blobs, images)


def _remove_temp_db(temp: Path) -> None:
    for p in (temp, temp.with_name(temp.name + "-journal")):
        _unlink_quietly(p)


class _ReadOnlyCatalogue:
    """Just enough of Catalogue (query/scalar) for AuditLog.verify over a snapshot."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def query(self, sql: str, params: Any = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


# -- backup ------------------------------------------------------------------------------------
@dataclass
class BackupSummary:
    destination: str
    created: str
    sequence: int
    images: int
    blobs: int
    copied: int = 0
    copied_bytes: int = 0
    repaired: int = 0
    removed_blobs: int = 0
    removed_images: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"Backed up {self.images} photo(s) to {self.destination}: copied {self.copied} new "
               f"file(s) ({self.copied_bytes / 1e6:.1f} MB) in {self.seconds:.1f} s."]
        if self.repaired:
            out.append(f"Replaced {self.repaired} damaged file(s) at the backup with good copies.")
        if self.removed_images:
            ids = ", ".join(str(i) for i in self.removed_images[:20])
            more = "…" if len(self.removed_images) > 20 else ""
            out.append(f"{len(self.removed_images)} photo(s) deleted from the archive since the last "
                       f"backup were removed from this backup too (image ids {ids}{more}).")
        elif self.removed_blobs:
            out.append(f"Removed {self.removed_blobs} file(s) the archive no longer holds.")
        out += [f"Problem: {p}" for p in self.problems]
        return out


def backup(archive: Archive, dest: Path | str, *, create: bool = False, recheck: bool = False,
           progress: Progress | None = None, cancelled: Cancel | None = None) -> BackupSummary:
    """Back ``archive`` up into the folder ``dest`` (see the module docstring).

    ``create`` makes ``dest`` if it does not exist (its parent must). Raises BackupError for a
    folder that is another archive's backup, not empty, or damaged; StorageError when the disk
    fails; Cancelled. In every case the archive and the previous backup set are left usable.
    """
    try:
        return _backup(archive, Path(dest).absolute(), create, recheck,
                       progress or (lambda done, total, message="": None), cancelled or (lambda: False))
    except StorageError as exc:
        raise StorageError(f"{exc} The archive and the previous backup in that folder are unchanged.") from None


def _backup(archive: Archive, dest: Path, create: bool, recheck: bool, progress: Progress,
            cancelled: Cancel) -> BackupSummary:
    started = time.perf_counter()
    backup_key = archive.master.subkey("backup")
    _prepare_destination(archive, dest, create)
    with _FolderLock(dest, exclusive=True):
        identity = _identity(dest)
        previous = read_manifest(dest)
        if previous is not None:
            _check_ours(previous, archive, backup_key, dest)
        present, temps = _scan_blobs(dest)
        for temp in [*temps, *dest.glob(f"{TEMP_PREFIX}*")]:  # left by an interrupted backup
            _unlink_quietly(Path(temp))
        try:
            (dest / BLOB_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(describe_os_error(exc, "create the backup's blobs folder")) from None
        progress(0, 1, "Taking a snapshot of the catalogue")
        for _attempt in range(3):
            snap = _take_snapshot(archive, dest)
            copy = _BlobCopy(archive, dest, previous, recheck, progress, cancelled)
            try:
                if copy.run(snap):
                    break
            except StorageError:
                _remove_temp_db(snap.temp)
                copy.remove_added()  # give a full disk its space back; the previous set is untouched
                raise
            except BaseException:
                _remove_temp_db(snap.temp)  # blobs copied so far are kept: the next run reuses them
                raise
            _remove_temp_db(snap.temp)  # a blob was deleted while copying: take a new snapshot
        else:
            raise BackupError("The archive kept changing during the backup; try again in a moment. "
                              "The previous backup was left as it was.")
        if cancelled():
            _remove_temp_db(snap.temp)
            raise Cancelled("The backup")
        created = now_iso()
        sequence = (previous.sequence + 1) if previous else 1
        try:
            manifest = _commit(archive, dest, identity, snap, copy.entries, copy.touched, created, sequence,
                               backup_key)
        except StorageError:
            copy.remove_added()  # not committed: the previous manifest and its files stand
            raise
        removed_blobs = _remove_unlisted(dest, present, manifest, previous)
    removed_images = sorted(set(previous.images) - set(snap.images)) if previous else []
    summary = BackupSummary(
        destination=str(dest), created=created, sequence=sequence, images=len(snap.images),
        blobs=len(manifest.blobs), copied=copy.copied, copied_bytes=copy.copied_bytes,
        repaired=copy.repaired, removed_blobs=removed_blobs, removed_images=removed_images,
        problems=copy.problems, seconds=round(time.perf_counter() - started, 3),
    )
    with archive.transaction() as tx:
        archive.set_setting(tx, SETTING_LAST, created)
        archive.set_setting(tx, SETTING_DESTINATION, str(dest))
        archive.record(tx, "backup", {"images_removed": removed_images[:500]},
                       {"sequence": sequence, "images": summary.images, "blobs": summary.blobs,
                        "copied": summary.copied, "repaired": summary.repaired,
                        "removed": removed_blobs, "problems": len(summary.problems)})
    log.exports.info("backup %d: %d blobs, %d copied, %d removed, %d problem(s), %.2f s", sequence,
                     summary.blobs, summary.copied, removed_blobs, len(summary.problems), summary.seconds)
    progress(1, 1, "Backup finished")
    return summary


def _prepare_destination(archive: Archive, dest: Path, create: bool) -> None:
    archive_dir = archive.path.absolute()
    if dest == archive_dir or archive_dir in dest.parents:
        raise InvalidInput("A backup cannot go inside the archive's own folder; choose another drive or folder.")
    if dest in archive_dir.parents:
        raise InvalidInput(f"{dest} contains the archive itself; choose an empty folder or drive for backups.")
    if not dest.exists():
        if not create:
            raise BackupError(f"The backup folder {dest} is not there. Is the backup drive connected?")
        if not dest.parent.is_dir():
            raise BackupError(f"The folder {dest.parent} does not exist. Is the backup drive connected?")
        try:
            dest.mkdir()
        except OSError as exc:
            raise StorageError(describe_os_error(exc, f"create the backup folder {dest}")) from None
        return
    if not dest.is_dir():
        raise InvalidInput(f"{dest} is a file, not a folder; choose a folder for the backup.")
    if (dest / HEADER_NAME).exists() or (dest / CATALOGUE_NAME).exists():
        raise BackupError(f"{dest} is a DermArchive archive, not a backup folder. Nothing was changed; "
                          "choose an empty folder or an existing backup of this archive.")
    if (dest / MANIFEST_NAME).exists():
        return
    foreign = [p for p in dest.iterdir() if not _ours_or_ignorable(p.name)]
    if foreign:
        raise BackupError(f"{dest} is not empty and holds no DermArchive backup. Nothing was changed; "
                          "choose an empty folder or an existing backup of this archive.")


def _ours_or_ignorable(name: str) -> bool:
    return (name.startswith(".") or name in _IGNORABLE or name in (BLOB_DIR, LOCK_NAME)
            or (name.startswith("catalogue-") and name.endswith(".db")))


def _check_ours(manifest: Manifest, archive: Archive, key: bytes, dest: Path) -> None:
    if manifest.archive_id != archive.archive_id:
        raise BackupError(
            f"{dest} holds the backup of another archive (id {manifest.archive_id[:8]}…, this one is "
            f"{archive.archive_id[:8]}…). Nothing was changed; back this archive up to its own folder."
        )
    if not manifest.authentic(key):
        raise BackupError(
            f"The backup manifest in {dest} fails its authentication check: it was altered or damaged. "
            "Nothing was changed; keep that folder for inspection and back up to a new one."
        )


class _BlobCopy:
    """Copies the snapshot's blobs the destination lacks; builds the manifest's blob entries."""

    def __init__(self, archive: Archive, dest: Path, previous: Manifest | None, recheck: bool,
                 progress: Progress, cancelled: Cancel) -> None:
        self.archive, self.dest, self.recheck = archive, dest, recheck
        self.known = previous.blobs if previous else {}
        self.progress, self.cancelled = progress, cancelled
        self.entries: dict[str, list[Any]] = {}
        self.problems: list[str] = []
        self.copied = self.copied_bytes = self.repaired = 0
        self.added: list[Path] = []
        self.touched: set[Path] = set()

    def remove_added(self) -> None:
        for path in self.added:
            _unlink_quietly(path)

    def run(self, snap: _Snapshot) -> bool:
        """Copy what is missing; False when a blob vanished (deleted meanwhile: re-snapshot)."""
        total = len(snap.blobs)
        for n, (blob_id, (size, chunks)) in enumerate(sorted(snap.blobs.items()), 1):
            if self.cancelled():
                raise Cancelled("The backup")
            if not self._one(blob_id, HEADER_LEN + size + chunks * TAG_LEN):
                return False
            if n % 16 == 0 or n == total:
                self.progress(n, total, "Copying photos to the backup")
        return True

    def _one(self, blob_id: str, expected: int) -> bool:
        # Plain strings and os.stat here: this runs for every blob of every backup.
        target_s = f"{self.dest}/{BLOB_DIR}/{blob_id[:2]}/{blob_id}"
        old = self.known.get(blob_id)
        there = _size_or_none(target_s)
        if old is not None and there == old[0] == expected and (
                not self.recheck or _sha256_or_none(Path(target_s)) == old[1]):
            self.entries[blob_id] = old
            return True
        target = Path(target_s)
        source = self.archive.blobs.path(blob_id)
        have = _size_or_none(source)
        if have is None and not self.archive.catalogue.scalar("SELECT 1 FROM blob WHERE id = ?", (blob_id,)):
            return False
        if have != expected:
            what = "missing" if have is None else f"of the wrong length ({have} of {expected} bytes)"
            self.problems.append(f"stored data {blob_id[:12]}… is {what} in the archive itself; run "
                                 "'dermarchive verify' on the archive")
            if old is not None and there == old[0]:
                self.entries[blob_id] = old  # keep the backup's earlier copy
            return True
        try:
            if old is None and there == expected:  # left by an interrupted or cancelled run?
                digest = _sha256_or_none(target)
                if digest is not None and digest == _file_sha256(source):
                    self.entries[blob_id] = [expected, digest]
                    self.touched.add(target.parent)  # its rename may not be durable yet
                    return True
            if not target.parent.is_dir():
                target.parent.mkdir()
                self.touched.add(target.parent.parent)  # a new sub-folder: its parent changed too
            size, digest = _put(target, _read_chunks(source), "copy a photo to the backup")
            self.touched.add(target.parent)
        except _SourceUnreadable as exc:
            self.problems.append(f"stored data {blob_id[:12]}… could not be read from the archive: {exc}")
            return True
        except OSError as exc:
            raise StorageError(describe_os_error(exc, "copy a photo to the backup")) from None
        self.entries[blob_id] = [size, digest]
        if old is None:
            self.added.append(target)
        self.copied += 1
        self.copied_bytes += size
        self.repaired += old is not None
        return True


def _sha256_or_none(path: Path) -> str | None:
    try:
        return _file_sha256(path)
    except _SourceUnreadable:
        return None


def _size_or_none(path: Path | str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _commit(archive: Archive, dest: Path, identity: tuple[int, int], snap: _Snapshot,
            entries: dict[str, list[Any]], touched: set[Path], created: str, sequence: int,
            key: bytes) -> Manifest:
    """Name the snapshot, fsync the folders, then replace the manifest: the one commit point."""
    stamp = created.replace(":", "").replace("-", "").replace("+0000", "Z")[:15]
    name = f"catalogue-{stamp}-{sequence}.db"
    try:
        cat_size, cat_sha = snap.temp.stat().st_size, _file_sha256(snap.temp)
        os.replace(snap.temp, dest / name)
        for sub in sorted(touched):  # only folders this run wrote into
            fsync_dir(sub)
        fsync_dir(dest)  # the snapshot's new name is durable before the manifest points at it
    except (OSError, _SourceUnreadable) as exc:
        _remove_temp_db(snap.temp)
        text = str(exc) if isinstance(exc, _SourceUnreadable) else describe_os_error(exc, "finish the backup")
        raise StorageError(text) from None
    if _identity(dest) != identity:
        raise StorageError(f"The backup folder {dest} was replaced during the backup (was the drive "
                           "removed?).")
    manifest = Manifest(
        archive_id=archive.archive_id, created=created, sequence=sequence,
        header=archive.header.as_json(),
        catalogue={"name": name, "size": cat_size, "sha256": cat_sha, "schema": snap.schema},
        blobs=dict(sorted(entries.items())), images=snap.images,
    )
    manifest.mac = manifest.compute_mac(key)
    _put(dest / MANIFEST_NAME, [manifest.to_bytes()], "write the backup manifest")
    try:
        fsync_dir(dest)
    except OSError:  # committed already; the rename itself is durable on every journaling fs
        log.exports.warning("could not fsync the backup folder after the commit")
    return manifest


def _remove_unlisted(dest: Path, present: list[str], manifest: Manifest, previous: Manifest | None) -> int:
    """After the commit: remove blobs and snapshots the new set does not list; count deletions.

    ``present`` is what was there before this run (everything it added is listed).
    """
    mirrored = 0
    try:
        for path in present:
            name = os.path.basename(path)
            if name not in manifest.blobs:
                os.unlink(path)
                mirrored += bool(previous and name in previous.blobs)
        for path in dest.glob("catalogue-*.db"):
            if path.name != manifest.catalogue["name"]:
                path.unlink()
    except OSError as exc:  # committed already: the next backup finishes the tidying
        log.exports.warning("backup cleanup incomplete: %s", type(exc).__name__)
    return mirrored


# -- verify ------------------------------------------------------------------------------------
@dataclass
class BackupCheck:
    destination: str
    archive_id: str
    created: str
    images: int
    blobs: int
    decrypted: bool                            # True when checked with a key, not only checksums
    problems: list[str] = field(default_factory=list)
    stray_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        if self.problems:
            return [*self.problems, f"The backup in {self.destination} has {len(self.problems)} problem(s). "
                    "Run 'dermarchive backup ARCHIVE DEST --recheck' to copy good files from the archive "
                    "over damaged or missing ones."]
        depth = ("the manifest is authentic and every file decrypts" if self.decrypted else
                 "structure, sizes and checksums match the manifest (give the passphrase to also "
                 "check authenticity and that everything decrypts)")
        return [f"Backup of {display_time(self.created)} verified: {self.images} photo(s), {self.blobs} stored "
                f"file(s); {depth}."]


def verify_backup(dest: Path | str, *, user: str | None = None, passphrase: str | None = None,
                  archive: Archive | None = None, progress: Progress | None = None,
                  cancelled: Cancel | None = None) -> BackupCheck:
    """Check the backup set in ``dest`` against its manifest, naming what is missing or damaged.

    Without a key: catalogue and every blob file present, of the listed size and SHA-256. With a
    passphrase (or the open ``archive`` it belongs to): also the manifest's MAC, the snapshot's
    integrity and audit chain, and that every blob decrypts to content matching its id.
    """
    progress = progress or (lambda done, total, message="": None)
    cancelled = cancelled or (lambda: False)
    dest = Path(dest).absolute()
    manifest = _require_manifest(dest)
    with _FolderLock(dest, exclusive=False):
        master = _unlock(manifest, user, passphrase, archive)
        check = BackupCheck(str(dest), manifest.archive_id, manifest.created, len(manifest.images),
                            len(manifest.blobs), decrypted=master is not None)
        try:
            _verify_backup(dest, manifest, master, check, progress, cancelled)
        finally:
            if master is not None:
                master.forget()
    if archive is not None:
        archive.log_event("backup", {}, {"verified": manifest.sequence, "problems": len(check.problems)})
    return check


def _verify_backup(dest: Path, manifest: Manifest, master: MasterKey | None, check: BackupCheck,
                   progress: Progress, cancelled: Cancel) -> None:
    problems = check.problems
    if master is not None and not manifest.authentic(master.subkey("backup")):
        problems.append("manifest: fails its authentication check (altered, or not made with this key)")
    catalogue = dest / str(manifest.catalogue["name"])
    catalogue_ok = _check_file(catalogue, manifest.catalogue["size"], manifest.catalogue["sha256"],
                               "catalogue snapshot", problems)
    owners: dict[str, list[str]] = {}
    refs: dict[str, BlobRef] = {}
    if master is not None and catalogue_ok:
        owners, refs = _check_snapshot(catalogue, master, manifest, problems)
    store = BlobStore(dest, master) if master is not None else None
    total = len(manifest.blobs)
    for n, (blob_id, (size, digest)) in enumerate(sorted(manifest.blobs.items()), 1):
        if cancelled():
            raise Cancelled("Checking the backup")
        what = ", ".join(owners.get(blob_id) or [f"stored file {blob_id[:12]}…"])
        if _check_file(_blob_path(dest, blob_id), size, digest, what, problems) and store is not None:
            ref = refs.get(blob_id)
            problem = store.check(ref) if ref else "the catalogue snapshot has no row for it"
            if problem:
                problems.append(f"{what}: does not decrypt: {problem}")
        if n % 16 == 0 or n == total:
            progress(n, total, "Checking the backup")
    listed = set(manifest.blobs)
    check.stray_files = sum(1 for p in _scan_blobs(dest)[0] if os.path.basename(p) not in listed)


def _check_file(path: Path, size: int, digest: str, what: str, problems: list[str]) -> bool:
    have = _size_or_none(path)
    if have is None:
        problems.append(f"{what}: missing from the backup")
        return False
    if have != size:
        problems.append(f"{what}: damaged at the backup (size {have}, expected {size})")
        return False
    try:
        actual = _file_sha256(path)
    except _SourceUnreadable as exc:
        problems.append(f"{what}: unreadable at the backup ({exc})")
        return False
    if actual != digest:
        problems.append(f"{what}: damaged at the backup (checksum differs)")
        return False
    return True


def _check_snapshot(path: Path, master: MasterKey, manifest: Manifest,
                    problems: list[str]) -> tuple[dict[str, list[str]], dict[str, BlobRef]]:
    """Integrity, foreign keys, audit chain and blob rows of the snapshot.

    Returns who uses each blob ("image 12 (original)") and each blob's catalogue row.
    """
    from ..archive.audit import AuditLog

    try:
        conn = _connect(path, master.subkey("catalogue"), read_only=True)
    except sqlcipher3.dbapi2.DatabaseError:
        problems.append("catalogue snapshot: cannot be decrypted with this archive's key")
        return {}, {}
    try:
        problems += [f"catalogue snapshot: {r[0]}" for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"catalogue snapshot: {r[0]} row {r[1]} refers to a missing {r[2]} row"
                     for r in conn.execute("PRAGMA foreign_key_check")]
        problems += [f"catalogue snapshot: {p}" for p in AuditLog(master.subkey("audit")).verify(_ReadOnlyCatalogue(conn))]
        owners: dict[str, list[str]] = {}
        for blob_id, owner, what in conn.execute(
                "SELECT blob_id, id, 'original' FROM image UNION ALL "
                "SELECT thumb_blob_id, id, 'thumbnail' FROM image WHERE thumb_blob_id IS NOT NULL UNION ALL "
                "SELECT preview_blob_id, id, 'preview' FROM image WHERE preview_blob_id IS NOT NULL"):
            owners.setdefault(blob_id, []).append(f"image {owner} ({what})")
        for blob_id, owner in conn.execute(
                "SELECT signature_blob_id, id FROM consent WHERE signature_blob_id IS NOT NULL"):
            owners.setdefault(blob_id, []).append(f"consent {owner} (signature)")
        rows = conn.execute("SELECT id, wrapped_key, size, chunks FROM blob").fetchall()
    finally:
        conn.close()
    refs = {r["id"]: BlobRef(r["id"], bytes(r["wrapped_key"]), r["size"], r["chunks"]) for r in rows}
    for blob_id in sorted(set(refs) - set(manifest.blobs)):
        names = owners.get(blob_id) or [f"stored file {blob_id[:12]}…"]
        problems.append(f"{', '.join(names)}: not in the backup")
    return owners, refs


def _unlock(manifest: Manifest, user: str | None, passphrase: str | None,
            archive: Archive | None) -> MasterKey | None:
    """A private copy of the backup's master key, from the open archive or a passphrase."""
    if archive is not None:
        if archive.archive_id != manifest.archive_id:
            raise BackupError(f"This backup is of another archive (id {manifest.archive_id[:8]}…), "
                              f"not of the open one ({archive.archive_id[:8]}…).")
        return MasterKey(archive.master.raw, manifest.archive_id)
    if passphrase is None:
        return None
    header = manifest.key_header()
    if user is None:
        users = header.users()
        if len(users) != 1:
            raise InvalidInput(f"This backup has several users ({', '.join(users)}): say which.")
        user = users[0]
    try:
        slot = header.slot_for(user)
    except UnknownUser:
        raise UnknownUser(user) from None
    return slot.open(passphrase, header.archive_id)  # WrongPassphrase: nothing was touched


# -- restore -----------------------------------------------------------------------------------
@dataclass
class RestoreSummary:
    archive: str
    backup_created: str
    images: int
    blobs: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        return [f"Restored the backup of {display_time(self.backup_created)} into {self.archive}: {self.images} "
                f"photo(s), verified end to end in {self.seconds:.1f} s. It opens with the same "
                "user names and passphrases."]


def restore(dest: Path | str, target: Path | str, *, user: str | None = None,
            passphrase: str | None = None, archive: Archive | None = None,
            progress: Progress | None = None, cancelled: Cancel | None = None) -> RestoreSummary:
    """Restore the backup in ``dest`` into a new archive folder ``target``.

    Needs a user's passphrase (or the open archive the backup belongs to). Never overwrites an
    archive: ``target`` must not exist or be empty. The restore is built in a hidden sibling
    folder, verified end to end (``dermarchive verify``), and only then renamed into place.
    """
    started = time.perf_counter()
    progress = progress or (lambda done, total, message="": None)
    cancelled = cancelled or (lambda: False)
    dest, target = Path(dest).absolute(), Path(target).absolute()
    _check_restore_target(target)
    manifest = _require_manifest(dest)
    master = _unlock(manifest, user, passphrase, archive)
    if master is None:
        raise InvalidInput("Restoring a backup needs a user's passphrase.")
    user_name = archive.user.name if archive is not None else (user or manifest.key_header().users()[0])
    if not manifest.authentic(master.subkey("backup")):
        master.forget()
        raise BackupError(f"The backup manifest in {dest} fails its authentication check: it was altered "
                          "or damaged. Nothing was restored.")
    work = target.parent / f".{target.name}.restoring-{secrets.token_hex(4)}"
    try:
        with _FolderLock(dest, exclusive=False):
            _copy_backup_set(dest, work, manifest, progress, cancelled)
        header = manifest.key_header()
        header.save(work)
        restored = Archive(work, header, master, header.slot_for(user_name).user)
        try:
            problems = verify_archive(restored, progress, cancelled)
            if cancelled():
                raise Cancelled("The restore")
            if problems:
                raise BackupError("The restored archive does not verify, so it was not kept: "
                                  + "; ".join(problems[:5]))
            with restored.transaction() as tx:
                restored.set_setting(tx, SETTING_LAST, manifest.created)
                restored.record(tx, "restore", {}, {"backup_created": manifest.created,
                                                    "sequence": manifest.sequence,
                                                    "images": len(manifest.images),
                                                    "blobs": len(manifest.blobs)})
        finally:
            restored.close()  # also forgets the master key copy
        if target.exists():
            target.rmdir()  # checked empty above
        os.replace(work, target)
        fsync_dir(target.parent)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        master.forget()
        raise StorageError(describe_os_error(exc, f"restore into {target}")) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        master.forget()
        raise
    log.exports.info("restored backup %d: %d blobs", manifest.sequence, len(manifest.blobs))
    return RestoreSummary(str(target), manifest.created, len(manifest.images), len(manifest.blobs),
                          round(time.perf_counter() - started, 3))


def _check_restore_target(target: Path) -> None:
    if (target / HEADER_NAME).exists() or (target / CATALOGUE_NAME).exists():
        raise ArchiveExists(f"There is already an archive at {target}. A restore never overwrites an "
                            "archive: choose a new folder.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveExists(f"{target} is not empty. A restore goes into a new or empty folder.")
    if not target.parent.is_dir():
        raise InvalidInput(f"The folder {target.parent} does not exist.")


def _copy_backup_set(dest: Path, work: Path, manifest: Manifest, progress: Progress, cancelled: Cancel) -> None:
    """Copy snapshot and blobs into ``work``, checking each against the manifest's SHA-256."""
    (work / BLOB_DIR).mkdir(parents=True)
    damaged: list[str] = []
    jobs = [(dest / str(manifest.catalogue["name"]), work / CATALOGUE_NAME, manifest.catalogue["sha256"],
             "the catalogue snapshot")]
    jobs += [(_blob_path(dest, b), _blob_path(work, b), digest, f"stored file {b[:12]}…")
             for b, (_size, digest) in sorted(manifest.blobs.items())]
    for n, (src, dst, digest, what) in enumerate(jobs, 1):
        if cancelled():
            raise Cancelled("The restore")
        dst.parent.mkdir(exist_ok=True)
        try:
            _size, actual = _put(dst, _read_chunks(src), "write the restored archive")
        except _SourceUnreadable:
            damaged.append(f"{what} is missing or unreadable")
            continue
        if actual != digest:
            damaged.append(f"{what} is damaged (checksum differs)")
        if n % 16 == 0 or n == len(jobs):
            progress(n, len(jobs), "Restoring photos from the backup")
    if damaged:
        more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        raise BackupError("The backup is damaged, so nothing was restored: " + "; ".join(damaged[:5]) + more
                          + ". Run 'dermarchive backup verify' on it for the full list.")


# -- reminders and settings (for the status bar and the dialog) --------------------------------
def last_backup(archive: Archive) -> datetime | None:
    """When this archive was last backed up (aware UTC datetime), or None if never."""
    value = archive.setting(SETTING_LAST)
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def display_time(value: str | datetime) -> str:
    """'25 Nov 2026, 14:02' in the computer's local time, for messages and the dialog."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().strftime("%d %b %Y, %H:%M").lstrip("0")


def reminder_days(archive: Archive) -> int:
    return int(archive.setting(SETTING_REMINDER_DAYS, DEFAULT_REMINDER_DAYS))


def set_reminder_days(archive: Archive, days: int) -> None:
    if not 1 <= int(days) <= 365:
        raise InvalidInput("The backup reminder must be between 1 and 365 days.")
    with archive.transaction() as tx:
        archive.set_setting(tx, SETTING_REMINDER_DAYS, int(days))


def backup_overdue(archive: Archive, days: int | None = None, *, now: datetime | None = None) -> bool:
    """True when the archive holds photos and its last backup is older than ``days``.

    ``days`` defaults to the archive's setting ``backup.reminder_days`` (7 unless changed).
    """
    days = reminder_days(archive) if days is None else days
    last = last_backup(archive)
    if last is None:
        return bool(archive.catalogue.scalar("SELECT count(*) FROM image"))
    return (now or datetime.now(UTC)) - last > timedelta(days=days)


def backup_destination(archive: Archive) -> Path | None:
    value = archive.setting(SETTING_DESTINATION)
    return Path(value) if value else None


def remember_destination(archive: Archive, dest: Path | str) -> None:
    with archive.transaction() as tx:
        archive.set_setting(tx, SETTING_DESTINATION, str(Path(dest).absolute()))


def describe_last_backup(archive: Archive, *, now: datetime | None = None) -> str:
    """'Last backup: 25 Nov 2026, 14:02 (3 days ago)' or 'Never backed up', for the status bar."""
    last = last_backup(archive)
    if last is None:
        return "This archive has never been backed up."
    days = ((now or datetime.now(UTC)).astimezone().date() - last.astimezone().date()).days
    ago = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"Last backup: {display_time(last)} ({ago})."
