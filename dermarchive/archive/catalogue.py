"""The SQLCipher catalogue: keyed connection, hardening pragmas, migrations, transactions.

Opened with a raw 256-bit key (``PRAGMA key = "x'…'"``), so SQLCipher runs no KDF of its own. One
query runs right after keying, because a wrong key only fails on first read. ``temp_store =
MEMORY`` keeps SQLite's temp files (which SQLCipher does not encrypt) off disk.
``cipher_memory_security`` (SQLCipher zeroes freed memory) is on: measured on 50,000 patients,
inserts and a search-as-you-type query cost the same with it on as off.

One connection is shared by the threads of one process and serialised with an ``RLock``:
``with catalogue.transaction() as db:`` for writes, ``catalogue.query(...)`` for reads. The GUI
never holds the lock across slow work (decryption happens outside it, in the blob store).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import sqlcipher3

from .. import log
from ..errors import ArchiveCorrupt, ArchiveLocked, StorageError
from .fsutil import private_opener
from .schema import LATEST, MIGRATIONS

CATALOGUE_NAME = "catalogue.db"
DatabaseError = sqlcipher3.dbapi2.DatabaseError
OperationalError = sqlcipher3.dbapi2.OperationalError
IntegrityError = sqlcipher3.dbapi2.IntegrityError
if TYPE_CHECKING:  # sqlcipher3 ships no types; its Row behaves as the standard library's
    Row: TypeAlias = sqlite3.Row
else:
    Row = sqlcipher3.dbapi2.Row
Params: TypeAlias = "Sequence[Any] | dict[str, Any]"


# The environment's faults, told apart by SQLite's primary result code (never by message text):
# the user can act on each; anything else is a damaged file or a bug and is raised as it is.
_STORAGE_FAULTS = {
    sqlcipher3.dbapi2.SQLITE_FULL: "The disk is full: could not {action}. Nothing was half-written.",
    sqlcipher3.dbapi2.SQLITE_READONLY: "The archive is on a read-only disk or folder: could not {action}.",
    sqlcipher3.dbapi2.SQLITE_IOERR: "The archive's disk is not available: could not {action}.",
    sqlcipher3.dbapi2.SQLITE_CANTOPEN: "The archive's disk is not available: could not {action}.",
}


def _raise_storage(exc: Exception, action: str) -> None:
    """Raise :class:`StorageError` when ``exc`` is the environment's fault (disk full, read-only,
    gone); return for anything else."""
    code = getattr(exc, "sqlite_errorcode", None)
    message = _STORAGE_FAULTS.get(code & 0xFF) if isinstance(code, int) else None
    if message is not None:
        raise StorageError(message.format(action=action)) from exc


def read_only_uri(path: Path) -> str:
    """A URI that opens ``path`` read-only even on a full disk.

    A WAL database opened ``mode=ro`` still needs its ``-shm`` file, which a full disk cannot
    create ("disk I/O error"). When there is neither ``-shm`` nor a non-empty ``-wal`` (no other
    process has the catalogue open, and the last one closed cleanly), every page is in the main
    file, and ``immutable=1`` reads it without creating anything.
    """
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    base = f"{path.resolve().as_uri()}?mode=ro"
    if shm.exists() or (wal.exists() and wal.stat().st_size > 0):
        return base
    return base + "&immutable=1"


class ReadOnlyArchive(StorageError):
    """A write was attempted while the archive is open read-only; the message says why."""


class Catalogue:
    """``read_only`` (a reason) opens the file read-only (a full disk: SQLite cannot even create
    its shared-memory file there); :attr:`blocked` (a reason) refuses writes on an otherwise
    writable catalogue (an unacknowledged audit anchor problem). ``migrate=False`` defers
    migrations until the caller has checked the catalogue (:meth:`migrate`)."""

    def __init__(self, path: Path, key: bytes, *, create: bool = False, read_only: str | None = None,
                 migrate: bool = True) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.closed = False
        self.read_only = read_only
        self.blocked: str | None = None
        if not create and not path.exists():
            raise ArchiveCorrupt(f"The catalogue {CATALOGUE_NAME} is missing from the archive.")
        if create:
            # Made empty and private first: SQLite gives its -wal and -shm files the same mode.
            with open(path, "ab", opener=private_opener):
                pass
        try:
            if read_only:
                self.conn = sqlcipher3.connect(read_only_uri(path), uri=True,
                                               check_same_thread=False, isolation_level=None, timeout=10.0)
            else:
                self.conn = sqlcipher3.connect(
                    str(path), check_same_thread=False, isolation_level=None, timeout=10.0
                )
        except DatabaseError as exc:
            _raise_storage(exc, "open the catalogue")
            raise
        self.conn.row_factory = Row
        try:
            self.conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            self.conn.execute("PRAGMA cipher_memory_security = ON")
            # A wrong key (or a damaged file) fails here, on the first read.
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self.conn.execute("PRAGMA temp_store = MEMORY")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA secure_delete = ON")
            if not read_only:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    log.archive.warning("catalogue journal mode is %s, not WAL", mode)
            self.conn.execute("PRAGMA synchronous = FULL")
        except DatabaseError as exc:
            self.conn.close()
            _raise_storage(exc, "open the catalogue")
            raise ArchiveCorrupt(
                "The catalogue could not be decrypted with this archive's key: catalogue.db is "
                "damaged or belongs to another archive. Restore it from a backup."
            ) from None
        if migrate:
            self.migrate()

    # -- schema -----------------------------------------------------------------------------
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.version()
        if current > LATEST:
            raise ArchiveCorrupt(
                f"This archive's catalogue is of a newer version ({current}) than this "
                f"DermArchive understands ({LATEST}); update the application."
            )
        if self.read_only or self.blocked:
            if current < LATEST:
                log.archive.info("catalogue at schema %d left unmigrated: opened read-only", current)
            return
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction() as db:
                db.executescript_in_tx(sql)
                db.execute(f"PRAGMA user_version = {int(version)}")
            log.archive.info("catalogue migrated to schema %d", version)

    # -- access -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception."""
        if self.read_only or self.blocked:
            raise ReadOnlyArchive(self.read_only or self.blocked or "")
        with self.lock:
            self._live()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except OperationalError as exc:
                _raise_storage(exc, "write to the catalogue")
                raise
            try:
                yield Transaction(self.conn)
                self.conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    self.conn.execute("ROLLBACK")
                except DatabaseError:
                    pass
                if isinstance(exc, OperationalError):
                    _raise_storage(exc, "write to the catalogue")
                raise

    def _live(self) -> None:
        """A background read still running when the archive locks gets the app's own error,
        not sqlcipher's 'closed database' (call with the lock held)."""
        if self.closed:
            raise ArchiveLocked()

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self.lock:
            self._live()
            rows: list[Row] = self.conn.execute(sql, params).fetchall()
            return rows

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        with self.lock:
            self._live()
            row: Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    def integrity_problems(self) -> list[str]:
        with self.lock:
            rows = self.conn.execute("PRAGMA integrity_check").fetchall()
            fk = self.conn.execute("PRAGMA foreign_key_check").fetchall()
        problems = [f"catalogue: {r[0]}" for r in rows if r[0] != "ok"]
        problems += [f"catalogue: {r[0]} row {r[1]} refers to a missing {r[2]} row" for r in fk]
        return problems

    def has_table(self, name: str) -> bool:
        return self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    def rekey(self, key: bytes) -> None:
        """Re-encrypt the whole catalogue under ``key`` (SQLCipher ``PRAGMA rekey``)."""
        if self.read_only or self.blocked:
            raise ReadOnlyArchive(self.read_only or self.blocked or "")
        with self.lock:
            try:
                self.conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")
                self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except DatabaseError as exc:
                _raise_storage(exc, "re-encrypt the catalogue")
                raise

    def checkpoint(self) -> None:
        with self.lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self.lock:
            self.closed = True
            try:
                if not self.read_only:
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except DatabaseError:
                pass
            self.conn.close()


class Transaction:
    """What a transaction body sees: execute/fetch helpers over the locked connection
    (``with archive.transaction() as tx``; committed at the end, rolled back on any exception)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> Any:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, seq: Any) -> Any:
        return self.conn.executemany(sql, seq)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; split instead so the migration stays atomic.
        for statement in _split_sql(script):
            self.conn.execute(statement)

    def insert(self, sql: str, params: Params = ()) -> int:
        rowid = self.conn.execute(sql, params).lastrowid
        assert rowid is not None, "an INSERT always sets lastrowid"
        return rowid

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self.conn.execute(sql, params).fetchall()
        return rows

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def _split_sql(script: str) -> list[str]:
    statements, buf = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0]
        buf.append(stripped)
        if stripped.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if sqlcipher3.complete_statement(stmt):
                statements.append(stmt)
                buf = []
    rest = "\n".join(buf).strip()
    if rest:
        statements.append(rest)
    return statements
