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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import log
from ..archive import records
from ..archive.fsutil import check_new_folder, new_folder, write_new_file
from ..consent import policy
from ..consent.scopes import PATIENT_ACCESS
from ..errors import Cancelled, InvalidInput
from ..ingest import jpeg

EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png"}


def _patient_copy(data: bytes, image: Any) -> bytes:
    """The stored copy as it is; a multi-picture JPEG stored before issue 14 leaves as its primary
    image alone (its MPF index and later frames, with their own device and date, stay behind)."""
    if image.stored_format == "MPO":
        return jpeg.clean(data, image.orientation).data
    return data


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
    check_new_folder(out)
    policy.require(archive, [i.id for i in chosen], PATIENT_ACCESS)
    lesions = {l.id: l for l in records.lesions(archive, patient_id)}
    total = len(chosen)
    rows = []
    with new_folder(out) as tmp:
        for n, image in enumerate(chosen, 1):
            if cancelled is not None and cancelled():
                raise Cancelled("The export")
            name = f"image-{n:04d}{EXTENSIONS.get(image.stored_format, '.bin')}"
            write_new_file(tmp / name, _patient_copy(records.image_bytes(archive, image), image))
            lesion = lesions.get(image.lesion_id) if image.lesion_id else None
            rows.append([name, image.taken_at or image.visit_date, image.kind,
                         lesion.label if lesion else "", lesion.site_label if lesion else ""])
            if progress:
                progress(n, total, "Exporting photos")
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["file", "taken", "kind", "lesion", "body site"])
        writer.writerows(rows)
        write_new_file(tmp / "photos.csv", text.getvalue().encode("utf-8"))
    ids = [i.id for i in chosen]
    archive.log_event("export", {"patient": patient_id, "images": ids},
                      {"purpose": PATIENT_ACCESS, "count": total})
    log.exports.info("patient-access export: %d image(s)", total)
    return {"count": total, "out": str(out), "files": [r[0] for r in rows], "purpose": PATIENT_ACCESS}
