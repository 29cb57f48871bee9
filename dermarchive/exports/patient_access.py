"""Patient access: the patient's own copy of their stored photos (DESIGN §4: always allowed).

The files are the stored, cleaned originals exactly as kept (no GPS, no maker notes, no original
file name; date, device and orientation kept, so the patient's photo app sorts and turns them),
named neutrally ``image-0001.jpg``… in capture order, with ``photos.csv`` listing date, kind and
lesion for each. The export is written into a hidden sibling folder (fsync'd) and renamed into
place, so ``out`` holds the whole copy or nothing. The consent policy is asked like every other
export (it always allows ``patient-access``), and the export is audited with ids and counts.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import log
from ..archive import records
from ..archive.fsutil import atomic_write_bytes, describe_os_error, fsync_dir
from ..consent import policy
from ..consent.scopes import PATIENT_ACCESS
from ..errors import Cancelled, InvalidInput, StorageError

EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png"}


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} already exists and is not an empty folder; choose a new folder for the export.")


def export_patient_access(archive: Any, patient_id: int, out: Path | str, *, image_ids: list[int] | None = None,
                          progress: Callable[[int, int, str], None] | None = None,
                          cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Write the patient's stored photos (all, or ``image_ids``) into the new folder ``out``."""
    out = Path(out)
    records.get_patient(archive, patient_id)  # NotFound
    chosen = records.images(archive, patient_id=patient_id, image_ids=image_ids)
    if image_ids is not None:
        missing = sorted(set(image_ids) - {i.id for i in chosen})
        if missing:
            raise InvalidInput(f"Image(s) {', '.join(map(str, missing))} do not belong to this patient.")
    if not chosen:
        raise InvalidInput("This patient has no stored photos to export.")
    _check_out(out)
    policy.require(archive, [i.id for i in chosen], PATIENT_ACCESS)
    lesions = {l.id: l for l in records.lesions(archive, patient_id)}
    tmp = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    total = len(chosen)
    rows = []
    try:
        tmp.mkdir(parents=True)
        for n, image in enumerate(chosen, 1):
            if cancelled is not None and cancelled():
                raise Cancelled("The export")
            name = f"image-{n:04d}{EXTENSIONS.get(image.stored_format, '.bin')}"
            atomic_write_bytes(tmp / name, records.image_bytes(archive, image), action="write the export")
            lesion = lesions.get(image.lesion_id) if image.lesion_id else None
            rows.append([name, image.taken_at or image.visit_date, image.kind,
                         lesion.label if lesion else "", lesion.site_label if lesion else ""])
            if progress:
                progress(n, total, "Exporting photos")
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["file", "taken", "kind", "lesion", "body site"])
        writer.writerows(rows)
        atomic_write_bytes(tmp / "photos.csv", text.getvalue().encode("utf-8"), action="write the export")
        fsync_dir(tmp)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
        fsync_dir(out.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(describe_os_error(exc, "write the export")) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ids = [i.id for i in chosen]
    archive.log_event("export", {"patient": patient_id, "images": ids},
                      {"purpose": PATIENT_ACCESS, "count": total})
    log.exports.info("patient-access export: %d image(s)", total)
    return {"count": total, "out": str(out), "files": [r[0] for r in rows], "purpose": PATIENT_ACCESS}
