"""Importing a visit: the photos of one patient, new lesions, the visits they make and their
consent — the use case behind the import wizard (and any other face), written once.

The import pipeline (:mod:`dermarchive.ingest`) imports a plan for one patient. Per photo it takes
the kind, an existing lesion's label, notes and the visit (``EntryAssignment.visit_group`` for a
new visit, ``visit_id`` for an existing one); a *new* lesion's body site, though, is an import
option, so one ``run_import`` call cannot create two new lesions with different sites.
:func:`carry_out` therefore runs the core once per new lesion — a thin adapter, no second
pipeline: the first call that meets one of the nurse's visits lets the core create it, later
calls pass its ``visit_id``. Then it records the chosen consent for every visit the import
created (or audits that the nurse chose to record none, with the reason).

Nothing here touches Qt, SQL or files directly: everything goes through core functions. The
consent rules are :func:`dermarchive.consent.records.check_choice`'s; this module adds only what
is particular to an import (a photographed form must be among each visit's own photos).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import log
from ..archive import records
from ..consent import records as consent_records
from ..consent.scopes import CLINICAL
from ..errors import InvalidInput
from ..ingest import (EntryAssignment, FileOutcome, ImportOptions, ImportPlan, ImportResult, PlanEntry,
                       run_import)

if TYPE_CHECKING:
    from ..archive import Archive

Progress = Callable[[int, int, str], None]


@dataclass
class NewPatient:
    nhi: str
    family: str
    given: str = ""
    dob: str | None = None


@dataclass
class NewLesion:
    label: str
    site: str = ""
    site_text: str = ""
    laterality: str = ""


@dataclass
class PhotoChoice:
    """The nurse's choices for one new photo (by ``PlanEntry.rel``)."""

    include: bool = True
    visit: int = 0                    # index into ImportChoices.visit_dates (the edited grouping)
    kind: str = "clinical"
    lesion: str = ""                  # label of an existing or new lesion ("" = none)
    notes: str = ""
    visit_date: str = ""              # YYYY-MM-DD the nurse gave its visit ("" = by capture time)
    visit_id: int | None = None       # an existing visit of the patient its visit continues


@dataclass
class ConsentChoice:
    """``mode``: ``record`` (a new consent per created visit), ``existing`` (import into a visit
    that already has consent), ``none`` (no consent record, with ``reason``; audited) or ``later``
    (the command line: consent is recorded afterwards with ``dermarchive consent set``; until then
    the consent policy keeps the photos to the clinical record)."""

    mode: str = "record"
    method: str = "verbal"
    scopes: tuple[str, ...] = CLINICAL
    obtained_by: str = ""
    obtained_at: str | None = None
    exemption_reason: str = ""
    signature: bytes | None = None
    signature_on_paper: bool = False
    notes: str = ""
    visit_id: int | None = None       # for ``existing``
    reason: str = ""                  # for ``none``


@dataclass
class ImportChoices:
    patient_id: int | None = None
    new_patient: NewPatient | None = None
    photos: dict[str, PhotoChoice] = field(default_factory=dict)
    new_lesions: dict[str, NewLesion] = field(default_factory=dict)
    keep_location: bool = False
    location_reason: str = ""
    consent: ConsentChoice = field(default_factory=ConsentChoice)
    clinician: str = ""
    workers: int | None = None        # import threads (None: one per core)

    def included(self, plan: ImportPlan) -> list[PlanEntry]:
        return [e for e in plan.new_entries() if self.photos.get(e.rel, PhotoChoice()).include]


@dataclass
class WizardOutcome:
    """What happened: the merged core result plus consent bookkeeping, for the summary."""

    result: ImportResult
    patient_id: int
    consent_recorded: list[int] = field(default_factory=list)   # visit ids
    consent_problems: list[str] = field(default_factory=list)   # plain sentences

    def count(self, status: str) -> int:
        return sum(1 for o in self.result.outcomes if o.status == status)


def group_by_time(entries: list[PlanEntry], gap_hours: float) -> list[list[PlanEntry]]:
    """The core's suggestion (``ingest.suggest_visits``), re-exported for the Organise page."""
    from ..ingest import suggest_visits

    return suggest_visits(entries, gap_hours)


def check_consent(choice: ConsentChoice, photos: dict[str, PhotoChoice], included: list[str]) -> None:
    """Refuse, before anything is imported, a consent choice that could not be recorded."""
    if choice.mode == "none":
        if not choice.reason.strip():
            raise InvalidInput("Importing without any consent record needs a reason (e.g. 'patient "
                               "unconscious; consent to be recorded at the next visit').")
        return
    if choice.mode == "later":
        return
    if choice.mode == "existing":
        if choice.visit_id is None:
            raise InvalidInput("Choose the visit whose consent covers these photos.")
        return
    consent_records.check_choice(scopes=choice.scopes, method=choice.method, obtained_by=choice.obtained_by,
                                 exemption_reason=choice.exemption_reason or None, signature=choice.signature,
                                 signature_on_paper=choice.signature_on_paper)
    if choice.method == "photographed-form":
        visits = {photos[r].visit for r in included}
        with_form = {photos[r].visit for r in included if photos[r].kind == "consent-form"}
        missing = sorted(visits - with_form)
        if missing:
            raise InvalidInput("A photographed consent form must be one of the visit's own photos: mark a "
                               f"photo as 'Consent form' in visit {', '.join(str(v + 1) for v in missing)}, "
                               "or choose another method.")


def import_slices(plan: ImportPlan, choices: ImportChoices) -> list[tuple[str, list[PlanEntry]]]:
    """(new-lesion label or "", entries): one core call per new lesion, since a new lesion's site is
    an import option; everything else (visit, kind, existing lesion, notes) is per photo."""
    out: dict[str, list[PlanEntry]] = {}
    for entry in choices.included(plan):
        photo = choices.photos.get(entry.rel, PhotoChoice())
        out.setdefault(photo.lesion if photo.lesion in choices.new_lesions else "", []).append(entry)
    return sorted(out.items())


