"""Checking a backup set against its manifest, and restoring it into a new archive folder.

``verify_backup`` without a key checks structure, sizes and SHA-256 of every file; with a
passphrase (or the open archive it belongs to) also the manifest's MAC, the snapshot's integrity
and audit chain, and that every blob decrypts to content matching its id. ``restore`` copies the
set into a hidden sibling folder (checking every file's SHA-256), verifies the result end to end
as an archive, and only then renames it into place; it never overwrites an archive.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlcipher3

from .. import log
from ..archive.archive import Archive
from ..archive.blobs import BlobRef, BlobStore, blob_ref_from_row
from ..archive.catalogue import CATALOGUE_NAME
from ..archive.fsutil import describe_os_error, fsync_dir, sync_files
from ..archive.parallel import ordered_map
from ..archive.header import HEADER_NAME
from ..archive.keys import MasterKey
from ..archive.verify import verify as verify_archive
from ..errors import ArchiveExists, Cancelled, InvalidInput, StorageError, UnknownUser
from .set import (BLOB_DIR, SETTING_LAST, BackupError, Cancel, FolderLock, Manifest, Progress,
                  SourceUnreadable, blob_path, connect_catalogue, copy_to, file_sha256, require_manifest,
                  scan_blobs, size_or_none)


def display_time(value: str | datetime) -> str:
    """'25 Nov 2026, 14:02' in the computer's local time, for messages and the dialog."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().strftime("%d %b %Y, %H:%M").lstrip("0")



