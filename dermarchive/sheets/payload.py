"""What the codes on a photo consent sheet say, and the MAC that proves which archive printed them.

A sheet's code reads ``DA1:S:<archive id (first 16 hex)>:<NHI>:<YYYYMMDD or ->:<serial>:<MAC>``; a lesion label's
``DA1:L:<archive id>:<serial>:<label as UTF-8 hex>:<MAC>`` (no NHI: a lesion photo may leave
the clinic de-identified, and the serial already ties the label to its sheet and patient). Every character is in the QR
alphanumeric set (digits, capitals, ``:`` and ``-``), so the code stays small for its error
correction. The MAC is HMAC-SHA256 under the archive's ``sheet`` sub-key over everything before
it, cut to 80 bits and written in base32: a sheet from another archive (its id differs) or an
altered one (the MAC fails) is recognised and never sorts photos into a patient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

PREFIX = "DA1"
MAC_BYTES = 10
ID_CHARS = 16  # the archive id's first 64 bits: tells archives apart and keeps the code small

@dataclass(frozen=True)
class SheetCode:
    """A sheet's code, as printed (``visit_date`` None: the visit is dated by the photos)."""

    archive_id: str
    nhi: str
    visit_date: str | None
    serial: int


@dataclass(frozen=True)
class LesionCode:
    """A per-lesion label's code (photographed beside the lesion)."""

    archive_id: str
    serial: int
    label: str


class CodeProblem(Exception):
    """A DermArchive code that cannot be trusted: ``kind`` is ``foreign`` (another archive) or
    ``unreadable`` (malformed or altered); the message is plain words for the nurse."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def encode_sheet(code: SheetCode, key: bytes) -> str:
    day = code.visit_date.replace("-", "") if code.visit_date else "-"
    body = f"{PREFIX}:S:{code.archive_id[:ID_CHARS].upper()}:{code.nhi.upper()}:{day}:{code.serial}"
    return f"{body}:{_mac(key, body)}"


def encode_lesion(code: LesionCode, key: bytes) -> str:
    label = code.label.encode("utf-8").hex().upper()
    body = f"{PREFIX}:L:{code.archive_id[:ID_CHARS].upper()}:{code.serial}:{label}"
    return f"{body}:{_mac(key, body)}"


def is_ours(text: str) -> bool:
    """True for any DermArchive code (of this archive or another); other QR codes are not sheets."""
    return text.startswith(PREFIX + ":")


def decode(text: str, archive_id: str, key: bytes) -> SheetCode | LesionCode:
    """The code of ``text``, checked against this archive; raises :class:`CodeProblem`."""
    parts = text.strip().split(":")
    if len(parts) < 3 or parts[0] != PREFIX:
        raise CodeProblem("unreadable", "the code on the sheet is not a DermArchive code")
    if parts[2] != archive_id[:ID_CHARS].upper():
        raise CodeProblem("foreign", "the sheet was printed by another archive")
    body, mac = ":".join(parts[:-1]), parts[-1]
    if not hmac.compare_digest(_mac(key, body), mac):
        raise CodeProblem("unreadable", "the sheet's code does not match this archive's signature "
                                        "(altered, or printed before the archive's keys changed)")
    try:
        if parts[1] == "S" and len(parts) == 7:
            day = None if parts[4] == "-" else date(int(parts[4][:4]), int(parts[4][4:6]), int(parts[4][6:]))
            return SheetCode(archive_id, parts[3], day.isoformat() if day else None, int(parts[5]))
        if parts[1] == "L" and len(parts) == 6:
            return LesionCode(archive_id, int(parts[3]), bytes.fromhex(parts[4]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        pass
    raise CodeProblem("unreadable", "the sheet's code is malformed")
