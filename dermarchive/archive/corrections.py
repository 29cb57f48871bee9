"""The catalogue side of correcting the record: where a photo is filed, merging two patients,
registering many patients at once.

Each function works inside the caller's transaction (``tx``) and writes no audit entry: the use
cases in :mod:`dermarchive.workflows.corrections` decide what is allowed, write the audit entry
with the reason and the ids before and after, and deal with the PACS. SQL lives here only.
"""

from __future__ import annotations

from typing import Any

from .header import now_iso


def visit_on(tx: Any, patient_id: int, day: str) -> int | None:
    """The patient's first visit on ``day`` (YYYY-MM-DD), if there is one."""
    found = tx.scalar("SELECT id FROM visit WHERE patient_id = ? AND date = ? ORDER BY id LIMIT 1",
                      (patient_id, day[:10]))
    return int(found) if found is not None else None


def consent_evidence_of(tx: Any, image_ids: list[int]) -> list[int]:
    """Those of ``image_ids`` that are the photographed form of some consent record."""
    if not image_ids:
        return []
    marks = ",".join("?" * len(image_ids))
    return sorted({r[0] for r in tx.query(
        f"SELECT DISTINCT form_image_id FROM consent WHERE form_image_id IN ({marks})", list(image_ids))})


def file_image(tx: Any, image_id: int, visit_id: int, lesion_id: int | None) -> None:
    """File one photo under a visit and a lesion (or none)."""
    tx.execute("UPDATE image SET visit_id = ?, lesion_id = ? WHERE id = ?", (visit_id, lesion_id, image_id))


def drop_empty_visits(tx: Any, visit_ids: list[int]) -> list[int]:
    """Remove those of ``visit_ids`` that hold no photo and no consent (a visit a move made and
    its undo emptied again); returns the ids removed."""
    gone = []
    for vid in visit_ids:
        if not tx.scalar("SELECT 1 FROM image WHERE visit_id = ? UNION ALL SELECT 1 FROM consent WHERE visit_id = ?",
                         (vid, vid)):
            tx.execute("DELETE FROM visit WHERE id = ?", (vid,))
            gone.append(vid)
    return gone


def forget_dicom_instance(tx: Any, image_ids: list[int]) -> None:
    """Drop the DICOM instance UIDs of photos that changed patient or study: sent again, they get
    new UIDs under the right study, so a PACS never sees one UID with two patients."""
    if image_ids:
        tx.execute(f"DELETE FROM dicom_instance WHERE image_id IN ({','.join('?' * len(image_ids))})",
                   list(image_ids))


def merge_patients(tx: Any, from_id: int, into_id: int) -> dict[str, Any]:
    """Move every visit and lesion of ``from_id`` to ``into_id``, then remove ``from_id``.

    Visits keep their own consent (a visit is what a consent covers), so nothing is re-consented.
    A lesion whose label the other patient already uses is relabelled ``L1 (2)`` and so on:
    two lesions that happen to share a label are not the same lesion. Returns the ids moved and
    the relabelled lesion ids.
    """
    visits = [r[0] for r in tx.query("SELECT id FROM visit WHERE patient_id = ? ORDER BY id", (from_id,))]
    taken = {r[0].casefold() for r in tx.query("SELECT label FROM lesion WHERE patient_id = ?", (into_id,))}
    relabelled: list[int] = []
    lesions = tx.query("SELECT id, label FROM lesion WHERE patient_id = ? ORDER BY id", (from_id,))
    for row in lesions:
        label = row["label"]
        if label.casefold() in taken:
            n = 2
            while f"{label} ({n})".casefold() in taken:
                n += 1
            label = f"{label} ({n})"
            relabelled.append(row["id"])
        taken.add(label.casefold())
        tx.execute("UPDATE lesion SET patient_id = ?, label = ? WHERE id = ?", (into_id, label, row["id"]))
    tx.execute("UPDATE visit SET patient_id = ? WHERE patient_id = ?", (into_id, from_id))
    moved = [r[0] for r in tx.query(
        f"SELECT id FROM image WHERE visit_id IN ({','.join('?' * len(visits))}) ORDER BY id",
        visits)] if visits else []
    tx.execute("DELETE FROM patient WHERE id = ?", (from_id,))
    return {"visits": visits, "lesions": [r["id"] for r in lesions], "images": moved,
            "relabelled_lesions": relabelled}


def register_patients(tx: Any, rows: list[tuple[str, str, str, str | None]]) -> tuple[list[int], list[str]]:
    """Insert (nhi, family, given, dob) rows whose NHI is new; returns (new ids, NHIs already there)."""
    added: list[int] = []
    existing: list[str] = []
    for nhi, family, given, dob in rows:
        if tx.scalar("SELECT 1 FROM patient WHERE nhi = ?", (nhi,)):
            existing.append(nhi)
            continue
        added.append(int(tx.insert(
            "INSERT INTO patient (nhi, family, given, dob, created_at) VALUES (?, ?, ?, ?, ?)",
            (nhi, family, given, dob, now_iso()))))
    return added, existing
