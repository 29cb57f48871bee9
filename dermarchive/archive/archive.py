"""The archive as a whole: create, unlock, users and key slots, blobs, audit, lock.

An :class:`Archive` is an *unlocked* archive: it holds the master key, the open catalogue and the
blob store. ``close()`` (also what "lock" does) checkpoints the catalogue and forgets the keys.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import log
from ..errors import (
    ArchiveExists,
    ArchiveLocked,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageError,
    UnknownUser,
    WrongPassphrase,
)
from . import rotation, unlock_failures
from .anchor import ACKNOWLEDGE_HINT, check_anchor
from .audit import GENESIS, AuditLog
from .blobs import BLOB_DIR, HEADER_LEN, PENDING_DIR, QUARANTINE_DIR, TAG_LEN, BlobRef, BlobStore, blob_ref_from_row
from .catalogue import CATALOGUE_NAME, Catalogue
from .fsutil import (
    LOW_SPACE_BYTES,
    FileLock,
    describe_os_error,
    free_bytes,
    is_read_only_medium,
    make_private,
    private_mkdir,
)
from .header import FORMAT_VERSION, Anchor, Header, KeySlot, now_iso
from .keys import KdfParams, MasterKey, calibrate, check_passphrase_policy

if TYPE_CHECKING:
    from .catalogue import Transaction

Progress = Callable[[int, int, str], None]
ROLES = ("nurse", "clinician", "admin")
LOCK_NAME = "archive.lock"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


class _ProcessLock:
    """Shared lock held while this process has the archive open; exclusive means 'alone'."""

    def __init__(self, folder: Path) -> None:
        self.alone = False
        self._lock: FileLock | None = FileLock(folder / LOCK_NAME)
        try:
            self._lock.acquire(exclusive=True, blocking=False)
            self.alone = True
        except BlockingIOError:
            self._lock.acquire(exclusive=False)
        except OSError:
            self._lock.release()
            self._lock = None  # read-only medium or full disk: no lock, no clean-up

    def share(self) -> None:
        if self._lock is not None and self.alone:
            self._lock.acquire(exclusive=False)
            self.alone = False

    def try_alone(self) -> bool:
        """Take the lock exclusively if no other process has the archive open."""
        if self._lock is None:
            return False
        try:
            self._lock.acquire(exclusive=True, blocking=False)
        except BlockingIOError:
            return False
        self.alone = True
        return True

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class Archive:
    def __init__(self, path: Path, header: Header, master: MasterKey, user_name: str, *,
                 creating: bool = False, read_only: str | None = None) -> None:
        """Open the catalogue and check it; nothing is written here except by ``creating``.

        ``read_only`` (a reason, e.g. a full disk) opens the catalogue read-only. An audit
        anchor that does not match the catalogue sets :attr:`anchor_problem` and blocks writes
        until :meth:`acknowledge_anchor`.
        """
        self.path = path
        self.header = header
        self._master: MasterKey | None = master
        self._plock = _ProcessLock(path)
        try:
            self.catalogue = Catalogue(path / CATALOGUE_NAME, master.subkey("catalogue"),
                                       create=creating, read_only=read_only, migrate=False)
        except BaseException:
            self._plock.release()
            raise
        if self.catalogue.has_table("keyring"):
            master.adopt_keyring({r[0]: bytes(r[1]) for r in self.catalogue.query("SELECT label, key FROM keyring")})
        self.audit = AuditLog(master.subkey("audit"))
        self.anchor_problem = None if creating else check_anchor(header, master, self.catalogue)
        if self.anchor_problem:
            self.catalogue.blocked = self.anchor_problem + " " + ACKNOWLEDGE_HINT
        self.catalogue.migrate()
        self.blobs = BlobStore(path, master, create=self.writable)
        self.swept = 0
        self.reattached = 0
        row = self.catalogue.query_one("SELECT id, name, role FROM user WHERE name = ? AND active = 1",
                                       (user_name,))
        self.user = User(row["id"], row["name"], row["role"]) if row else User(0, user_name, "admin")
        if self.writable and self._plock.alone:
            self.swept = self.blobs.remove_temp_files()
        if self._plock.alone:
            self._plock.share()
        if self.writable:
            self._reattach_quarantined()

    def _reattach_quarantined(self) -> None:
        """Quarantined blobs whose rows are back (a newer catalogue) return to their place."""
        waiting = self.blobs.quarantined()
        if waiting:
            rows = {r[0] for r in self.catalogue.query(
                f"SELECT id FROM blob WHERE id IN ({','.join('?' * len(waiting))})", waiting)}
            self.reattached += self.blobs.reattach(rows)

    @property
    def read_only_reason(self) -> str | None:
        """Why this archive is open read-only (shown by the GUI and CLI), or None."""
        return self.catalogue.read_only or self.catalogue.blocked

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None

    # -- create / open ----------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path | str, user: str, passphrase: str, *, kdf: KdfParams | None = None,
               role: str = "admin") -> Archive:
        path = Path(path)
        if (path / "archive.json").exists() or (path / CATALOGUE_NAME).exists():
            raise ArchiveExists(f"There is already an archive at {path}; choose another folder.")
        if path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
            raise ArchiveExists(f"{path} is not empty; choose a new or empty folder for the archive.")
        check_passphrase_policy(passphrase)
        user = _check_user_name(user)
        if role not in ROLES:
            raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        created_folder = not path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            private_mkdir(path, exist_ok=True)
            make_private(path)
        except OSError as exc:
            raise StorageError(describe_os_error(exc, f"create the archive folder {path}")) from None
        try:
            header = Header.new()
            master = MasterKey.generate(header.archive_id)
            slot = KeySlot.create(user, passphrase, master, kdf or calibrate())
            header.slots.append(slot)
            archive = cls(path, header, master, user, creating=True)
            with archive.catalogue.transaction() as tx:
                uid = tx.insert("INSERT INTO user (name, role, slot_id, created_at) VALUES (?, ?, ?, ?)",
                                (user, role, slot.slot_id, now_iso()))
                archive.user = User(uid, user, role)
                seq = archive.audit.append(tx, user, "archive.create", {"user": uid}, {"format": FORMAT_VERSION})
                mac = tx.scalar("SELECT mac FROM audit WHERE seq = ?", (seq,))
            header.anchor = Anchor.make(master, seq, mac)
            header.save(path)  # last: an archive without a header is not an archive yet
        except BaseException:
            if created_folder:
                shutil.rmtree(path, ignore_errors=True)
            raise
        log.archive.info("archive created (id %s…)", header.archive_id[:8])
        return archive

    @classmethod
    def open(cls, path: Path | str, user: str, passphrase: str | bytearray) -> Archive:
        """Unlock. ``passphrase`` may be UTF-8 in a bytearray, which the caller wipes afterwards."""
        path = Path(path)
        rotation.finish_interrupted(path, user, passphrase)
        header = Header.load(path)
        slot = header.slot_for(user)
        try:
            master = slot.open(passphrase, header.archive_id)
        except WrongPassphrase:
            unlock_failures.note(path, header.archive_id, slot.user, header.users())
            log.archive.info("unlock failed for slot %s", slot.slot_id)
            raise
        _require_writable(path)
        make_private(path)  # archives made before issue 15 were 0755: the folder guards every file
        archive = cls(path, header, master, slot.user, read_only=_full_disk(path))
        if not archive.writable:
            log.archive.info("archive opened read-only")
            return archive
        try:
            with archive.catalogue.transaction() as tx:
                for failed in unlock_failures.pending(path, header.archive_id, header.users()):
                    archive.audit.append(tx, failed.user, "unlock.failed", {},
                                         {**failed.as_json(), "unverified": True})
                details: dict[str, Any] = {}
                if archive.swept:
                    details["removed_unfinished"] = archive.swept
                if archive.reattached:
                    details["reattached"] = archive.reattached
                archive.audit.append(tx, archive.user.name, "unlock", {"user": archive.user.id}, details)
            unlock_failures.clear(path, header.archive_id)
            if not slot.sealable:  # format-1 slot: give it a key pair now that we have the passphrase
                archive._update_header(lambda h: h.slot_for(slot.user).rewrap(passphrase, master, slot.kdf))
            else:
                archive.anchor_audit()
        except BaseException:
            archive.close()
            raise
        return archive

    @staticmethod
    def users_of(path: Path | str) -> list[str]:
        """User names from the header, for the unlock dialog (no key needed)."""
        return Header.load(Path(path)).users()

    # -- state ------------------------------------------------------------------------------
    @property
    def master(self) -> MasterKey:
        if self._master is None:
            raise ArchiveLocked()
        return self._master

    @property
    def archive_id(self) -> str:
        return self.header.archive_id

    @property
    def is_open(self) -> bool:
        return self._master is not None

    def close(self, *, reason: str | None = None) -> None:
        if self._master is None:
            return
        if reason and self.writable:
            try:
                with self.transaction() as tx:
                    self.record(tx, "lock", {"user": self.user.id}, {"reason": reason})
            except Exception:  # noqa: BLE001 - locking must always succeed
                log.archive.exception("could not audit lock")
        if self.writable:
            try:
                self.anchor_audit()
            except Exception:  # noqa: BLE001 - locking must always succeed
                log.archive.exception("could not anchor the audit log")
        self.catalogue.close()
        self.blobs.forget()  # the components' copies of sub-keys go with the master key
        self.audit.forget()
        self._master.forget()
        self._master = None
        self._plock.release()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and audit -------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.master  # noqa: B018 - raises ArchiveLocked when closed
        with self.catalogue.transaction() as tx:
            yield tx

    def record(self, tx: Transaction, action: str, subject: dict[str, Any] | None = None,
               details: dict[str, Any] | None = None) -> int:
        return self.audit.append(tx, self.user.name, action, subject, details)

    def log_event(self, action: str, subject: dict[str, Any] | None = None,
                  details: dict[str, Any] | None = None) -> int:
        """Record an access (view, export, verify). An archive open read-only (full disk, or an
        unacknowledged anchor problem) cannot record it: the access is still allowed, since
        viewing and exporting must keep working, and the log says so (ids only)."""
        if not self.writable:
            log.archive.warning("read-only archive: %s not recorded in the audit log", action)
            return 0
        with self.transaction() as tx:
            return self.record(tx, action, subject, details)

    # -- audit anchor -----------------------------------------------------------------------
    def _update_header(self, change: Callable[[Header], Any]) -> Any:
        """Change the header under its lock (re-read first), with the audit anchor brought up
        to date in the same write; this process's copy becomes what was written."""
        # Inside a transaction the head may still roll back: the next close anchors it instead.
        head = None if self.catalogue.conn.in_transaction else self._audit_head()

        def apply(header: Header) -> Any:
            result = change(header)
            if head is not None and (header.anchor is None or head[0] >= header.anchor.count
                                     or not header.anchor.authentic(self.master)):
                header.anchor = Anchor.make(self.master, *head)
            return result

        self.header, result = Header.update(self.path, apply)
        return result

    def _audit_head(self) -> tuple[int, str]:
        row = self.catalogue.query_one("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def anchor_audit(self) -> None:
        """Record the audit chain's head in the header (MAC'd), unless it is there already."""
        count, mac = self._audit_head()
        anchor = self.header.anchor
        if anchor is not None and anchor.count == count and anchor.mac == mac:
            return
        self._update_header(lambda h: None)

    def _switch_master(self, header: Header, master: MasterKey) -> None:
        """Continue with a rotated master key (after :func:`rotation.rotate`)."""
        old = self.master
        self.blobs.forget()
        self.audit.forget()
        self.header, self._master = header, master
        self.blobs = BlobStore(self.path, master)
        self.audit = AuditLog(master.subkey("audit"))
        old.forget()

    def acknowledge_anchor(self) -> None:
        """An admin accepts the catalogue as it is after an anchor problem (audited); writes
        are allowed again and the anchor follows this catalogue from now on."""
        if not self.anchor_problem:
            raise InvalidInput("There is nothing to acknowledge: the audit log matches its anchor.")
        self.require_role("admin", action="acknowledge a rolled-back or cut audit log")
        expected = self.header.anchor.count if self.header.anchor else 0
        found, _mac = self._audit_head()
        self.catalogue.blocked = None
        try:
            with self.transaction() as tx:
                self.record(tx, "audit.acknowledge", {"user": self.user.id},
                            {"anchored_entries": expected, "found_entries": found})
            self._update_header(lambda h: setattr(h, "anchor", None))
        except BaseException:
            self.catalogue.blocked = self.anchor_problem + " " + ACKNOWLEDGE_HINT
            raise
        self.anchor_problem = None
        self.catalogue.migrate()
        self._reattach_quarantined()

    def require_role(self, *roles: str, action: str = "do this") -> None:
        if self.user.role not in roles:
            raise PermissionDenied(
                f"Only {' or '.join(roles)} users may {action}; '{self.user.name}' is a {self.user.role}."
            )

    # -- settings ---------------------------------------------------------------------------
    def setting(self, key: str, default: Any = None) -> Any:
        value = self.catalogue.scalar("SELECT value FROM setting WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def set_setting(self, tx: Transaction, key: str, value: Any) -> None:
        tx.execute("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # -- blobs ------------------------------------------------------------------------------
    def store_blob(self, tx: Transaction, data: bytes) -> str:
        """Store ``data`` encrypted and register its row in ``tx``; returns the blob id.

        The file is durable and in place before this returns; the row commits with the caller's
        transaction. Content already stored is not written again.
        """
        blob_id = self.blobs.blob_id(data)
        if tx.scalar("SELECT 1 FROM blob WHERE id = ?", (blob_id,)) and self.blobs.exists(blob_id):
            return blob_id
        return self.register_blob(tx, self.blobs.put(data))

    def register_blob(self, tx: Transaction, ref: BlobRef) -> str:
        """Make a pending blob (from ``blobs.put``, possibly on another thread) part of ``tx``.

        Runs inside the write transaction, so no other process is registering at the same time:
        if the content is already stored (row and file), the pending file is discarded and the
        existing row, which holds the key of the file in place, stays; otherwise the file moves
        into place and its row is inserted. Registering the same ref twice is harmless.
        """
        self.register_blobs(tx, [ref])
        return ref.id

    def register_blobs(self, tx: Transaction, refs: list[BlobRef]) -> None:
        """:meth:`register_blob` for a batch: every file is renamed into place, then one flush
        makes the renames durable (``blobs.place_many``), then the rows are inserted."""
        todo: dict[str, BlobRef] = {}
        for ref in refs:
            first = todo.get(ref.id)
            if first is not None:
                if first.pending != ref.pending:  # the same content written twice: one is enough
                    self.blobs.discard(ref)
                continue
            if tx.scalar("SELECT 1 FROM blob WHERE id = ?", (ref.id,)) and self.blobs.exists(ref.id):
                self.blobs.discard(ref)
                continue
            todo[ref.id] = ref
        self.blobs.place_many(list(todo.values()))
        for ref in todo.values():
            tx.execute("INSERT OR REPLACE INTO blob (id, wrapped_key, size, chunks, created_at, epoch, sha256) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (ref.id, ref.wrapped_key, ref.size, ref.chunks, now_iso(), ref.epoch, ref.sha256))

    def blob_ref(self, blob_id: str) -> BlobRef:
        row = self.catalogue.query_one("SELECT * FROM blob WHERE id = ?", (blob_id,))
        if row is None:
            raise NotFound("That stored image no longer exists in the archive.")
        return blob_ref_from_row(row)

    def read_blob(self, blob_id: str) -> bytes:
        """Decrypt a blob into memory (the catalogue lock is not held while decrypting)."""
        self.master  # noqa: B018 - raises ArchiveLocked when closed
        return self.blobs.read(self.blob_ref(blob_id))

    def release_blobs(self, tx: Transaction, blob_ids: list[str | None]) -> list[str]:
        """Delete the rows of blobs nothing refers to any more (crypto-erasure); return their ids.

        Call :meth:`unlink_blobs` with the result after the transaction commits.
        """
        gone = []
        for blob_id in {b for b in blob_ids if b}:
            used = tx.scalar(
                "SELECT (SELECT count(*) FROM image WHERE blob_id = :b OR thumb_blob_id = :b "
                "OR preview_blob_id = :b) + (SELECT count(*) FROM consent WHERE signature_blob_id = :b)",
                {"b": blob_id},
            )
            if not used:
                tx.execute("DELETE FROM blob WHERE id = ?", (blob_id,))
                gone.append(blob_id)
        return gone

    def unlink_blobs(self, blob_ids: list[str]) -> None:
        for blob_id in blob_ids:
            self.blobs.unlink(blob_id)

    # -- users ------------------------------------------------------------------------------
    def users(self) -> list[User]:
        return [User(r["id"], r["name"], r["role"])
                for r in self.catalogue.query("SELECT id, name, role FROM user WHERE active = 1 ORDER BY name")]

    def add_user(self, name: str, role: str, passphrase: str, *, kdf: KdfParams | None = None) -> User:
        self.require_role("admin", action="add users")
        name = _check_user_name(name)
        if role not in ROLES:
            raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        check_passphrase_policy(passphrase)
        slot = KeySlot.create(name, passphrase, self.master, kdf or calibrate())

        def add(header: Header) -> None:
            if any(u.casefold() == name.casefold() for u in header.users()):
                raise InvalidInput(f"There is already a user called '{name}'.")
            header.slots.append(slot)

        with self.transaction() as tx:
            old = tx.query_one("SELECT id FROM user WHERE name = ? AND active = 0", (name,))
            if old is not None:  # a removed user comes back: same id, new slot
                uid = int(old[0])
                tx.execute("UPDATE user SET role = ?, slot_id = ?, active = 1 WHERE id = ?",
                           (role, slot.slot_id, uid))
            else:
                uid = tx.insert("INSERT INTO user (name, role, slot_id, created_at) VALUES (?, ?, ?, ?)",
                                (name, role, slot.slot_id, now_iso()))
            self.record(tx, "user.add", {"user": uid}, {"role": role})
            self._update_header(add)  # inside the transaction: a refused header rolls the row back
        return User(uid, name, role)

    def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Give this user's slot a new key pair under the new passphrase; nothing else is
        re-encrypted, and no file keeps the old slot (see :mod:`.header`)."""
        self.header.slot_for(self.user.name).open(old, self.archive_id)  # raises WrongPassphrase
        check_passphrase_policy(new)
        params = kdf or calibrate()
        with self.transaction() as tx:
            self.record(tx, "user.passwd", {"user": self.user.id})
            self._update_header(lambda h: h.slot_for(self.user.name).rewrap(new, self.master, params))

    def reset_passphrase(self, name: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """An admin gives a user who forgot their passphrase a new slot (audited)."""
        self.require_role("admin", action="reset another user's passphrase")
        target = self._active_user(name)
        check_passphrase_policy(new)
        params = kdf or calibrate()
        with self.transaction() as tx:
            self.record(tx, "user.reset", {"user": target.id})
            self._update_header(lambda h: h.slot_for(target.name).rewrap(new, self.master, params))

    def change_role(self, name: str, role: str) -> User:
        self.require_role("admin", action="change users' roles")
        if role not in ROLES:
            raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        target = self._active_user(name)
        with self.transaction() as tx:
            if target.role == "admin" and role != "admin":
                self._require_another_admin(tx, target)
            tx.execute("UPDATE user SET role = ? WHERE id = ?", (role, target.id))
            self.record(tx, "user.role", {"user": target.id}, {"role": role, "was": target.role})
        if target.id == self.user.id:
            self.user = User(target.id, target.name, role)
        return User(target.id, target.name, role)

    def remove_user(self, name: str, progress: Progress | None = None) -> User:
        """Remove a user and rotate the keys (see :mod:`.rotation`); admins only, never the last
        admin, never yourself (another admin removes you). Audited."""
        self.require_role("admin", action="remove users")
        target = self._active_user(name)
        if target.id == self.user.id:
            raise InvalidInput("You cannot remove yourself; ask another admin to do it.")
        with self.catalogue.lock:
            if target.role == "admin":
                self._require_another_admin(self.catalogue, target)
            rotation.rotate(self, target, progress)
        return target

    def _active_user(self, name: str) -> User:
        row = self.catalogue.query_one("SELECT id, name, role FROM user WHERE name = ? AND active = 1",
                                       (name.strip(),))
        if row is None:
            raise UnknownUser(name)
        return User(row["id"], row["name"], row["role"])

    @staticmethod
    def _require_another_admin(q: Any, target: User) -> None:
        others = q.scalar("SELECT count(*) FROM user WHERE role = 'admin' AND active = 1 AND id != ?", (target.id,))
        if not others:
            raise InvalidInput(f"'{target.name}' is the archive's last admin: make another user an admin first.")

    def disk_usage(self) -> int:
        """Bytes the archive takes: its stored blobs' file sizes from their catalogue rows (so the
        cost does not grow with the number of photos: no walk of 60,000 files), plus the files
        of the archive folder itself and of the few small folders (pending, quarantine) beside."""
        stored = self.catalogue.scalar(
            "SELECT coalesce(sum(size), 0) + count(*) * ? + coalesce(sum(chunks), 0) * ? FROM blob",
            (HEADER_LEN, TAG_LEN))
        total = int(stored)
        for folder in (self.path, self.path / BLOB_DIR / PENDING_DIR, self.path / QUARANTINE_DIR):
            try:
                with os.scandir(folder) as entries:
                    total += sum(e.stat().st_size for e in entries if e.is_file(follow_symlinks=False))
            except OSError:
                continue  # a folder not there (yet)
        return total


def _full_disk(path: Path) -> str | None:
    """The read-only reason when the archive's disk has (almost) no free space, else None."""
    try:
        free = free_bytes(path)
    except OSError:
        return None
    if free >= LOW_SPACE_BYTES:
        return None
    return (f"The disk holding the archive is full ({free // (1024 * 1024)} MB free). The archive is "
            "open read-only: you can view, verify, export and back up to another disk; free some "
            "space and unlock again to make changes.")


def _require_writable(path: Path) -> None:
    if is_read_only_medium(path):
        raise StorageError(
            f"The archive at {path} is on a read-only disk or folder. DermArchive records every "
            "access in the archive's audit log, so it cannot open it there: copy the archive to a "
            "writable disk (or open a backup with 'dermarchive restore')."
        )


def _check_user_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or any(ord(c) < 32 for c in name):
        raise InvalidInput("A user name must be 1 to 80 printable characters.")
    return name