class _ReadOnlyCatalogue:
    """Just enough of Catalogue (query/scalar) for AuditLog.verify over a snapshot."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def query(self, sql: str, params: Any = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


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
    manifest = require_manifest(dest)
    with FolderLock(dest, exclusive=False):
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
    if master is not None and not any(manifest.authentic(k) for k in
                                      (master.subkey("backup"), *master.older_keys("backup"))):
        problems.append("manifest: fails its authentication check (altered, or not made with this key)")
    catalogue = dest / str(manifest.catalogue["name"])
    problem = _file_problem(catalogue, manifest.catalogue["size"], manifest.catalogue["sha256"],
                            "catalogue snapshot")
    catalogue_ok = problem is None
    problems += [problem] if problem else []
    owners: dict[str, list[str]] = {}
    refs: dict[str, BlobRef] = {}
    if master is not None and catalogue_ok:
        owners, refs = _check_snapshot(catalogue, master, manifest, problems)
    store = BlobStore(dest, master, create=False) if master is not None else None
    def check(item: tuple[str, list[Any]]) -> str | None:
        """On a worker thread: one blob's size and SHA-256, or (with a key) its decryption.

        With a key, decrypting every byte under the blob's own key (AES-GCM, the file's length
        and chunk count from the snapshot's row) and matching the content to its id finds any
        byte a checksum would, so the file is hashed only when that fails: to say whether the
        backup's copy differs from the manifest (reported as without a key) or decrypts wrongly.
        """
        blob_id, (size, digest) = item
        what = ", ".join(owners.get(blob_id) or [f"stored file {blob_id[:12]}…"])
        path = blob_path(dest, blob_id)
        ref = refs.get(blob_id)
        if store is not None and ref is not None and size_or_none(path) == size and store.check(ref) is None:
            return None
        problem = _file_problem(path, size, digest, what)
        if problem is None and store is not None:
            failure = store.check(ref) if ref else "the catalogue snapshot has no row for it"
            problem = f"{what}: does not decrypt: {failure}" if failure else None
        return problem

    # SHA-256, AES-GCM and file reads release the GIL: the blobs are checked on every core, a
    # bounded window in flight, results in order (problems and progress read as before).
    total, n = len(manifest.blobs), 0
    for n, problem in enumerate(ordered_map(check, sorted(manifest.blobs.items()), cancelled=cancelled), 1):
        if problem:
            problems.append(problem)
        if n % 16 == 0 or n == total:
            progress(n, total, "Checking the backup")
    if n < total:
        raise Cancelled("Checking the backup")
    listed = set(manifest.blobs)
    check.stray_files = sum(1 for p in scan_blobs(dest)[0] if os.path.basename(p) not in listed)


def _file_problem(path: Path, size: int, digest: str, what: str) -> str | None:
    """What is wrong with a file of the set (missing, wrong size, unreadable, checksum), or None."""
    have = size_or_none(path)
    if have is None:
        return f"{what}: missing from the backup"
    if have != size:
        return f"{what}: damaged at the backup (size {have}, expected {size})"
    try:
        actual = file_sha256(path)
    except SourceUnreadable as exc:
        return f"{what}: unreadable at the backup ({exc})"
    if actual != digest:
        return f"{what}: damaged at the backup (checksum differs)"
    return None


def _check_snapshot(path: Path, master: MasterKey, manifest: Manifest,
                    problems: list[str]) -> tuple[dict[str, list[str]], dict[str, BlobRef]]:
    """Integrity, foreign keys, audit chain and blob rows of the snapshot.

    Returns who uses each blob ("image 12 (original)") and each blob's catalogue row.
    """
    from ..archive.audit import AuditLog

    try:
        conn = connect_catalogue(path, master.subkey("catalogue"), read_only=True)
    except sqlcipher3.dbapi2.DatabaseError:
        problems.append("catalogue snapshot: cannot be decrypted with this archive's key")
        return {}, {}
    try:
        problems += [f"catalogue snapshot: {r[0]}" for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"catalogue snapshot: {r[0]} row {r[1]} refers to a missing {r[2]} row"
                     for r in conn.execute("PRAGMA foreign_key_check")]
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'keyring'").fetchone():
            master.adopt_keyring({r[0]: bytes(r[1]) for r in conn.execute("SELECT label, key FROM keyring")})
        problems += [f"catalogue snapshot: {p}" for p in AuditLog(master.subkey("audit")).verify(_ReadOnlyCatalogue(conn))]
        problems += _audit_head_problems(conn, manifest)
        owners: dict[str, list[str]] = {}
        for blob_id, owner, what in conn.execute(
                "SELECT blob_id, id, 'original' FROM image UNION ALL "
                "SELECT thumb_blob_id, id, 'thumbnail' FROM image WHERE thumb_blob_id IS NOT NULL UNION ALL "
                "SELECT preview_blob_id, id, 'preview' FROM image WHERE preview_blob_id IS NOT NULL"):
            owners.setdefault(blob_id, []).append(f"image {owner} ({what})")
        for blob_id, owner in conn.execute(
                "SELECT signature_blob_id, id FROM consent WHERE signature_blob_id IS NOT NULL"):
            owners.setdefault(blob_id, []).append(f"consent {owner} (signature)")
        rows = conn.execute("SELECT * FROM blob").fetchall()
    finally:
        conn.close()
    refs = {r["id"]: blob_ref_from_row(r) for r in rows}
    for blob_id in sorted(set(refs) - set(manifest.blobs)):
        names = owners.get(blob_id) or [f"stored file {blob_id[:12]}…"]
        problems.append(f"{', '.join(names)}: not in the backup")
    return owners, refs


def _audit_head_problems(conn: Any, manifest: Manifest) -> list[str]:
    """The snapshot's audit chain against the head its manifest recorded (see archive/anchor.py)."""
    head = manifest.audit_head
    if head is None:
        return []  # a backup made before manifests carried the head
    row = conn.execute("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    last = int(row[0]) if row else 0
    if last < head["count"]:
        return [f"catalogue snapshot: its audit log is missing entries {last + 1} to {head['count']} "
                "(the manifest recorded them)"]
    mac = conn.execute("SELECT mac FROM audit WHERE seq = ?", (head["count"],)).fetchone()
    if mac is None or mac[0] != head["mac"]:
        return [f"catalogue snapshot: audit entry {head['count']} is not the one the manifest recorded"]
    return []


def _unlock(manifest: Manifest, user: str | None, passphrase: str | None,
            archive: Archive | None) -> MasterKey | None:
    """A private copy of the backup's master key, from the open archive or a passphrase."""
    if archive is not None:
        if archive.archive_id != manifest.archive_id:
            raise BackupError(f"This backup is of another archive (id {manifest.archive_id[:8]}…), "
                              f"not of the open one ({archive.archive_id[:8]}…).")
        return archive.master.copy()  # with its keyring: older epochs' keys included
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
    manifest = require_manifest(dest)
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
        with FolderLock(dest, exclusive=False):
            _copy_backup_set(dest, work, manifest, progress, cancelled)
        header = manifest.key_header()
        header.save(work)
        restored = Archive(work, header, master, header.slot_for(user_name).user)
        try:
            problems = verify_archive(restored, progress, cancelled)
            if cancelled():
                raise Cancelled("The restore")
            if problems:
                _raise_if_damaged(_damaged_copies(work, manifest))  # the backup's fault: say which files
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
    if archive is not None:  # a restore drill from the open archive: a full copy now exists elsewhere
        archive.log_event("restore", {}, {"drill": True, "sequence": manifest.sequence,
                                          "images": len(manifest.images)})
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
    """Copy snapshot and blobs into ``work``, checking each one's size, and the snapshot's SHA-256.

    The blobs' SHA-256 is not computed here: ``restore`` then decrypts every blob of the restored
    archive and checks it against its id (``dermarchive verify``), which finds any changed byte
    that a checksum would; only when that fails are the copies hashed (:func:`_damaged_copies`),
    to name the damaged files. The snapshot is hashed, since its SHA-256 in the MAC'd manifest is
    what ties it (and the blob keys in it) to this backup.
    """
    (work / BLOB_DIR).mkdir(parents=True)
    damaged: list[str] = []
    jobs = [(dest / str(manifest.catalogue["name"]), work / CATALOGUE_NAME, int(manifest.catalogue["size"]),
             str(manifest.catalogue["sha256"]), "the catalogue snapshot")]
    jobs += [(blob_path(dest, b), blob_path(work, b), size, None, f"stored file {b[:12]}…")
             for b, (size, _digest) in sorted(manifest.blobs.items())]

    def copy(job: tuple[Path, Path, int, str | None, str]) -> str | None:
        """On a worker thread: one file copied (no fsync: the folder is flushed once below), to
        its own name: the work folder is hidden until verified, so no temp file and rename."""
        src, dst, size, digest, what = job
        try:
            copied, actual = copy_to(dst, src, "write the restored archive", hashed=digest is not None)
        except SourceUnreadable:
            return f"{what} is missing or unreadable"
        if copied != size:
            return f"{what} is damaged (size {copied}, expected {size})"
        return None if actual == digest else f"{what} is damaged (checksum differs)"

    for folder in sorted({job[1].parent for job in jobs}):
        folder.mkdir(exist_ok=True)

    # The files are copied on a few threads at once (reads, SHA-256 and writes release the GIL);
    # the work folder is hidden until it is verified and renamed, so one flush at the end makes
    # it durable instead of an fsync per file.
    n = 0
    for n, problem in enumerate(ordered_map(copy, jobs, threads=4, cancelled=cancelled), 1):
        if problem:
            damaged.append(problem)
        if n % 16 == 0 or n == len(jobs):
            progress(n, len(jobs), "Restoring photos from the backup")
    if n < len(jobs):
        raise Cancelled("The restore")
    _raise_if_damaged(damaged)
    sync_files([job[1] for job in jobs], work,
               folders=[*sorted({job[1].parent for job in jobs}), work / BLOB_DIR, work])


def _damaged_copies(work: Path, manifest: Manifest) -> list[str]:
    """The restored blob files whose SHA-256 is not the manifest's (on every core)."""
    def damaged(item: tuple[str, list[Any]]) -> str | None:
        blob_id, (_size, digest) = item
        path = blob_path(work, blob_id)
        ok = size_or_none(path) is not None and file_sha256(path) == digest
        return None if ok else f"stored file {blob_id[:12]}… is damaged (checksum differs)"
    return [p for p in ordered_map(damaged, sorted(manifest.blobs.items())) if p]


def _raise_if_damaged(damaged: list[str]) -> None:
    if damaged:
        more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        raise BackupError("The backup is damaged, so nothing was restored: " + "; ".join(damaged[:5]) + more
                          + ". Run 'dermarchive backup verify' on it for the full list.")
