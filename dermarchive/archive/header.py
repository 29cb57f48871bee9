"""``archive.json``: the plaintext header (format version, archive id, key slots, audit anchor).

It holds no patient data: only the archive id, user names with their slot ids, KDF parameters,
salts, public keys and sealed master keys, and the audit chain's head (count and MAC, itself
MAC'd with the ``anchor`` key).

Key slots (format 2). Each user has an X25519 key pair: the private key is wrapped by
``Argon2id(passphrase)``, and the master key is *sealed* to the public key. So an admin who holds
the master key can give every remaining user a new master key (user removal) without knowing
their passphrases, and a departed user's old private key opens only the old master key. A
passphrase change makes a new key pair, so the old passphrase opens nothing current. Format-1
slots (master wrapped straight by the passphrase key) still open, and are upgraded at unlock.

Writes are atomic (temp file, fsync, rename), so no previous copy is kept beside it (a copy
would still open with an old passphrase); every change goes through :meth:`Header.update`, which
takes an exclusive lock and re-reads the file before changing it, so two admins at once lose
nothing.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag

from ..errors import ArchiveCorrupt, ArchiveNotFound, UnknownUser, WrongPassphrase
from .fsutil import atomic_write_bytes, exclusive_lock
from .keys import (
    KdfParams,
    MasterKey,
    hmac_hex,
    new_keypair,
    seal,
    unseal,
    unwrap,
    wrap,
)

HEADER_NAME = "archive.json"
HEADER_LOCK_NAME = "archive.json.lock"
NEXT_HEADER_NAME = "archive.json.next"   # a key rotation in progress (see Archive.remove_user)
OLD_COPY_NAMES = ("archive.json.prev",)  # written by earlier versions; removed at the next save
FORMAT = "dermarchive"
FORMAT_VERSION = 2
T = TypeVar("T")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class KeySlot:
    slot_id: str
    user: str
    kdf: KdfParams
    salt: bytes
    created: str
    public: bytes = b""           # format 2: X25519 public key
    wrapped_private: bytes = b""  # format 2: private key wrapped by the passphrase key
    sealed_master: bytes = b""    # format 2: master key sealed to ``public``
    wrapped_master: bytes = b""   # format 1: master key wrapped by the passphrase key

    def aad(self, archive_id: str) -> bytes:
        return f"dermarchive-slot|{archive_id}|{self.slot_id}".encode()

    @classmethod
    def create(cls, user: str, passphrase: str, master: MasterKey, kdf: KdfParams) -> KeySlot:
        slot = cls(secrets.token_hex(8), user, kdf, b"", now_iso())
        slot.rewrap(passphrase, master, kdf)
        return slot

    @property
    def sealable(self) -> bool:
        """True when an admin can give this slot a new master key (format 2)."""
        return bool(self.public)

    def rewrap(self, passphrase: str | bytearray, master: MasterKey, kdf: KdfParams) -> None:
        """New salt, new key pair, master sealed to it: the old passphrase opens nothing of it."""
        self.kdf = kdf
        self.salt = os.urandom(16)
        kek = kdf.derive(passphrase, self.salt)
        private, self.public = new_keypair()
        aad = self.aad(master.archive_id)
        self.wrapped_private = wrap(kek, private, aad + b"|private")
        self.wrapped_master = b""
        self.seal(master)

    def seal(self, master: MasterKey) -> None:
        """Give this slot ``master`` (key rotation): needs only the slot's public key."""
        self.sealed_master = seal(self.public, master.raw, self.aad(master.archive_id))

    def open(self, passphrase: str | bytearray, archive_id: str) -> MasterKey:
        kek = self.kdf.derive(passphrase, self.salt)
        aad = self.aad(archive_id)
        try:
            if self.public:
                private = unwrap(kek, self.wrapped_private, aad + b"|private")
                key = unseal(private, self.sealed_master, aad)
            else:
                key = unwrap(kek, self.wrapped_master, aad)
        except InvalidTag:
            raise WrongPassphrase(self.user) from None
        return MasterKey(key, archive_id)

    def as_json(self) -> dict[str, Any]:
        data = {"id": self.slot_id, "user": self.user, "kdf": self.kdf.as_json(), "salt": _b64(self.salt),
                "created": self.created}
        if self.public:
            data.update(public=_b64(self.public), wrapped_private=_b64(self.wrapped_private),
                        sealed_master=_b64(self.sealed_master))
        else:
            data["wrapped_master"] = _b64(self.wrapped_master)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeySlot:
        return cls(
            slot_id=str(data["id"]),
            user=str(data["user"]),
            kdf=KdfParams.from_json(data["kdf"]),
            salt=_unb64(data["salt"]),
            created=str(data.get("created", "")),
            public=_unb64(data.get("public", "")),
            wrapped_private=_unb64(data.get("wrapped_private", "")),
            sealed_master=_unb64(data.get("sealed_master", "")),
            wrapped_master=_unb64(data.get("wrapped_master", "")),
        )


