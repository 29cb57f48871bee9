"""Backup and restore: encrypted, incremental, verified, atomic.

A backup folder (USB drive, practice share) holds one *current backup set* of one archive
(layout in :mod:`.backup_set`; checking and restoring in :mod:`.backup_restore`, re-exported
here: this module is the public API).

Everything is copied as it is stored, so a backup is exactly as unreadable as the archive
without a passphrase; the key slots travel in the manifest, so a restored archive opens with
the same user names and passphrases. The manifest lists each blob file's SHA-256 as the archive
recorded it when it wrote the file (schema 90), so a blob is copied without being read back to
hash it, inside the kernel where the OS can (``fsutil.copy_in_kernel``); blobs stored before
that are hashed as they are copied.

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

import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlcipher3

from .. import log
from ..archive.archive import Archive
from ..archive.blobs import stored_size
from ..archive.catalogue import CATALOGUE_NAME
from ..archive.fsutil import TEMP_PREFIX, describe_os_error, fsync_dir, sync_files
from ..archive.header import HEADER_NAME, now_iso
from ..errors import Cancelled, DermArchiveError, InvalidInput, StorageError
from .restore import BackupCheck, RestoreSummary, display_time, restore, verify_backup
from .set import (BLOB_DIR, DEFAULT_REMINDER_DAYS, LOCK_NAME, MANIFEST_NAME, SETTING_DESTINATION,
                         SETTING_LAST, SETTING_REMINDER_DAYS, BackupError, Cancel, FolderLock, Manifest,
                         Progress, SourceUnreadable, backup_users, connect_catalogue, copy_pending,
                         file_sha256, folder_identity, put_file, read_manifest, scan_blobs, sha256_or_none,
                         size_or_none, unlink_quietly)

__all__ = [
    "BackupCheck", "BackupError", "BackupSummary", "Manifest", "RestoreSummary", "LOCK_NAME", "MANIFEST_NAME",
    "backup", "backup_destination", "backup_overdue", "backup_users", "describe_last_backup", "display_time",
    "last_backup", "read_manifest", "remember_destination", "reminder_days", "restore", "set_reminder_days",
    "verify_backup",
]

# Copies in flight at once: kernel copies, reads, hashes and writes overlap (each releases the GIL).
COPY_THREADS = 4
# Copies handed to the threads between two looks at ``cancelled`` (and two progress reports).
COPY_BATCH_BLOBS = 256
COPY_BATCH_BYTES = 128 * 1024 * 1024

# Names a USB stick or share may carry that do not make a folder "someone else's".
_IGNORABLE = {"lost+found", "System Volume Information", "$RECYCLE.BIN"}


# -- catalogue snapshot ------------------------------------------------------------------------
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
    blobs: dict[str, tuple[int, int, str | None]]  # id -> (plaintext size, chunks, file's SHA-256 if recorded)
    images: list[int]
    audit_head: dict[str, Any] | None = None   # {"count", "mac"} of the snapshot's audit chain


def _take_snapshot(archive: Archive, dest: Path) -> _Snapshot:
    """Export the catalogue and read its blob list, both in one read transaction."""
    key = archive.master.subkey("catalogue")
    temp = dest / f"{TEMP_PREFIX}{secrets.token_hex(8)}.db"
    conn = None
    try:
        # A full disk opens the archive read-only; the snapshot is still taken (to another disk).
        conn = connect_catalogue(archive.path / CATALOGUE_NAME, key, read_only=not archive.writable)
        conn.execute(f"ATTACH DATABASE ? AS snapshot KEY \"x'{key.hex()}'\"", (str(temp),))
        # A temp file nobody reads until it is fsynced and renamed below: no journal, no syncs.
        conn.execute("PRAGMA snapshot.journal_mode = OFF")
        conn.execute("PRAGMA snapshot.synchronous = OFF")
        conn.execute("BEGIN")
        schema = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
        # A read-only archive may be at a schema before 90, without recorded SHA-256s.
        columns = {r[1] for r in conn.execute("PRAGMA main.table_info(blob)")}
        recorded = "sha256" if "sha256" in columns else "NULL"
        blobs = {r[0]: (int(r[1]), int(r[2]), r[3])
                 for r in conn.execute(f"SELECT id, size, chunks, {recorded} FROM main.blob")}
        images = [int(r[0]) for r in conn.execute("SELECT id FROM main.image ORDER BY id")]
        head = conn.execute("SELECT seq, mac FROM main.audit ORDER BY seq DESC LIMIT 1").fetchone()
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
    return _Snapshot(temp, schema, blobs, images,
                     {"count": int(head[0]), "mac": str(head[1])} if head else None)


def _remove_temp_db(temp: Path) -> None:
    for p in (temp, temp.with_name(temp.name + "-journal")):
        unlink_quietly(p)


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
    with FolderLock(dest, exclusive=True):
        identity = folder_identity(dest)
        previous = read_manifest(dest)
        if previous is not None:
            _check_ours(previous, archive, backup_key, dest)
        present, temps = scan_blobs(dest)
        for temp in [*temps, *dest.glob(f"{TEMP_PREFIX}*")]:  # left by an interrupted backup
            unlink_quietly(Path(temp))
        try:
            (dest / BLOB_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(describe_os_error(exc, "create the backup's blobs folder")) from None
        progress(0, 1, "Taking a snapshot of the catalogue")
        for _attempt in range(3):
            snap = _take_snapshot(archive, dest)
            copy = _BlobCopy(archive, dest, previous, recheck, progress, cancelled, present)
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
    if archive.writable:  # a full disk opens read-only: the backup is still made, not recorded
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
    # A manifest from before a user's removal is MAC'd with that key epoch's backup key.
    if not any(manifest.authentic(k) for k in (key, *archive.master.older_keys("backup"))):
        raise BackupError(
            f"The backup manifest in {dest} fails its authentication check: it was altered or damaged. "
            "Nothing was changed; keep that folder for inspection and back up to a new one."
        )


class _BlobCopy:
    """Copies the snapshot's blobs the destination lacks; builds the manifest's blob entries."""

    def __init__(self, archive: Archive, dest: Path, previous: Manifest | None, recheck: bool,
                 progress: Progress, cancelled: Cancel, present: list[str]) -> None:
        self.archive, self.dest, self.recheck = archive, dest, recheck
        # Blob files at the destination when the run began: only those are looked at (a first
        # backup of 60,000 blobs makes no stat call for its targets).
        self.present = {os.path.basename(p) for p in present}
        self.known = previous.blobs if previous else {}
        self.progress, self.cancelled = progress, cancelled
        self.entries: dict[str, list[Any]] = {}
        self.problems: list[str] = []
        self.copied = self.copied_bytes = self.repaired = 0
        self.added: list[Path] = []
        self.touched: set[Path] = set()

    def remove_added(self) -> None:
        for path in self.added:
            unlink_quietly(path)

    def run(self, snap: _Snapshot) -> bool:
        """Copy what is missing; False when a blob vanished (deleted meanwhile: re-snapshot).

        Blobs go in batches (at most COPY_BATCH_BLOBS blobs or COPY_BATCH_BYTES bytes to copy).
        What to do with each blob is decided here, in order (a stat of its copy when the destination
        had it; the catalogue, which only this thread may use, is asked about a blob whose file
        a worker found missing). The copies of a batch (to a temp name; see :meth:`_copy`)
        run on COPY_THREADS threads at once, since each of their steps releases the GIL; then
        one flush makes the whole batch durable and its files are renamed into place
        (:meth:`_flush`), on another thread while the next batch copies. A blob file is never
        under its final name before its data is durable, as with one fsync per file.

        ``cancelled`` is asked before each batch. Every copy and flush has finished (or failed,
        its temp files removed) when this returns or raises, so the next run, or
        :meth:`remove_added`, sees every file this run wrote. Results are applied in order, so
        progress, problems and entries read as before.
        """
        items = sorted(snap.blobs.items())
        total, i, n = len(items), 0, 0
        vanished = False
        flushing: Future[list[_Copied | None]] | None = None
        with ThreadPoolExecutor(max_workers=COPY_THREADS, thread_name_prefix="dermarchive-backup") as pool, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="dermarchive-backup-flush") as flusher:
            try:
                while i < total and not vanished:
                    if self.cancelled():
                        raise Cancelled("The backup")
                    batch: list[Future[_Copied] | None] = []
                    size = 0
                    try:
                        while i < total and len(batch) < COPY_BATCH_BLOBS and size < COPY_BATCH_BYTES:
                            blob_id, (plain, chunks, known) = items[i]
                            expected = stored_size(plain, chunks)
                            job = self._decide(blob_id, expected, known)
                            i += 1
                            batch.append(pool.submit(job) if job else None)
                            size += expected if job else 0
                    finally:
                        wait([f for f in batch if f is not None])
                    copied = self._collect(batch)
                    # A blob file missing from the archive whose row is gone too was deleted while
                    # the backup ran: this batch is finished, then a new snapshot is taken.
                    vanished = any(r is not None and r.missing and not self.archive.catalogue.scalar(
                        "SELECT 1 FROM blob WHERE id = ?", (r.blob_id,)) for r in copied)
                    if flushing is not None:
                        n = self._report(flushing.result(), n, total)
                    flushing = flusher.submit(self._flush, copied)
                if flushing is not None:
                    done, flushing = flushing, None
                    n = self._report(done.result(), n, total)
            finally:
                if flushing is not None:
                    wait([flushing])  # interrupted: that batch is renamed, or its temp files removed
        return not vanished

    def _report(self, results: list[_Copied | None], n: int, total: int) -> int:
        for done in results:
            n += 1
            if done is not None:
                self._apply(done)
            if n % 16 == 0 or n == total:
                self.progress(n, total, "Copying photos to the backup")
        return n

    @staticmethod
    def _collect(batch: list[Future[_Copied] | None]) -> list[_Copied | None]:
        """The batch's results; on any failure its temp files are removed and the first is raised."""
        results: list[_Copied | None] = []
        failure: BaseException | None = None
        for future in batch:
            try:
                results.append(future.result() if future is not None else None)
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the clean-up
                failure = failure or exc
                results.append(None)
        if failure is not None:
            for r in results:
                if r is not None and r.pending is not None:
                    unlink_quietly(r.pending)
            raise failure
        return results

    def _flush(self, results: list[_Copied | None]) -> list[_Copied | None]:
        """One flush for a batch's new files, then their renames (on the flush thread); on a
        failure the batch's remaining temp files are removed (the set is never touched)."""
        pending = [r for r in results if r is not None and r.pending is not None]
        try:
            if pending:
                sync_files([r.pending for r in pending if r.pending], self.dest / BLOB_DIR)
            for r in pending:
                assert r.pending is not None and r.target is not None
                os.replace(r.pending, r.target)
                r.pending = None
                if r.new:
                    self.added.append(r.target)  # list.append is atomic; read after the threads end
        except OSError as exc:
            raise StorageError(describe_os_error(exc, "copy a photo to the backup")) from None
        finally:
            for r in pending:
                if r.pending is not None:
                    unlink_quietly(r.pending)
        return results

    def _decide(self, blob_id: str, expected: int, known: str | None) -> Callable[[], _Copied] | None:
        """None when the blob needs nothing (entry recorded), else the copy (or recheck) to run on
        a worker thread (which looks at the archive's file: few system calls here, since each
        waits for the GIL while the workers run)."""
        # Plain strings and os.stat here: this runs for every blob of every backup.
        target_s = f"{self.dest}/{BLOB_DIR}/{blob_id[:2]}/{blob_id}"
        old = self.known.get(blob_id)
        there = size_or_none(target_s) if blob_id in self.present else None
        if old is not None and there == old[0] == expected and not self.recheck:
            self.entries[blob_id] = old
            return None
        return lambda: self._copy(blob_id, Path(target_s), expected, old, there, known)

    def _copy(self, blob_id: str, target: Path, expected: int, old: list[Any] | None, there: int | None,
              known: str | None) -> _Copied:
        """On a worker thread: touches only files (a temp file beside the target, renamed later).

        ``known`` is the SHA-256 the archive recorded when it wrote the file (schema 90 on): the
        manifest lists it and the file is copied without being read back to hash it (in the
        kernel where the OS can). So a file damaged in the archive itself reaches the backup
        under its true checksum, and ``backup verify`` names it, even without a passphrase. A
        ``recheck`` reads and hashes every copy, and says when the archive's own file differs
        from its recorded checksum. Blobs stored before schema 90 are hashed as they are copied.
        """
        if old is not None and there == old[0] == expected and sha256_or_none(target) == old[1]:
            return _Copied(blob_id, old)  # --recheck found the backup's copy intact
        source = self.archive.blobs.path(blob_id)
        have = size_or_none(source)
        if have != expected:
            what = "missing" if have is None else f"of the wrong length ({have} of {expected} bytes)"
            problem = (f"stored data {blob_id[:12]}… is {what} in the archive itself; run "
                       "'dermarchive verify' on the archive")
            # keep the backup's earlier copy when it has one
            return _Copied(blob_id, old if old is not None and there == old[0] else None, problem=problem,
                           missing=have is None)
        touched = []
        try:
            if old is None and there == expected:  # left by an interrupted or cancelled run?
                digest = sha256_or_none(target)
                if digest is not None and digest == (known or file_sha256(source)):
                    # its rename may not be durable yet
                    return _Copied(blob_id, [expected, digest], touched=[target.parent])
            if not target.parent.is_dir():
                try:
                    target.parent.mkdir()
                except FileExistsError:
                    pass  # another thread made it just now
                touched.append(target.parent.parent)  # a new sub-folder: its parent changed too
            # Not fsynced one by one: the batch is flushed at once, then renamed (_flush).
            hashed = known is None or self.recheck
            pending, size, digest = copy_pending(target, source, "copy a photo to the backup", hashed=hashed)
            touched.append(target.parent)
        except SourceUnreadable as exc:
            return _Copied(blob_id, None, problem=f"stored data {blob_id[:12]}… could not be read from the "
                                                  f"archive: {exc}")
        except OSError as exc:
            raise StorageError(describe_os_error(exc, "copy a photo to the backup")) from None
        damage = (f"changed length while it was copied ({size} of {expected} bytes)" if size != expected else
                  "is damaged (its checksum differs from the one recorded when it was stored)"
                  if digest and known and digest != known else None)
        if damage:
            unlink_quietly(pending)
            return _Copied(blob_id, old if old is not None and there == old[0] else None, touched=touched,
                           problem=f"stored data {blob_id[:12]}… in the archive {damage}; run "
                                   "'dermarchive verify' on the archive")
        return _Copied(blob_id, [size, digest or known], touched=touched, copied=size, repaired=old is not None,
                       pending=pending, target=target, new=old is None)

    def _apply(self, done: _Copied) -> None:
        if done.entry is not None:
            self.entries[done.blob_id] = done.entry
        if done.problem:
            self.problems.append(done.problem)
        self.touched.update(done.touched)
        if done.copied is not None:
            self.copied += 1
            self.copied_bytes += done.copied
            self.repaired += done.repaired