def _merge(into: ImportResult, part: ImportResult) -> None:
    into.outcomes.extend(part.outcomes)
    into.visits.extend(v for v in part.visits if v not in into.visits)
    into.fingerprints.update(part.fingerprints)
    into.duplicates.update(part.duplicates)
    into.cancelled = into.cancelled or part.cancelled


def carry_out(archive: Archive, plan: ImportPlan, choices: ImportChoices, *, progress: Progress | None = None,
              cancelled: Callable[[], bool] | None = None) -> WizardOutcome:
    """Create the patient if new, import the included photos (one core call per new lesion), then
    record consent.

    The nurse's visits go to the core per photo: ``visit_group`` (the core creates one visit per
    group, dated by its earliest photo) or, once an earlier call created that visit, or for
    "an earlier visit with consent", its ``visit_id``. Cancelling stops between photos (the core's
    own cancel); photos already committed stay, and their visits still get the consent the nurse
    chose, so the archive is consistent and complete for what was imported."""
    included = [e.rel for e in choices.included(plan)]
    check_consent(choices.consent, choices.photos, included)
    patient_id = choices.patient_id
    if patient_id is None:
        if choices.new_patient is None:
            raise InvalidInput("Choose the patient these photos belong to.")
        np = choices.new_patient
        patient_id = records.add_patient(archive, np.nhi, np.family, np.given, np.dob).id
    result = ImportResult(Path(plan.folder), patient_id)
    result.duplicates = plan.duplicate_fingerprints()
    outcome = WizardOutcome(result, patient_id)
    base = ImportOptions(patient_id, clinician=choices.clinician, keep_location=choices.keep_location,
                         location_reason=choices.location_reason if choices.keep_location else "",
                         workers=choices.workers)
    # Already-imported files: the core reads their stored copies back so they count as verified.
    earlier = [e for e in plan.entries if e.status == "already-imported"]
    if earlier:
        _merge(result, run_import(archive, ImportPlan(plan.folder, earlier, keyed=plan.keyed), base))
    existing = choices.consent.visit_id if choices.consent.mode == "existing" else None
    visit_of: dict[int, int] = {}  # the nurse's visit index → visit id, once created
    total, done_before = len(included), 0
    try:
        for new_label, entries in import_slices(plan, choices):
            if result.cancelled:
                result.outcomes += [FileOutcome(e.rel, "cancelled", "the import was cancelled before this photo")
                                    for e in entries]
                continue
            lesion = choices.new_lesions.get(new_label) if new_label else None
            per_entry = {}
            for e in entries:
                photo = choices.photos.get(e.rel, PhotoChoice())
                visit_id = existing if existing is not None else (photo.visit_id or visit_of.get(photo.visit))
                per_entry[e.rel] = EntryAssignment(
                    kind=photo.kind, notes=photo.notes, lesion_label=None if lesion else (photo.lesion or None),
                    visit_id=visit_id, visit_group=None if visit_id is not None else str(photo.visit),
                    visit_date=photo.visit_date or None)
            options = replace(base, lesion_label=lesion.label if lesion else None,
                              site=lesion.site if lesion else "", site_text=lesion.site_text if lesion else "",
                              laterality=lesion.laterality if lesion else "", per_entry=per_entry)

            def slice_progress(done: int, _total: int, message: str, offset: int = done_before) -> None:
                if progress:
                    progress(offset + done, total, message)

            part = run_import(archive, ImportPlan(plan.folder, entries, keyed=plan.keyed), options,
                              progress=slice_progress, cancelled=cancelled)
            for o in part.outcomes:  # which visit each of the nurse's visits became
                visit = choices.photos.get(o.rel, PhotoChoice()).visit
                if o.status == "imported" and o.image_id is not None and visit not in visit_of:
                    visit_of[visit] = records.get_image(archive, o.image_id).visit_id
            _merge(result, part)
            done_before += len(entries)
    finally:
        _record_consent(archive, outcome, choices.consent)
    log.ingest.info("wizard import finished: %s; consent recorded for %d visit(s)",
                    result.counts(), len(outcome.consent_recorded))
    return outcome


def _record_consent(archive: Archive, outcome: WizardOutcome, choice: ConsentChoice) -> None:
    visits = outcome.result.visits
    if not visits or choice.mode in ("existing", "later"):
        return
    if choice.mode == "none":
        archive.log_event("consent.none", {"patient": outcome.patient_id, "visits": visits},
                          {"reason": choice.reason.strip()})
        return
    for visit_id in visits:
        form_id = None
        if choice.method == "photographed-form":
            form_id = next((i.id for i in records.images(archive, visit_id=visit_id) if i.kind == "consent-form"),
                           None)
            if form_id is None:
                visit = records.get_visit(archive, visit_id)
                outcome.consent_problems.append(
                    f"Consent was not recorded for the visit of {visit.date}: its consent-form photo was not "
                    "imported. Record it in the consent editor.")
                continue
        try:
            consent_records.record_consent(
                archive, visit_id, scopes=choice.scopes, method=choice.method, obtained_by=choice.obtained_by,
                obtained_at=choice.obtained_at, exemption_reason=choice.exemption_reason or None,
                signature=choice.signature, signature_on_paper=choice.signature_on_paper,
                form_image_id=form_id, notes=choice.notes)
        except InvalidInput as exc:
            outcome.consent_problems.append(f"Consent was not recorded for visit {visit_id}: {exc}")
            continue
        outcome.consent_recorded.append(visit_id)
