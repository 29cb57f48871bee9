"""The catalogue's consent table and the image facts the consent rules need (SQL lives here).

The rules themselves (what a method needs, which purposes a version allows) are
:mod:`dermarchive.consent`'s; this module only reads and appends rows. A consent change never
edits a row: it appends version + 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TYPE_CHECKING

from .archive import Archive
from .catalogue import Row
from .header import now_iso

if TYPE_CHECKING:
    from .catalogue import Transaction

_SELECT = ("SELECT c.*, coalesce(u.name, '') AS recorded_by_name FROM consent c "
           "LEFT JOIN user u ON u.id = c.recorded_by")


def versions(archive: Archive, visit_id: int) -> list[Row]:
    """Every consent row of the visit, oldest first (with ``recorded_by_name``)."""
    return archive.catalogue.query(_SELECT + " WHERE c.visit_id = ? ORDER BY c.version", (visit_id,))


def latest(archive: Archive, visit_id: int) -> Row | None:
    """The visit's newest consent row, or None when none was recorded."""
    return archive.catalogue.query_one(_SELECT + " WHERE c.visit_id = ? ORDER BY c.version DESC LIMIT 1",
                                       (visit_id,))


def latest_of_visits(archive: Archive, visit_ids: Iterable[int]) -> list[Row]:
    """The newest consent row of each visit that has one."""
    ids = sorted(set(visit_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return archive.catalogue.query(
        f"SELECT c.visit_id, c.version, c.scopes, c.method, c.withdrawn_at, c.signature_blob_id, "
        f"c.signature_on_paper, c.form_image_id FROM consent c "
        f"WHERE c.visit_id IN ({marks}) AND c.version = "
        f"(SELECT max(version) FROM consent WHERE visit_id = c.visit_id)", ids)


def image_visits_and_kinds(archive: Archive, image_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """image id → (visit id, kind), for the images that exist."""
    ids = sorted(set(image_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = archive.catalogue.query(f"SELECT id, visit_id, kind FROM image WHERE id IN ({marks})", ids)
    return {r["id"]: (r["visit_id"], r["kind"]) for r in rows}


def append_version(archive: Archive, tx: Transaction, visit_id: int, fields: Mapping[str, Any]) -> tuple[int, int]:
    """Append the visit's next consent version inside ``tx``; returns (row id, version)."""
    version = (tx.scalar("SELECT max(version) FROM consent WHERE visit_id = ?", (visit_id,)) or 0) + 1
    row = {"visit_id": visit_id, "version": version, "recorded_by": archive.user.id or None,
           "recorded_at": now_iso(), **fields}
    cols = ", ".join(row)
    cid = tx.insert(f"INSERT INTO consent ({cols}) VALUES ({', '.join(':' + c for c in row)})", row)
    return cid, version


def set_essential_for_care(tx: Transaction, image_id: int, essential: bool) -> None:
    tx.execute("UPDATE image SET essential_for_care = ? WHERE id = ?", (int(essential), image_id))
