"""Print a photo consent sheet for a patient of an archive: the next serial, the code, the audit."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ..archive import records
from ..archive.fsutil import atomic_write_bytes
from ..errors import InvalidInput
from .pdf import render_sheet, sheet_content

SERIAL_SETTING = "sheet.last_serial"
MAX_LESION_LABELS = 45


def sheet_key(archive: Any) -> bytes:
    return bytes(archive.master.subkey("sheet"))


def _check_visit_date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise InvalidInput(f"The visit date must be a date like 2026-03-14 (got '{text}').") from None


def _check_labels(lesions: list[str]) -> list[str]:
    labels: list[str] = []
    for raw in lesions:
        label = raw.strip()
        if not label:
            raise InvalidInput("A lesion label cannot be empty.")
        if len(label.encode("utf-8")) > 40:
            raise InvalidInput(f"The lesion label '{label[:20]}…' is too long for its code (40 bytes at most).")
        if label not in labels:
            labels.append(label)
    if len(labels) > MAX_LESION_LABELS:
        raise InvalidInput(f"At most {MAX_LESION_LABELS} lesion labels fit on one sheet's label pages.")
    return labels


def print_sheet(archive: Any, nhi: str, *, visit_date: str | None = None, lesions: list[str] | None = None) -> bytes:
    """PDF bytes of a new sheet for the patient with ``nhi`` (NotFound if not in the archive).

    Each sheet gets the next serial of the archive (kept in its settings), so two sheets of one
    patient are told apart; printing is audited with ids and counts only."""
    patient = records.patient_by_nhi(archive, nhi)
    day = _check_visit_date(visit_date)
    labels = _check_labels(lesions or [])
    with archive.transaction() as tx:
        serial = int(archive.setting(SERIAL_SETTING, 0)) + 1  # read under the write lock
        archive.set_setting(tx, SERIAL_SETTING, serial)
        archive.record(tx, "sheet.print", {"patient": patient.id},
                       {"serial": serial, "visit_date_given": day is not None, "lesion_labels": len(labels)})
    content = sheet_content(archive.archive_id, sheet_key(archive), patient_name=patient.display_name,
                            nhi=patient.nhi, dob=patient.dob, visit_date=day, serial=serial, lesions=labels)
    return render_sheet(content)


def save_sheet(archive: Any, nhi: str, out: Path, *, visit_date: str | None = None,
               lesions: list[str] | None = None) -> int:
    """Print the sheet into ``out`` (written whole or not at all); its size in bytes."""
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise InvalidInput("The sheet is a PDF: give a file name ending in .pdf.")
    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name ending in .pdf.")
    if not out.parent.is_dir():
        raise InvalidInput(f"The folder {out.parent} does not exist.")
    pdf = print_sheet(archive, nhi, visit_date=visit_date, lesions=lesions)
    atomic_write_bytes(out, pdf, action="write the consent sheet")
    return len(pdf)
