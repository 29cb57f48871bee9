"""Consent use cases below both faces: withdrawing a visit's consent, with the deletion that may
follow it here and in the practice PACS.

The consent record itself is :mod:`dermarchive.consent.records`'s; this module adds what a
withdrawal sets off across subjects (the PACS copies, the stored photos), so the consent package
never reaches up into DICOM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import log
from ..archive import dicom_store, records
from ..archive.archive import Archive
from ..consent.records import ConsentVersion, record_consent, record_withdrawal
from ..dicom import pacs
from ..errors import DermArchiveError
from .changes import Changes


@dataclass(frozen=True)
class Withdrawal:
    version: ConsentVersion
    deleted: list[int]
    kept: list[int]
    in_pacs: list[int] = field(default_factory=list)        # deleted photos the PACS had a copy of
    pacs_deleted: list[int] = field(default_factory=list)   # … whose PACS copy is now gone too
    pacs_problem: str | None = None                         # why the others could not be deleted there
    patient_id: int | None = None

    @property
    def changes(self) -> Changes:
        """The patient's page (consent badges); the list's photo counts too when photos went."""
        if self.patient_id is None:
            return Changes()
        return Changes.of_patient(self.patient_id, counts=bool(self.deleted))

    @property
    def left_in_pacs(self) -> list[int]:
        return sorted(set(self.in_pacs) - set(self.pacs_deleted))

    def pacs_lines(self) -> list[str]:
        """What became of the deleted photos' copies in the practice PACS, naming image ids only."""
        if not self.in_pacs:
            return []
        lines: list[str] = []
        if self.pacs_deleted:
            lines.append(f"Also deleted from the practice PACS: image(s) {_ids(self.pacs_deleted)}.")
        if self.left_in_pacs:
            why = self.pacs_problem or "No PACS is set up any more, so none could be deleted there."
            lines.append(f"Still in the practice PACS: image(s) {_ids(self.left_in_pacs)}. {why} "
                         "Ask the PACS administrator to delete them there; their DICOM instance UIDs "
                         "are in the audit log.")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {"visit_id": self.version.visit_id, "version": self.version.version,
                "deleted_images": self.deleted, "kept_images": self.kept,
                "in_pacs": self.in_pacs, "deleted_from_pacs": self.pacs_deleted,
                "left_in_pacs": self.left_in_pacs, "pacs_problem": self.pacs_problem}


def _ids(image_ids: list[int]) -> str:
    return ", ".join(map(str, image_ids))


def delete_pacs_copies(archive: Archive, image_ids: list[int]) -> tuple[list[int], list[int], str | None]:
    """Delete the PACS copies of photos about to be deleted or refiled here (before their UIDs go).

    Returns (sent to the PACS, deleted there, problem). A PACS that cannot be reached, or one that
    is not an Orthanc (DermArchive can delete only there), does not stop the local deletion the
    patient asked for: what is left there is named, and its instance UIDs are kept in the audit log
    so the PACS administrator can remove them.
    """
    in_pacs = sorted(pacs.images_in_pacs(archive, image_ids))
    if not in_pacs:
        return [], [], None
    problem, not_orthanc = None, False
    try:
        deleted = sorted(pacs.delete_from_pacs(archive, in_pacs))
    except pacs.PacsCannotDelete as exc:
        deleted, problem, not_orthanc = [], exc.reason, True
    except DermArchiveError as exc:  # those deleted before it failed are no longer marked as sent
        deleted, problem = sorted(set(in_pacs) - set(pacs.images_in_pacs(archive, in_pacs))), str(exc)
    left = sorted(set(in_pacs) - set(deleted))
    if left:
        uids = dicom_store.known_instance_uids(archive, left)
        details: dict[str, Any] = {"failed": True, "sop_instance_uids": [uids[i] for i in left if i in uids]}
        if not_orthanc:
            details["not_orthanc"] = True
        archive.log_event("pacs.delete", {"images": left}, details)
    return in_pacs, deleted, problem


def record_visit_consent(archive: Archive, visit_id: int, *, form_image_id: int | None = None,
                         **fields: Any) -> ConsentVersion:
    """Record the visit's consent; a form photo chosen for a photographed form is marked as the
    visit's consent form first, and unmarked again if the consent is refused (nothing half-done).

    ``fields`` are :func:`~dermarchive.consent.records.record_consent`'s.
    """
    marked: tuple[int, str] | None = None  # (photo, the kind it had) while marked for this consent
    if form_image_id is not None:
        photo = records.get_image(archive, form_image_id)
        if photo.kind != "consent-form":
            marked = (photo.id, photo.kind)
            records.update_image(archive, photo.id, kind="consent-form")
    try:
        return record_consent(archive, visit_id, form_image_id=form_image_id, **fields)
    except DermArchiveError:
        if marked is not None:
            records.update_image(archive, marked[0], kind=marked[1])
        raise


def withdraw_consent(archive: Archive, visit_id: int, *, reason: str, withdrawn_at: str | None = None,
                     essential: Mapping[int, bool] | None = None,
                     delete_non_essential: bool = False) -> Withdrawal:
    """Withdraw the visit's consent (a new version); optionally delete its non-essential photos.

    ``essential`` updates the photos' "essential for care" marks first (the withdrawal dialog's
    checkboxes). With ``delete_non_essential`` every affected photo not essential for care is
    deleted for real, its PACS copy first; the rest are kept, restricted to the clinical record.
    """
    patient_id = records.get_visit(archive, visit_id).patient_id
    version, doomed, concerned = record_withdrawal(archive, visit_id, reason=reason, withdrawn_at=withdrawn_at,
                                                   essential=essential, delete_non_essential=delete_non_essential)
    in_pacs, pacs_deleted, pacs_problem = delete_pacs_copies(archive, doomed) if doomed else ([], [], None)
    deleted = records.delete_images(archive, doomed, reason="consent withdrawn") if doomed else []
    log.consent.info("consent withdrawn for visit %d: %d photo(s) deleted, %d kept",
                     visit_id, len(deleted), len(concerned) - len(deleted))
    return Withdrawal(version, sorted(deleted), sorted(set(concerned) - set(deleted)),
                      in_pacs, pacs_deleted, pacs_problem, patient_id)
