"""Import a clinic day by photo consent sheet: one use case for the CLI and the wizard (issue 18).

1. :func:`plan_clinic_day` scans the phone folder, looks for sheets in the photos, and sorts the
   day into patient groups and waiting photos (:mod:`dermarchive.ingest.by_sheet`).
2. The wizard may move photos between groups; the user confirms each patient's consent.
3. :func:`import_clinic_day` imports each group into that patient's visit (the sheet's visit
   date, reusing the patient's visit of that day if there is one), the sheet photo as the visit's
   consent-form photo (never in education, publication or research exports: the consent policy
   keeps consent-form photos to clinical purposes). Consent is recorded only for the groups the
   caller confirmed, as read from the form (method: photographed form), by the user running it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import log
from ..archive import records
from ..consent import records as consent_records
from ..errors import InvalidInput, NotFound
from ..ingest.by_sheet import NEEDS_PATIENT, PatientGroup, SheetSort, find_sightings, sort_by_sheet
from ..ingest.run import EntryAssignment, ImportOptions, ImportResult, run_import
from ..ingest.scan import ImportPlan, scan
from ..sheets.issue import sheet_key
from ..sheets.read import ConsentReading, look

Progress = Callable[[int, int, str], None]


@dataclass
class ClinicDay:
    """A scanned phone folder sorted by sheet (groups are the wizard's to change before import)."""

    plan: ImportPlan
    sort: SheetSort
    patients: dict[str, records.Patient] = field(default_factory=dict)  # NHI → patient

    @property
    def groups(self) -> list[PatientGroup]:
        return self.sort.groups

    @property
    def waiting(self) -> dict[str, str]:
        return self.sort.waiting

    def patient_of(self, rel: str) -> str | None:
        group = self.sort.group_of(rel)
        return group.nhi if group is not None else None

    def entry_json(self, rel: str) -> dict[str, Any]:
        """What ``import --by-sheet --json`` adds to a file's entry."""
        seen = self.sort.sightings.get(rel)
        group = self.sort.group_of(rel)
        row: dict[str, Any] = {"patient": group.nhi if group else None,
                               "sheet": bool(group and rel in group.sheets)}
        if row["sheet"]:
            reading = group.consent if group else None
            row["consent"] = reading.as_json() if reading is not None else None
            row["sheet_serial"] = group.serial if group else None
        if group and rel in group.lesions:
            row["lesion"] = group.lesions[rel]
        if seen is not None and seen.kind in ("foreign", "unreadable"):
            row["code"] = seen.kind
        if rel in self.sort.waiting:
            row["status"] = NEEDS_PATIENT
            row["reason"] = self.sort.waiting[rel]
        return row


def plan_clinic_day(archive: Any, folder: Any, *, progress: Progress | None = None,
                    cancelled: Callable[[], bool] | None = None) -> ClinicDay:
    """Scan ``folder``, find the sheets, sort the photos (nothing is written)."""
    plan = scan(folder, archive, progress=progress, cancelled=cancelled)
    return sort_clinic_day(archive, plan, progress=progress, cancelled=cancelled)


def sort_clinic_day(archive: Any, plan: ImportPlan, *, progress: Progress | None = None,
                    cancelled: Callable[[], bool] | None = None) -> ClinicDay:
    """Find the sheets among a scanned folder's photos and sort the day by them (the wizard has
    scanned the folder already)."""
    key, archive_id = sheet_key(archive), archive.archive_id
    sightings = find_sightings(plan, lambda data: look(data, archive_id, key), progress=progress,
                               cancelled=cancelled)
    day = ClinicDay(plan, sort_by_sheet(plan, sightings))
    for group in list(day.groups):  # a sheet of a patient no longer in the archive: its photos wait
        try:
            day.patients[group.nhi] = records.patient_by_nhi(archive, group.nhi)
        except NotFound:
            day.groups.remove(group)
            for rel in group.rels():
                day.waiting[rel] = "its consent sheet names a patient who is not in this archive"
    log.ingest.info("clinic day: %d sheet(s), %d patient group(s), %d photo(s) waiting",
                    sum(len(g.sheets) for g in day.groups), len(day.groups), len(day.waiting))
    return day


@dataclass
class GroupOutcome:
    group: PatientGroup
    result: ImportResult | None = None
    visit_id: int | None = None
    form_image_id: int | None = None
    consent_version: int | None = None
    consent_note: str = ""              # why consent was not recorded, in plain words

    def as_json(self) -> dict[str, Any]:
        g = self.group
        return {"patient": g.nhi, "sheet_serial": g.serial, "photos": len(g.rels()), "visit": self.visit_id,
                "form_image_id": self.form_image_id,
                "consent": g.consent.as_json() if g.consent is not None else None,
                "consent_recorded": self.consent_version is not None, "consent_version": self.consent_version,
                "consent_note": self.consent_note}


@dataclass
class ClinicDayResult:
    groups: list[GroupOutcome] = field(default_factory=list)
    cancelled: bool = False

    def outcomes(self) -> dict[str, Any]:
        return {o.rel: o for g in self.groups if g.result for o in g.result.outcomes}


def consent_problem(reading: ConsentReading | None) -> str | None:
    """Why what was read cannot be recorded as it stands (the user must look), or None."""
    if reading is None:
        return "nothing could be read from the sheet"
    if reading.unclear:
        return f"{len(reading.unclear)} tick box(es) are unclear on the photo"
    if reading.signed is None:
        return "it is unclear whether the sheet is signed"
    if reading.signed is False:
        return "the sheet is not signed"
    if not reading.ticked:
        return "no purpose is ticked on the sheet"
    return None


def _visit_for(archive: Any, day: ClinicDay, group: PatientGroup, patient: records.Patient) -> tuple[int | None, str]:
    """An existing visit for the group (an earlier run's, or the patient's visit on the sheet's
    date), else None and the date the new visit gets."""
    for rel in group.rels():
        entry = day.plan.entry(rel)
        if entry.status == "already-imported" and entry.existing_image_id:
            try:
                image = records.get_image(archive, entry.existing_image_id)
            except NotFound:
                continue
            if image.patient_id == patient.id:
                return image.visit_id, image.visit_date
    sheet_meta = day.plan.entry(group.sheet).metadata
    when = group.visit_date or ((sheet_meta.taken_at or "")[:10] if sheet_meta else "") or None
    if when:
        same_day = [v for v in records.visits(archive, patient.id) if v.date == when]
        if same_day:
            return same_day[-1].id, when
    from datetime import date

    return None, when or date.today().isoformat()


def record_sheet_consent(archive: Any, visit_id: int, form_image_id: int, reading: ConsentReading,
                         *, sheet_serial: int | None = None) -> int:
    """Record what a person confirmed from the sheet (method: photographed form); the version."""
    problem = consent_problem(reading)
    if problem:
        raise InvalidInput(f"The consent was not recorded: {problem}. Look at the sheet photo and "
                           "record the consent by hand.")
    current = consent_records.current(archive, visit_id)
    if current is not None and current.form_image_id == form_image_id and not current.withdrawn \
            and sorted(current.scopes) == sorted(reading.ticked):
        return current.version  # recorded from this sheet before (a re-run)
    visit = records.get_visit(archive, visit_id)
    note = "Read from the photo consent sheet" + (f" (sheet {sheet_serial})" if sheet_serial else "")
    version = consent_records.record_consent(
        archive, visit_id, scopes=reading.ticked, method="photographed-form", obtained_by=archive.user.name,
        obtained_at=visit.date, form_image_id=form_image_id, notes=note + ".", read_from_sheet=True)
    return version.version


def import_clinic_day(archive: Any, day: ClinicDay, *, confirmed: dict[int, ConsentReading] | None = None,
                      progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> ClinicDayResult:
    """Import every patient group; waiting photos are left alone. ``confirmed`` maps a group's
    sheet serial to the consent a person confirmed for it (what was read, or as corrected)."""
    confirmed = confirmed or {}
    out = ClinicDayResult()
    total = sum(len(g.rels()) for g in day.groups)
    done = 0
    for group in day.groups:
        if cancelled is not None and cancelled():
            out.cancelled = True
            break
        patient = day.patients.get(group.nhi) or records.patient_by_nhi(archive, group.nhi)
        visit_id, when = _visit_for(archive, day, group, patient)
        per_entry = {rel: EntryAssignment(kind="consent-form" if rel in group.sheets else None,
                                          lesion_label=group.lesions.get(rel),
                                          visit_group=None if visit_id else f"sheet-{group.serial}",
                                          visit_date=None if visit_id else when)
                     for rel in group.rels()}
        sub = ImportPlan(day.plan.folder, [day.plan.entry(r) for r in group.rels()], keyed=day.plan.keyed)
        offset = done

        def step(n: int, _total: int, message: str, offset: int = offset) -> None:
            if progress:
                progress(offset + n, total, message)

        options = ImportOptions(patient.id, visit_id=visit_id, per_entry=per_entry)
        result = run_import(archive, sub, options, progress=step, cancelled=cancelled)
        done += len(group.rels())
        outcome = GroupOutcome(group, result)
        form_id = next((o.image_id for o in result.outcomes if o.rel == group.sheet and o.image_id), None)
        if form_id is not None:
            outcome.form_image_id = form_id
            outcome.visit_id = records.get_image(archive, form_id).visit_id
        elif result.visits:
            outcome.visit_id = result.visits[0]
        reading = confirmed.get(group.serial)
        if reading is None:
            outcome.consent_note = "not recorded: nobody confirmed it yet"
        elif outcome.form_image_id is None or outcome.visit_id is None:
            outcome.consent_note = "not recorded: the sheet photo was not imported"
        else:
            problem = consent_problem(reading)
            if problem:
                outcome.consent_note = f"not recorded: {problem}"
            else:
                outcome.consent_version = record_sheet_consent(archive, outcome.visit_id, outcome.form_image_id,
                                                               reading, sheet_serial=group.serial)
        out.groups.append(outcome)
        if result.cancelled:
            out.cancelled = True
            break
    return out
