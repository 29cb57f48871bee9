"""Append-only, HMAC-chained audit log.

Each entry's MAC is ``HMAC-SHA256(audit key, canonical JSON of (seq, at, user, action, subject,
details, prev_mac))`` and ``prev_mac`` is the MAC of the entry before (64 zeros for the first), so
editing, inserting, reordering or deleting an entry breaks the chain from that point; ``verify``
names the first entry that fails. The newest MAC is also kept in the ``setting`` table
(``audit.head``), and outside it in the header and backup manifests (:mod:`.anchor`), so
cutting entries off the end is detected even by someone who can edit the catalogue.

Rule: ``subject`` and ``details`` carry ids and counts only, never names, NHIs or file names.
Callers write entries inside the same transaction as the change they record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from .header import now_iso
from .keys import HeldKey, hmac_hex

if TYPE_CHECKING:
    from .catalogue import Transaction

GENESIS = "0" * 64

# The actions the app records; tests and the GUI's audit viewer rely on these names.
ACTIONS = {
    "archive.create", "unlock", "unlock.failed", "lock", "user.add", "user.passwd", "user.profile",
    "user.remove", "user.reset", "user.role", "audit.acknowledge",
    "patient.add", "patient.update", "patient.view", "patient.delete", "patient.merge", "patient.import",
    "lesion.add", "lesion.update", "visit.add",
    "image.import", "image.view", "image.compare", "image.update", "image.delete", "image.move",
    "image.remove-original", "image.preview",
    "consent.record", "consent.withdraw", "consent.none",
    "export", "export.refused", "backup", "restore", "pacs.send", "pacs.delete", "pacs.set", "verify",
    "settings.letterhead", "sheet.print",
}


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    user: str
    action: str
    subject: dict[str, Any]
    details: dict[str, Any]
    prev_mac: str
    mac: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at, "user": self.user, "action": self.action,
            "subject": self.subject, "details": self.details,
        }


def _canonical(seq: int, at: str, user: str, action: str, subject: str, details: str, prev: str) -> bytes:
    return json.dumps([seq, at, user, action, subject, details, prev], separators=(",", ":")).encode()


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


class AuditLog:
    def __init__(self, key: bytes) -> None:
        self._key = HeldKey(key)

    def forget(self) -> None:
        """Wipe the chain key (the archive is closing); later use raises ArchiveLocked."""
        self._key.forget()

    def append(self, tx: Transaction, user: str, action: str, subject: dict[str, Any] | None = None,
               details: dict[str, Any] | None = None, *, at: str | None = None) -> int:
        """Add one entry inside the caller's transaction ``tx``; returns its seq."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        row = tx.query_one("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (1, GENESIS) if row is None else (row[0] + 1, row[1])
        at = at or now_iso()
        subj, det = _dump(subject or {}), _dump(details or {})
        mac = hmac_hex(self._key.get(), _canonical(seq, at, user, action, subj, det, prev))
        tx.execute(
            "INSERT INTO audit (seq, at, user, action, subject, details, prev_mac, mac) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, user, action, subj, det, prev, mac),
        )
        tx.execute("INSERT OR REPLACE INTO setting (key, value) VALUES ('audit.head', ?)",
                   (f"{seq}:{mac}",))
        return seq

    def entries(self, catalogue: Any, *, action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        sql = "SELECT * FROM audit"
        params: list[Any] = []
        if action:
            sql += " WHERE action = ?"
            params.append(action)
        sql += " ORDER BY seq"
        if limit:
            sql = f"SELECT * FROM ({sql.replace(' ORDER BY seq', ' ORDER BY seq DESC')} LIMIT ?) ORDER BY seq"
            params.append(limit)
        return [
            AuditEntry(r["seq"], r["at"], r["user"], r["action"], json.loads(r["subject"]),
                       json.loads(r["details"]), r["prev_mac"], r["mac"])
            for r in catalogue.query(sql, params)
        ]

    def verify(self, catalogue: Any) -> list[str]:
        """Problems with the chain, one line each naming the entry; empty when whole."""
        problems: list[str] = []
        key = self._key.get()
        prev, expected_seq = GENESIS, 1
        last_mac = GENESIS
        for r in catalogue.query("SELECT * FROM audit ORDER BY seq"):
            seq = r["seq"]
            if seq != expected_seq:
                problems.append(f"audit entry {expected_seq}: missing (next entry is {seq})")
            if r["prev_mac"] != prev:
                problems.append(f"audit entry {seq}: does not follow entry {seq - 1} (chain broken)")
            mac = hmac_hex(key, _canonical(seq, r["at"], r["user"], r["action"], r["subject"],
                                           r["details"], r["prev_mac"]))
            if mac != r["mac"]:
                problems.append(f"audit entry {seq} ({r['action']}): altered (MAC does not match)")
            prev, expected_seq, last_mac = r["mac"], seq + 1, r["mac"]
        head = catalogue.scalar("SELECT value FROM setting WHERE key = 'audit.head'")
        if head is None and expected_seq > 1:
            problems.append("audit log: its head record (setting audit.head) is missing; it was deleted")
        if head is not None:
            head_seq, head_mac = head.split(":", 1)
            if int(head_seq) != expected_seq - 1 or head_mac != last_mac:
                problems.append(f"audit log: entries after {expected_seq - 1} were removed "
                                f"(the log's head says {head_seq})")
        return problems
