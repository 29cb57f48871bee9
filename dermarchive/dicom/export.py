"""``dermarchive dicom``: a patient's photos as DICOM files with a DICOMDIR (USB stick or CD).

Consent: every image needs ``clinical.documentation`` (asked through the consent policy before a
byte is written; a refusal names each image and the scope it lacks). The output folder is the
user's explicit export, so it is the only place plaintext is written: the DICOMDIR builder's
staging folder is created inside it and removed afterwards (never in the system temp folder).

Layout (PS3.10 / PS3.11 file IDs: at most 8 upper-case characters, no extensions):
``OUT/DICOMDIR`` and ``OUT/PT000000/ST000000/SE000000/IM000000`` …
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.fileset import FileSet

from .. import log
from ..archive import records
from ..archive.fsutil import make_private, private_mkdir
from ..consent import policy
from ..errors import Cancelled, InvalidInput, StorageError
from .build import EXPORTABLE_KINDS, Instance, build_instance
from .pixels import jpegtran_missing_note

PURPOSE = "clinical.documentation"
Progress = Callable[[int, int, str], None]


def images_for_dicom(archive: Any, patient_id: int, image_ids: list[int] | None = None) -> list[records.ImageRecord]:
    """The patient's clinical/dermoscopic photos, or exactly ``image_ids`` (checked to be theirs)."""
    if image_ids:
        found = {i.id: i for i in records.images(archive, image_ids=list(image_ids))}
        foreign = [i for i in image_ids if i not in found or found[i].patient_id != patient_id]
        if foreign:
            raise InvalidInput(f"Image(s) {', '.join(map(str, foreign))} are not this patient's photos.")
        wrong = [i for i in image_ids if found[i].kind not in EXPORTABLE_KINDS]
        if wrong:
            raise InvalidInput(f"Image(s) {', '.join(map(str, wrong))} are consent forms, not clinical photos; "
                               "they are not exported to DICOM.")
        return [found[i] for i in dict.fromkeys(image_ids)]
    chosen = records.images(archive, patient_id=patient_id, kinds=EXPORTABLE_KINDS)
    if not chosen:
        raise InvalidInput("This patient has no clinical or dermoscopic photos to export.")
    return chosen


def build_instances(archive: Any, images: list[records.ImageRecord], *, progress: Progress | None = None,
                    cancelled: Callable[[], bool] | None = None, what: str = "Preparing") -> list[Instance]:
    out = []
    for n, image in enumerate(images):
        if cancelled and cancelled():
            raise Cancelled("The DICOM export")
        if progress:
            progress(n, len(images), f"{what} image {n + 1} of {len(images)}")
        out.append(build_instance(archive, image))
    return out


UNKNOWN_STUDY_TIME = "000000"


class _StagedFileSet(FileSet):
    """pydicom's FileSet stages added instances in the system temp folder; ours stages them
    inside the export folder (the one place the user chose to put plaintext)."""

    def __init__(self, stage_parent: Path) -> None:
        super().__init__()
        self._stage["t"].cleanup()
        self._stage["t"] = tempfile.TemporaryDirectory(prefix=".staging-", dir=stage_parent)
        self._stage["path"] = Path(self._stage["t"].name)

    def _recordify(self, ds: Any) -> Any:
        """The DICOMDIR's STUDY record needs a Study Time (type 1) where the instance may leave it
        empty (type 2: a visit whose photos have no camera time). Only the directory record gets
        a placeholder ("000000", midnight); the instance itself keeps its empty, truthful value."""
        if ds.get("StudyTime"):
            yield from super()._recordify(ds)
            return
        # The records copy the value; FileSet.add saves the instance only after they are made.
        ds.StudyTime = UNKNOWN_STUDY_TIME
        try:
            yield from super()._recordify(ds)
        finally:
            ds.StudyTime = ""


def export_dicom(archive: Any, patient_id: int, out: Path | str, *, image_ids: list[int] | None = None,
                 progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Write the DICOM files and DICOMDIR into ``out`` (new or empty); return a summary."""
    out = Path(out)
    images = images_for_dicom(archive, patient_id, image_ids)
    policy.require(archive, [i.id for i in images], PURPOSE)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} is not an empty folder; choose a new or empty folder for the DICOM export.")
    instances = build_instances(archive, images, progress=progress, cancelled=cancelled)
    created = not out.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        private_mkdir(out, exist_ok=True)  # patient images inside: 0700 whatever the umask
        make_private(out)
        fileset = _StagedFileSet(out)
        fileset.ID = "DERMARCHIVE"
        for n, inst in enumerate(instances):
            if cancelled and cancelled():
                raise Cancelled("The DICOM export")
            if progress:
                progress(n, len(instances), f"Writing image {n + 1} of {len(instances)}")
            fileset.add(inst.dataset)
        fileset.write(out)
        files = {str(i.SOPInstanceUID): i.FileID for i in fileset}
        fileset._stage["t"].cleanup()
    except OSError as exc:
        _discard(out, created)
        raise StorageError(f"Could not write the DICOM export to {out}: {exc.strerror or exc}.") from None
    except BaseException:
        _discard(out, created)
        raise
    routes = Counter(inst.pixels.route for inst in instances)
    without_jpegtran = sum(inst.pixels.without_jpegtran for inst in instances)
    with archive.transaction() as tx:
        archive.record(tx, "export", {"patient": patient_id, "images": [i.id for i in images]},
                       {"format": "dicom", "purpose": PURPOSE, "count": len(images), "routes": dict(routes)})
    if progress:
        progress(len(instances), len(instances), "Done")
    log.exports.info("DICOM export: %d image(s), routes %s", len(images), dict(routes))
    return {
        "count": len(instances),
        "folder": str(out),
        "dicomdir": str(out / "DICOMDIR"),
        "routes": dict(routes),
        "notes": [jpegtran_missing_note(without_jpegtran)] if without_jpegtran else [],
        "images": [{"id": inst.image_id, "sop_instance_uid": inst.sop_instance_uid,
                    "study_instance_uid": inst.study_uid, "route": inst.pixels.route,
                    **({"note": inst.pixels.note} if inst.pixels.note else {}),
                    "file": files.get(inst.sop_instance_uid, "")} for inst in instances],
    }


def _discard(out: Path, created: bool) -> None:
    """Remove a half-written export (the folder itself only if this export created it)."""
    if not out.exists():
        return
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