@dataclass(frozen=True)
class Anchor:
    """The audit chain's head as last seen by an unlocked app: entry ``count`` has MAC ``mac``."""

    count: int
    mac: str
    tag: str

    @staticmethod
    def _tag(master: MasterKey, count: int, mac: str) -> str:
        return hmac_hex(master.subkey("anchor"), f"{master.archive_id}|{count}|{mac}".encode())

    @classmethod
    def make(cls, master: MasterKey, count: int, mac: str) -> Anchor:
        return cls(count, mac, cls._tag(master, count, mac))

    def authentic(self, master: MasterKey) -> bool:
        return hmac.compare_digest(self.tag, self._tag(master, self.count, self.mac))

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "mac": self.mac, "tag": self.tag}

    @classmethod
    def from_json(cls, data: Any) -> Anchor | None:
        if not isinstance(data, dict):
            return None
        return cls(int(data["count"]), str(data["mac"]), str(data["tag"]))


@dataclass
class Header:
    archive_id: str
    created: str
    slots: list[KeySlot] = field(default_factory=list)
    version: int = FORMAT_VERSION
    anchor: Anchor | None = None

    @classmethod
    def new(cls) -> Header:
        return cls(archive_id=secrets.token_hex(16), created=now_iso())

    def slot_for(self, user: str) -> KeySlot:
        wanted = user.strip().casefold()
        for slot in self.slots:
            if slot.user.casefold() == wanted:
                return slot
        raise UnknownUser(user)

    def users(self) -> list[str]:
        return [s.user for s in self.slots]

    def as_json(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "archive_id": self.archive_id,
            "created": self.created,
            "slots": [s.as_json() for s in self.slots],
        }
        if self.anchor is not None:
            data["audit_anchor"] = self.anchor.as_json()
        return data

    def save(self, folder: Path, name: str = HEADER_NAME) -> None:
        """Write atomically. Call through :meth:`update` (lock, re-read) except when creating."""
        data = json.dumps(self.as_json(), indent=2).encode() + b"\n"
        atomic_write_bytes(folder / name, data, action="write the archive header")
        self.version = FORMAT_VERSION
        if name == HEADER_NAME:
            for old in OLD_COPY_NAMES:  # an older copy would still open with old passphrases
                (folder / old).unlink(missing_ok=True)

    @classmethod
    def update(cls, folder: Path, change: Callable[[Header], T]) -> tuple[Header, T]:
        """Lock, re-read, ``change(header)``, write; returns the header written and the result.

        ``change`` may raise to abandon the update (nothing is written).
        """
        with exclusive_lock(folder / HEADER_LOCK_NAME):
            header = cls.load(folder)
            result = change(header)
            header.save(folder)
        return header, result

    @classmethod
    def load(cls, folder: Path, name: str = HEADER_NAME) -> Header:
        path = folder / name
        if not folder.is_dir():
            raise ArchiveNotFound(f"There is no archive folder at {folder}.")
        if not path.exists():
            if (folder / "catalogue.db").exists():
                raise ArchiveCorrupt(
                    f"The archive header {HEADER_NAME} is missing from {folder}. Without it the "
                    "archive cannot be unlocked: restore it from a backup."
                )
            raise ArchiveNotFound(f"{folder} is not a DermArchive archive (no {HEADER_NAME}).")
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError("not a DermArchive header")
            version = int(data["version"])
            if version > FORMAT_VERSION:
                raise ArchiveCorrupt(
                    f"This archive was written by a newer DermArchive (format {version}); "
                    "update the application to open it."
                )
            return cls(
                archive_id=str(data["archive_id"]),
                created=str(data.get("created", "")),
                slots=[KeySlot.from_json(s) for s in data["slots"]],
                version=version,
                anchor=Anchor.from_json(data.get("audit_anchor")),
            )
        except ArchiveCorrupt:
            raise
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ArchiveCorrupt(
                f"The archive header {HEADER_NAME} is damaged and cannot be read "
                f"({type(exc).__name__}). Restore it from a backup."
            ) from None
