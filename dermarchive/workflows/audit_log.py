"""The audit log as the administrator reads it: filtered by patient, user, action and date, and
exported as CSV. Entries carry ids only (never names or NHIs); a patient is chosen by NHI here and
matched by id."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import nhi as nhi_mod
from ..archive import records
from ..archive.archive import Archive
from ..archive.audit import ACTIONS, AuditEntry
from ..archive.verify import verify
from ..errors import InvalidInput

COLUMNS = ("seq", "at", "user", "action", "subject", "details")


@dataclass(frozen=True)
class AuditFilter:
    patient_nhi: str = ""
    user: str = ""
    action: str = ""
    since: str = ""    # YYYY-MM-DD, inclusive
    until: str = ""    # YYYY-MM-DD, inclusive


def _mentions(entry: AuditEntry, patient_id: int) -> bool:
    subject = entry.subject
    if subject.get("patient") == patient_id or subject.get("merged_from") == patient_id:
        return True
    return patient_id in (subject.get("patients") or [])


def entries(archive: Archive, wanted: AuditFilter = AuditFilter()) -> list[AuditEntry]:
    """Audit entries matching every given filter, oldest first."""
    patient_id = None
    if wanted.patient_nhi.strip():
        patient_id = records.patient_by_nhi(archive, nhi_mod.normalise(wanted.patient_nhi)).id
    if wanted.action and wanted.action not in ACTIONS:
        raise InvalidInput(f"Unknown audit action '{wanted.action}'.")
    found = []
    for e in archive.audit.entries(archive.catalogue, action=wanted.action or None):
        day = e.at[:10]
        if wanted.user and e.user.casefold() != wanted.user.casefold():
            continue
        if (wanted.since and day < wanted.since) or (wanted.until and day > wanted.until):
            continue
        if patient_id is not None and not _mentions(e, patient_id):
            continue
        found.append(e)
    return found


def users_and_actions(archive: Archive) -> tuple[list[str], list[str]]:
    users = sorted({r[0] for r in archive.catalogue.query("SELECT DISTINCT user FROM audit")}, key=str.casefold)
    return users, sorted(ACTIONS)


def write_csv(archive: Archive, found: Iterable[AuditEntry], path: Path) -> int:
    """Write entries as CSV (UTF-8, one column per field, ids as JSON); audited as an export."""
    rows = list(found)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for e in rows:
            out.writerow([e.seq, e.at, e.user, e.action, json.dumps(e.subject, sort_keys=True),
                          json.dumps(e.details, sort_keys=True, ensure_ascii=False)])
    archive.log_event("export", {}, {"what": "audit-log", "entries": len(rows)})
    return len(rows)


def verify_archive(archive: Archive, progress: Callable[[int, int, str], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> list[str]:
    return verify(archive, progress, cancelled)
