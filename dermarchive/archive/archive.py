"""The archive as a whole: create, unlock, users and key slots, blobs, audit, lock.

An :class:`Archive` is an *unlocked* archive: it holds the master key, the open catalogue and the
blob store. ``close()`` (also what "lock" does) checkpoints the catalogue and forgets the keys.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TYPE_CHECKING

from .. import log
from ..errors import (ArchiveExists, ArchiveLocked, InvalidInput, NotFound, PermissionDenied,
                      StorageError, WrongPassphrase)
from . import unlock_failures
from .audit import AuditLog
from .blobs import BlobRef, BlobStore
from .catalogue import CATALOGUE_NAME, Catalogue
from .fsutil import describe_os_error
from .header import Header, KeySlot, now_iso
from .keys import KdfParams, MasterKey, calibrate, check_passphrase_policy

if TYPE_CHECKING:
    from .catalogue import Transaction

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
        self.fh = None
        self.alone = False
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: never sweep, never claim to be alone
            return
        try:
            self.fh = open(folder / LOCK_NAME, "a+b")
        except OSError:
            return  # read-only medium: no lock, no sweep
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.alone = True
        except OSError:
            fcntl.flock(self.fh, fcntl.LOCK_SH)

    def share(self) -> None:
        if self.fh is not None and self.alone:
            import fcntl
            fcntl.flock(self.fh, fcntl.LOCK_SH)

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


class Archive:
    def __init__(self, path: Path, header: Header, master: MasterKey, user_name: str) -> None:
        self.path = path
        self.header = header
        self._master: MasterKey | None = master
        self._plock = _ProcessLock(path)
        try:
            self.catalogue = Catalogue(path / CATALOGUE_NAME, master.subkey("catalogue"),
                                       create=not (path / CATALOGUE_NAME).exists())
        except BaseException:
            self._plock.release()
            raise
        self.blobs = BlobStore(path, master)
        self.audit = AuditLog(master.subkey("audit"))
        self.swept = 0
        row = self.catalogue.query_one("SELECT id, name, role FROM user WHERE name = ?", (user_name,))
        self.user = User(row["id"], row["name"], row["role"]) if row else User(0, user_name, "admin")
        if self._plock.alone:
            known = {r[0] for r in self.catalogue.query("SELECT id FROM blob")}
            self.swept = self.blobs.sweep(known)
            self._plock.share()

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
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(describe_os_error(exc, f"create the archive folder {path}")) from None
        try:
            header = Header.new()
            master = MasterKey.generate(header.archive_id)
            slot = KeySlot.create(user, passphrase, master, kdf or calibrate())
            header.slots.append(slot)
            archive = cls(path, header, master, user)
            with archive.catalogue.transaction() as tx:
                uid = tx.insert("INSERT INTO user (name, role, slot_id, created_at) VALUES (?, ?, ?, ?)",
                                (user, role, slot.slot_id, now_iso()))
                archive.user = User(uid, user, role)
                archive.audit.append(tx, user, "archive.create", {"user": uid}, {"format": header.version})
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
        header = Header.load(path)
        slot = header.slot_for(user)
        try:
            master = slot.open(passphrase, header.archive_id)
        except WrongPassphrase:
            unlock_failures.note(header.archive_id, slot.user, "wrong passphrase")
            log.archive.info("unlock failed for slot %s", slot.slot_id)
            raise
        _require_writable(path)
        archive = cls(path, header, master, slot.user)
        with archive.catalogue.transaction() as tx:
            for failed in unlock_failures.pending(header.archive_id):
                archive.audit.append(tx, failed.get("user", "?"), "unlock.failed", {},
                                     {"reason": failed.get("reason", "")}, at=failed.get("at"))
            archive.audit.append(tx, archive.user.name, "unlock", {"user": archive.user.id},
                                 {"swept": archive.swept} if archive.swept else {})
        unlock_failures.clear(header.archive_id)
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
        if reason:
            try:
                with self.transaction() as tx:
                    self.record(tx, "lock", {"user": self.user.id}, {"reason": reason})
            except Exception:  # noqa: BLE001 - locking must always succeed
                log.archive.exception("could not audit lock")
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
        with self.transaction() as tx:
            return self.record(tx, action, subject, details)

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
        if tx.scalar("SELECT 1 FROM blob WHERE id = ?", (ref.id,)) and self.blobs.exists(ref.id):
            self.blobs.discard(ref)
            return ref.id
        self.blobs.place(ref)
        tx.execute("INSERT OR REPLACE INTO blob (id, wrapped_key, size, chunks, created_at) "
                   "VALUES (?, ?, ?, ?, ?)", (ref.id, ref.wrapped_key, ref.size, ref.chunks, now_iso()))
        return ref.id

    def blob_ref(self, blob_id: str) -> BlobRef:
        row = self.catalogue.query_one("SELECT id, wrapped_key, size, chunks FROM blob WHERE id = ?", (blob_id,))
        if row is None:
            raise NotFound("That stored image no longer exists in the archive.")
        return BlobRef(row["id"], bytes(row["wrapped_key"]), row["size"], row["chunks"])

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
                for r in self.catalogue.query("SELECT id, name, role FROM user ORDER BY name")]

    def add_user(self, name: str, role: str, passphrase: str, *, kdf: KdfParams | None = None) -> User:
        self.require_role("admin", action="add users")
        name = _check_user_name(name)
        if role not in ROLES:
            raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        if any(u.casefold() == name.casefold() for u in self.header.users()):
            raise InvalidInput(f"There is already a user called '{name}'.")
        check_passphrase_policy(passphrase)
        slot = KeySlot.create(name, passphrase, self.master, kdf or calibrate())
        with self.transaction() as tx:
            uid = tx.insert("INSERT INTO user (name, role, slot_id, created_at) VALUES (?, ?, ?, ?)",
                            (name, role, slot.slot_id, now_iso()))
            self.record(tx, "user.add", {"user": uid}, {"role": role})
            self.header.slots.append(slot)
            try:
                self.header.save(self.path)
            except BaseException:
                self.header.slots.remove(slot)
                raise
        return User(uid, name, role)

    def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Rewrap this user's slot only; nothing else is re-encrypted."""
        slot = self.header.slot_for(self.user.name)
        slot.open(old, self.archive_id)  # raises WrongPassphrase
        check_passphrase_policy(new)
        saved = (slot.kdf, slot.salt, slot.wrapped_master)
        slot.rewrap(new, self.master, kdf or calibrate())
        try:
            with self.transaction() as tx:
                self.record(tx, "user.passwd", {"user": self.user.id})
                self.header.save(self.path)
        except BaseException:
            slot.kdf, slot.salt, slot.wrapped_master = saved
            raise

    def disk_usage(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.path):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        return total


def _require_writable(path: Path) -> None:
    read_only = not os.access(path, os.W_OK)
    try:
        read_only = read_only or bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # pragma: no cover - no statvfs on Windows
        pass
    if read_only:
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
