"""``archive.json``: the plaintext header (format version, archive id, key slots).

It holds no patient data: only the archive id, user names with their slot ids, KDF parameters,
salts and wrapped master keys. It is rewritten atomically; the previous version is kept as
``archive.json.prev`` so a torn disk still leaves a usable header.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from typing import Any

from ..errors import ArchiveCorrupt, ArchiveNotFound, UnknownUser, WrongPassphrase
from .fsutil import atomic_write_bytes
from .keys import KdfParams, MasterKey, unwrap, wrap

HEADER_NAME = "archive.json"
FORMAT = "dermarchive"
FORMAT_VERSION = 1


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
    wrapped_master: bytes
    created: str

    def aad(self, archive_id: str) -> bytes:
        return f"dermarchive-slot|{archive_id}|{self.slot_id}".encode()

    @classmethod
    def create(cls, user: str, passphrase: str, master: MasterKey, kdf: KdfParams) -> KeySlot:
        slot = cls(secrets.token_hex(8), user, kdf, os.urandom(16), b"", now_iso())
        slot.rewrap(passphrase, master, kdf)
        return slot

    def rewrap(self, passphrase: str, master: MasterKey, kdf: KdfParams) -> None:
        self.kdf = kdf
        self.salt = os.urandom(16)
        kek = kdf.derive(passphrase, self.salt)
        self.wrapped_master = wrap(kek, master.raw, self.aad(master.archive_id))

    def open(self, passphrase: str | bytearray, archive_id: str) -> MasterKey:
        kek = self.kdf.derive(passphrase, self.salt)
        try:
            key = unwrap(kek, self.wrapped_master, self.aad(archive_id))
        except InvalidTag:
            raise WrongPassphrase(self.user) from None
        return MasterKey(key, archive_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.slot_id,
            "user": self.user,
            "kdf": self.kdf.as_json(),
            "salt": _b64(self.salt),
            "wrapped_master": _b64(self.wrapped_master),
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeySlot:
        return cls(
            slot_id=str(data["id"]),
            user=str(data["user"]),
            kdf=KdfParams.from_json(data["kdf"]),
            salt=_unb64(data["salt"]),
            wrapped_master=_unb64(data["wrapped_master"]),
            created=str(data.get("created", "")),
        )


@dataclass
class Header:
    archive_id: str
    created: str
    slots: list[KeySlot] = field(default_factory=list)
    version: int = FORMAT_VERSION

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
        return {
            "format": FORMAT,
            "version": self.version,
            "archive_id": self.archive_id,
            "created": self.created,
            "slots": [s.as_json() for s in self.slots],
        }

    def save(self, folder: Path) -> None:
        path = folder / HEADER_NAME
        data = json.dumps(self.as_json(), indent=2).encode() + b"\n"
        if path.exists():
            atomic_write_bytes(folder / (HEADER_NAME + ".prev"), path.read_bytes(),
                               action="keep the previous archive header")
        atomic_write_bytes(path, data, action="write the archive header")

    @classmethod
    def load(cls, folder: Path) -> Header:
        path = folder / HEADER_NAME
        if not folder.is_dir():
            raise ArchiveNotFound(f"There is no archive folder at {folder}.")
        if not path.exists():
            if (folder / "catalogue.db").exists():
                raise ArchiveCorrupt(
                    f"The archive header {HEADER_NAME} is missing from {folder}. Without it the "
                    "archive cannot be unlocked: restore it from a backup (or archive.json.prev)."
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
            )
        except ArchiveCorrupt:
            raise
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ArchiveCorrupt(
                f"The archive header {HEADER_NAME} is damaged and cannot be read "
                f"({type(exc).__name__}). Restore it from a backup (or archive.json.prev)."
            ) from None
