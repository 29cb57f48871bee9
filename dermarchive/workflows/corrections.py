"""Correcting the record: edit, merge and register patients; move, delete photos; edit lesions.

Used by the ``patient``/``image``/``lesion`` commands and by the main window's dialogs alike, so
each rule lives here once:

* **Every correction needs a reason** and is audited with it and with the ids before and after
  (never names, NHIs or file names).
* **Roles.** Filing corrections that a nurse makes every day and that can be undone (register or
  edit a patient's name and date of birth, move a photo, edit a lesion) are open to every role.
  What cannot be undone, or re-identifies a whole record, needs a clinician or an admin: deleting
  photos (crypto-erasure), merging two patients, and changing a patient's NHI.
* **A photo moved to another patient** joins that patient's visit of the same day (or a new visit
  on that day) and so falls under *that* visit's consent; it never carries the first patient's
  consent with it. A photo that is the signed consent form of its visit stays with its visit.
* **The PACS.** A photo whose copy is in the practice PACS gets that copy corrected: deleted there
  (Orthanc) and sent again under the right patient. Where that cannot be done, the result names
  the photos for the PACS administrator (and the audit log keeps their instance UIDs).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import log
from .. import nhi as nhi_mod
from ..archive import corrections as catalogue_corrections
from ..archive import dicom_store, records
from ..archive.archive import Archive
from ..dicom import pacs
from ..errors import DermArchiveError, InvalidInput, NotFound
from .consent import delete_pacs_copies

CORRECTORS = ("clinician", "admin")  # who may delete photos, merge patients and change an NHI


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"{what} needs a reason (it is kept in the audit log).")
    return reason


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids))


# -- the PACS copy -----------------------------------------------------------------------------
@dataclass
class PacsCorrection:
    """What became of the PACS copies of corrected photos (image ids only)."""

    in_pacs: list[int] = field(default_factory=list)     # had a copy in the PACS
    deleted: list[int] = field(default_factory=list)     # … deleted there
    resent: list[int] = field(default_factory=list)      # … and sent again, correctly filed
    problem: str | None = None                           # why some could not be deleted there
    send_problem: str | None = None                      # why some could not be sent again

    @property
    def left(self) -> list[int]:
        """Photos whose wrong copy is still in the PACS: its administrator must remove them."""
        return sorted(set(self.in_pacs) - set(self.deleted))

    @property
    def not_sent_again(self) -> list[int]:
        return sorted(set(self.deleted) - set(self.resent))

    def lines(self, deleting: bool = False) -> list[str]:
        out = []
        if deleting and self.deleted:
            out.append(f"Also deleted from the practice PACS: image(s) {_ids(self.deleted)}.")
        if self.resent:
            out.append(f"Corrected in the practice PACS (deleted and sent again): image(s) {_ids(self.resent)}.")
        if self.not_sent_again and not deleting:
            why = f" {self.send_problem}" if self.send_problem else ""
            out.append(f"Removed from the practice PACS but not sent again: image(s) {_ids(self.not_sent_again)}.{why} "
                       "Send them from their new record when that is allowed.")
        if self.left:
            why = self.problem or "No PACS is set up any more."
            where = "Still in the practice PACS" + ("" if deleting else " under the old details")
            out.append(f"{where}: image(s) {_ids(self.left)}. {why} Ask the PACS administrator to remove them "
                       "there; their DICOM instance UIDs are in the audit log.")
        return out

    def as_json(self) -> dict[str, Any]:
        return {"in_pacs": self.in_pacs, "deleted_from_pacs": self.deleted, "sent_again": self.resent,
                "not_sent_again": self.not_sent_again, "left_in_pacs": self.left,
                "pacs_problem": self.problem, "pacs_send_problem": self.send_problem}


def _take_out_of_pacs(archive: Archive, image_ids: list[int]) -> PacsCorrection:
    in_pacs, deleted, problem = delete_pacs_copies(archive, image_ids)
    return PacsCorrection(in_pacs, deleted, [], problem)


def _send_again(archive: Archive, fix: PacsCorrection) -> PacsCorrection:
    """Send the photos whose wrong copy was deleted from the PACS again (now correctly filed)."""
    if not fix.deleted:
        return fix
    by_patient: dict[int, list[int]] = {}
    for image in records.images(archive, image_ids=fix.deleted):
        by_patient.setdefault(image.patient_id, []).append(image.id)
    for image_ids in by_patient.values():
        try:
            pacs.send_images_to_pacs(archive, image_ids)
            fix.resent += image_ids
        except DermArchiveError as exc:
            fix.send_problem = str(exc)
            uids = dicom_store.known_instance_uids(archive, image_ids)
            archive.log_event("pacs.send", {"images": image_ids},
                              {"failed": True, "after": "correction", "sop_instance_uids": sorted(uids.values())})
    fix.resent.sort()
    return fix


# -- patients ----------------------------------------------------------------------------------
@dataclass
class PatientEdit:
    patient: records.Patient
    changed: list[str]
    pacs: PacsCorrection

    def as_json(self) -> dict[str, Any]:
        return {"patient": self.patient.as_json(), "changed": self.changed, **self.pacs.as_json()}


def edit_patient(archive: Archive, nhi: str, *, reason: str, family: str | None = None,
                 given: str | None = None, dob: str | None = None, new_nhi: str | None = None) -> PatientEdit:
    reason = _reason(reason, "Editing a patient")
    patient = records.patient_by_nhi(archive, nhi)
    if new_nhi is not None and nhi_mod.normalise(new_nhi) != patient.nhi:
        archive.require_role(*CORRECTORS, action="change a patient's NHI")
    photos = [i.id for i in records.images(archive, patient_id=patient.id)]
    # The PACS copies carry the NHI, name and date of birth: take them out first (while their
    # UIDs and the old details still match), then send them again with the corrected ones.
    fix = PacsCorrection()
    wanted = {"family": family.strip() if family is not None else patient.family,
              "given": given.strip() if given is not None else patient.given,
              "dob": records.check_dob(dob) if dob else patient.dob,   # refused before the PACS is touched
              "nhi": nhi_mod.validate(new_nhi) if new_nhi is not None else patient.nhi}
    if any(wanted[k] != getattr(patient, k) for k in wanted) and pacs.images_in_pacs(archive, photos):
        fix = _take_out_of_pacs(archive, photos)
    updated, changed = records.update_patient(archive, patient.id, family=family, given=given, dob=dob,
                                              nhi=new_nhi, reason=reason)
    return PatientEdit(updated, changed, _send_again(archive, fix))


@dataclass
class Merge:
    patient: records.Patient
    merged_from: int
    moved: dict[str, Any]
    pacs: PacsCorrection

    def as_json(self) -> dict[str, Any]:
        return {"patient": self.patient.as_json(), "merged_from": self.merged_from, **self.moved,
                **self.pacs.as_json()}


def merge_patients(archive: Archive, from_nhi: str, into_nhi: str, *, reason: str) -> Merge:
    """Everything of the first patient (visits with their consent, lesions, photos) becomes the
    second's; the first is no longer listed."""
    reason = _reason(reason, "Merging two patients")
    archive.require_role(*CORRECTORS, action="merge patients")
    source = records.patient_by_nhi(archive, from_nhi)
    target = records.patient_by_nhi(archive, into_nhi)
    if source.id == target.id:
        raise InvalidInput("--from and --into name the same patient: there is nothing to merge.")
    fix = _take_out_of_pacs(archive, [i.id for i in records.images(archive, patient_id=source.id)])
    with archive.transaction() as tx:
        moved = catalogue_corrections.merge_patients(tx, source.id, target.id)
        archive.record(tx, "patient.merge", {"patient": target.id, "merged_from": source.id},
                       {"reason": reason, **moved})
    log.archive.info("patients merged: %d visit(s), %d lesion(s), %d image(s)",
                     len(moved["visits"]), len(moved["lesions"]), len(moved["images"]))
    return Merge(records.get_patient(archive, target.id), source.id, moved, _send_again(archive, fix))