@dataclass
class _Copied:
    """What a worker did for one blob, applied in order by :meth:`_BlobCopy._apply`."""

    blob_id: str
    entry: list[Any] | None
    problem: str | None = None
    touched: list[Path] = field(default_factory=list)
    copied: int | None = None  # bytes written, when the blob was copied
    repaired: bool = False
    pending: Path | None = None  # written, not yet flushed nor renamed to ``target``
    target: Path | None = None
    new: bool = False            # not in the previous set (removed again if the backup fails)
    missing: bool = False        # the archive's file is not there (deleted meanwhile, if its row is gone)


def _commit(archive: Archive, dest: Path, identity: tuple[int, int], snap: _Snapshot,
            entries: dict[str, list[Any]], touched: set[Path], created: str, sequence: int,
            key: bytes) -> Manifest:
    """Name the snapshot, fsync the folders, then replace the manifest: the one commit point."""
    stamp = created.replace(":", "").replace("-", "").replace("+0000", "Z")[:15]
    name = f"catalogue-{stamp}-{sequence}.db"
    try:
        cat_size, cat_sha = snap.temp.stat().st_size, file_sha256(snap.temp)
        os.replace(snap.temp, dest / name)
        # The folders this run wrote into, and the snapshot's new name, durable before the manifest
        # points at them (one syncfs on Linux rather than an fsync for each of up to 257 folders).
        sync_files([], dest, folders=[*sorted(touched), dest])
    except (OSError, SourceUnreadable) as exc:
        _remove_temp_db(snap.temp)
        text = str(exc) if isinstance(exc, SourceUnreadable) else describe_os_error(exc, "finish the backup")
        raise StorageError(text) from None
    if folder_identity(dest) != identity:
        raise StorageError(f"The backup folder {dest} was replaced during the backup (was the drive "
                           "removed?).")
    manifest = Manifest(
        archive_id=archive.archive_id, created=created, sequence=sequence,
        header=archive.header.as_json(),
        catalogue={"name": name, "size": cat_size, "sha256": cat_sha, "schema": snap.schema},
        blobs=dict(sorted(entries.items())), images=snap.images, audit_head=snap.audit_head,
    )
    manifest.mac = manifest.compute_mac(key)
    put_file(dest / MANIFEST_NAME, manifest.to_bytes(), "write the backup manifest")
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