@dataclass
class PatientImport:
    added: list[int]
    already_registered: list[str]   # NHIs: shown to the user, never logged or audited

    def as_json(self) -> dict[str, Any]:
        return {"added": len(self.added), "patient_ids": self.added, "already_registered": self.already_registered}


class InvalidPatientList(InvalidInput):
    """A patient list with bad rows; nothing was imported. ``rows`` names each (line, reason)."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        self.rows = rows
        lines = "\n".join(f"  line {n}: {why}" for n, why in rows)
        super().__init__(f"Nothing was imported: {len(rows)} row(s) of the patient list are invalid.\n{lines}")


HEADER = ["nhi", "family", "given", "dob"]


def read_patient_list(data: bytes) -> list[tuple[str, str, str, str | None]]:
    """Rows (nhi, family, given, dob) of a practice-system export; raises listing every bad row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidPatientList([(line, "not UTF-8 text (save the export as CSV UTF-8)")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != HEADER:
        raise InvalidPatientList([(1, f"the first line must be the header {','.join(HEADER)}")])
    rows: list[tuple[str, str, str, str | None]] = []
    bad: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for cells in reader:
        n = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != 4:
            bad.append((n, f"{len(cells)} columns; expected 4 ({','.join(HEADER)})"))
            continue
        raw_nhi, family, given, dob = (c.strip() for c in cells)
        problems = []
        nhi_problem = nhi_mod.problem(raw_nhi)
        value = nhi_mod.normalise(raw_nhi)
        if nhi_problem:
            problems.append(nhi_problem)
        elif value in seen:
            problems.append(f"NHI {value} is also on line {seen[value]}")
        else:
            seen[value] = n
        if not family:
            problems.append("the family name is empty")
        try:
            dob = records.check_dob(dob) or ""
        except InvalidInput as exc:
            problems.append(str(exc))
        if problems:
            bad.append((n, "; ".join(problems)))
        else:
            rows.append((value, family, given, dob or None))
    if bad:
        raise InvalidPatientList(bad)
    return rows


def import_patients(archive: Archive, path: Path) -> PatientImport:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read the patient list {path}: {exc.strerror}.") from None
    rows = read_patient_list(data)
    with archive.transaction() as tx:
        added, existing = catalogue_corrections.register_patients(tx, rows)
        archive.record(tx, "patient.import", {"patients": added},
                       {"added": len(added), "already_registered": len(existing), "rows": len(rows)})
    log.archive.info("patient list imported: %d added, %d already registered", len(added), len(existing))
    return PatientImport(added, existing)


# -- photos ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filing:
    patient: int
    visit: int
    lesion: int | None

    def as_json(self) -> dict[str, Any]:
        return {"patient": self.patient, "visit": self.visit, "lesion": self.lesion}


@dataclass
class Move:
    """What a move did, photo by photo: enough to undo it."""

    moves: dict[int, tuple[Filing, Filing]]
    new_visits: list[int]
    pacs: PacsCorrection
    unchanged: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"moved": [{"image": i, "from": a.as_json(), "to": b.as_json()} for i, (a, b) in self.moves.items()],
                "new_visits": self.new_visits, "unchanged": self.unchanged, **self.pacs.as_json()}


def _lesion_of(archive: Archive, patient_id: int, label: str) -> int:
    found = records.find_lesion(archive, patient_id, label)
    if found is None:
        labels = ", ".join(l.label for l in records.lesions(archive, patient_id)) or "none yet"
        raise NotFound(f"That patient has no lesion labelled '{label.strip()}' (lesions: {labels}).")
    return found.id


def _photos(archive: Archive, image_ids: list[int]) -> list[records.ImageRecord]:
    if not image_ids:
        raise InvalidInput("Name the photos with --image ID.")
    found = records.images(archive, image_ids=sorted(set(image_ids)))
    missing = sorted(set(image_ids) - {i.id for i in found})
    if missing:
        raise NotFound(f"Image(s) {_ids(missing)} are not in this archive. Nothing was changed.")
    return found


def move_images(archive: Archive, image_ids: list[int], *, reason: str, to_patient_nhi: str | None = None,
                to_patient_id: int | None = None, to_lesion: str | None = None,
                to_lesion_id: int | None = None, to_no_lesion: bool = False) -> Move:
    """File photos under another lesion and/or another patient (see the module's rules).

    Without a lesion, a photo that changes patient is filed under none (the old patient's lesion
    is not the new one's) and one that stays keeps its lesion; ``to_no_lesion`` takes photos off
    their lesion (e.g. an overview photo filed as a close-up)."""
    reason = _reason(reason, "Moving photos")
    photos = _photos(archive, image_ids)
    if to_patient_nhi is not None:
        to_patient_id = records.patient_by_nhi(archive, to_patient_nhi).id
    if to_patient_id is None:
        patients = {p.patient_id for p in photos}
        if to_lesion is None and to_lesion_id is None and not to_no_lesion:
            raise InvalidInput("Say where to: --to-patient NHI and/or --to-lesion LABEL.")
        if len(patients) != 1:
            raise InvalidInput("These photos belong to different patients: move one patient's photos at a time.")
        to_patient_id = patients.pop()
    if to_lesion is not None:
        to_lesion_id = _lesion_of(archive, to_patient_id, to_lesion)
    elif to_lesion_id is not None and records.get_lesion(archive, to_lesion_id).patient_id != to_patient_id:
        raise InvalidInput("That lesion belongs to another patient.")
    keep = to_lesion_id is None and not to_no_lesion
    where = {p.id: (to_patient_id, p.lesion_id if keep and p.patient_id == to_patient_id else to_lesion_id)
             for p in photos}
    return _refile(archive, where, photos, reason, action="image.move")


def undo_move(archive: Archive, move: Move, *, reason: str = "undo of the last move") -> Move:
    """Put the photos of ``move`` back where they were (same visits and lesions)."""
    photos = _photos(archive, list(move.moves))
    back = {i: before for i, (before, _after) in move.moves.items()}
    return _refile(archive, {i: (b.patient, b.lesion) for i, b in back.items()}, photos, reason,
                   action="image.move", visits={i: b.visit for i, b in back.items()}, undo=True,
                   emptied=move.new_visits)


def _refile(archive: Archive, where: dict[int, tuple[int, int | None]], photos: list[records.ImageRecord],
            reason: str, *, action: str, visits: dict[int, int] | None = None, undo: bool = False,
            emptied: list[int] | None = None) -> Move:
    moving = [p for p in photos if (p.patient_id, p.lesion_id) != where[p.id]
              or (visits is not None and visits[p.id] != p.visit_id)]
    unchanged = sorted(p.id for p in photos if p not in moving)
    if not moving:
        return Move({}, [], PacsCorrection(), unchanged)
    evidence = catalogue_corrections.consent_evidence_of(
        archive.catalogue, [p.id for p in moving if p.patient_id != where[p.id][0]])
    if evidence:
        raise InvalidInput(f"Image(s) {_ids(evidence)} are the signed consent form of their visit and stay "
                           "with it. To refile a whole visit under another patient, merge the patients.")
    fix = _take_out_of_pacs(archive, [p.id for p in moving])
    moves: dict[int, tuple[Filing, Filing]] = {}
    new_visits: list[int] = []
    with archive.transaction() as tx:
        day_visit: dict[tuple[int, str], int] = {}
        for p in moving:
            patient_id, lesion_id = where[p.id]
            if visits is not None:
                visit_id = visits[p.id]
            elif patient_id == p.patient_id:
                visit_id = p.visit_id
            else:  # the other patient's visit of that day, whose consent then applies
                key = (patient_id, p.visit_date)
                if key not in day_visit:
                    found = catalogue_corrections.visit_on(tx, patient_id, p.visit_date)
                    if found is None:
                        found = records.add_visit(archive, patient_id, p.visit_date, tx=tx)
                        new_visits.append(found)
                    day_visit[key] = found
                visit_id = day_visit[key]
            catalogue_corrections.file_image(tx, p.id, visit_id, lesion_id)
            if visit_id != p.visit_id:
                catalogue_corrections.forget_dicom_instance(tx, [p.id])
            moves[p.id] = (Filing(p.patient_id, p.visit_id, p.lesion_id), Filing(patient_id, visit_id, lesion_id))
        removed = catalogue_corrections.drop_empty_visits(tx, emptied or [])  # the undone move's new visit
        archive.record(tx, action, {"images": sorted(moves), "patients": sorted({f.patient for m in moves.values()
                                                                                 for f in m})},
                       {"reason": reason, "undo": undo, "new_visits": new_visits, "removed_visits": removed,
                        "moves": [{"image": i, "from": a.as_json(), "to": b.as_json()} for i, (a, b) in moves.items()]})
    log.archive.info("%d image(s) refiled (%d new visit(s))", len(moves), len(new_visits))
    return Move(moves, new_visits, _send_again(archive, fix), unchanged)


@dataclass
class Deletion:
    deleted: list[int]
    pacs: PacsCorrection

    def as_json(self) -> dict[str, Any]:
        return {"deleted": self.deleted, **self.pacs.as_json()}


def delete_images(archive: Archive, image_ids: list[int], *, reason: str) -> Deletion:
    """Delete photos for real: PACS copies first (Orthanc), then the rows and every blob no other
    row uses (its wrapped key is destroyed: crypto-erasure). The audit keeps the fact."""
    reason = _reason(reason, "Deleting photos")
    archive.require_role(*CORRECTORS, action="delete photos")
    photos = _photos(archive, image_ids)
    fix = _take_out_of_pacs(archive, [p.id for p in photos])
    deleted = records.delete_images(archive, [p.id for p in photos], reason=reason)
    return Deletion(deleted, fix)


# -- lesions -----------------------------------------------------------------------------------
def edit_lesion(archive: Archive, patient_nhi: str, label: str, *, reason: str, new_label: str | None = None,
                site: str | None = None, laterality: str | None = None, diagnosis: str | None = None,
                status: str | None = None, site_text: str | None = None) -> tuple[records.Lesion, list[str]]:
    patient = records.patient_by_nhi(archive, patient_nhi)
    given = {"label": new_label, "site": site, "site_text": site_text, "laterality": laterality,
             "diagnosis": diagnosis, "status": status}
    return edit_lesion_by_id(archive, _lesion_of(archive, patient.id, label), reason=reason,
                             **{k: v for k, v in given.items() if v is not None})


def edit_lesion_by_id(archive: Archive, lesion_id: int, *, reason: str,
                      **fields: str) -> tuple[records.Lesion, list[str]]:
    """Correct a lesion (any of label, site, site_text, laterality, diagnosis, status, notes)."""
    reason = _reason(reason, "Editing a lesion")
    changed = records.update_lesion(archive, lesion_id, reason=reason, **fields)
    return records.get_lesion(archive, lesion_id), changed


def lesion_summaries(archive: Archive, patient_nhi: str) -> list[dict[str, Any]]:
    patient = records.patient_by_nhi(archive, patient_nhi)
    return [{"label": l.label, "site": l.site, "laterality": l.laterality, "diagnosis": l.diagnosis,
             "status": l.status, "images": l.image_count} for l in records.lesions(archive, patient.id)]
