"""Sort a clinic day's phone folder by the photo consent sheets in it (issue 18).

Photos are taken in capture order. A photo of a sheet of this archive starts that patient's
group; the photos after it belong to the patient until the next sheet. Photos before the first
sheet, or after a sheet of another archive or one that cannot be read, wait for the nurse
(``needs-patient``, with the reason) and are not imported.

This module only groups: what a photo shows is decided by a ``detect(data) -> sighting | None``
function given by the caller (the sheet reader lives above ingest). A sighting has ``kind``
(``sheet``, ``lesion``, ``foreign``, ``unreadable``), ``code`` (with ``nhi``, ``visit_date``,
``serial`` or, for a lesion label, ``serial`` and ``label``), ``reason`` and ``consent``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import Cancelled
from .scan import ImportPlan, PlanEntry

Detect = Callable[[bytes], Any]
Progress = Callable[[int, int, str], None]

NEEDS_PATIENT = "needs-patient"
BEFORE_FIRST = "it was taken before the first consent sheet: choose its patient"


@dataclass
class PatientGroup:
    """One patient's photos of the day: the sheet photo(s) first, then the others."""

    nhi: str
    serial: int
    visit_date: str | None
    consent: Any                                      # what the sheet says (ConsentReading)
    sheets: list[str] = field(default_factory=list)   # rels of the sheet's photos
    photos: list[str] = field(default_factory=list)   # rels of the patient's other photos
    lesions: dict[str, str] = field(default_factory=dict)  # rel → lesion label shown in it

    @property
    def sheet(self) -> str:
        return self.sheets[0]

    def rels(self) -> list[str]:
        return self.sheets + self.photos


@dataclass
class SheetSort:
    """The day sorted: patient groups in capture order, and the photos that wait (rel → reason)."""

    groups: list[PatientGroup] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    sightings: dict[str, Any] = field(default_factory=dict, repr=False)

    def group_of(self, rel: str) -> PatientGroup | None:
        for g in self.groups:
            if rel in g.sheets or rel in g.photos:
                return g
        return None

    def move(self, rel: str, to: PatientGroup | None) -> None:
        """Move a (non-sheet) photo to another patient's group, or to the waiting photos."""
        old = self.group_of(rel)
        if old is not None and rel in old.sheets:
            raise ValueError("a sheet photo stays with its patient")
        if old is not None:
            old.photos.remove(rel)
            old.lesions.pop(rel, None)
        self.waiting.pop(rel, None)
        if to is None:
            self.waiting[rel] = "moved to the waiting photos by hand"
        else:
            to.photos.append(rel)


def capture_order(entries: list[PlanEntry]) -> list[PlanEntry]:
    """Photos in the order they were taken (capture time, then file name for equal or no time)."""
    return sorted(entries, key=lambda e: ((e.metadata.taken_at if e.metadata else None) or "9999", e.rel))


def candidates(plan: ImportPlan) -> list[PlanEntry]:
    """The photos that take part: new ones and ones imported before (a re-run keeps its groups)."""
    return [e for e in plan.entries if e.status in ("new", "already-imported") and e.metadata is not None]


def find_sightings(plan: ImportPlan, detect: Detect, *, progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None, workers: int | None = None) -> dict[str, Any]:
    """``detect`` run over each candidate photo on a small pool (rel → sighting, codes only)."""
    todo = candidates(plan)
    found: dict[str, Any] = {}

    def one(entry: PlanEntry) -> tuple[str, Any]:
        try:
            with open(entry.path, "rb") as fh:
                data = fh.read()
        except OSError:
            return entry.rel, None  # the import reports the file it can no longer read
        return entry.rel, detect(data)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="sheets") as pool:
        for n, (rel, sighting) in enumerate(pool.map(one, todo), 1):
            if sighting is not None:
                found[rel] = sighting
            if progress:
                progress(n, len(todo), "Looking for consent sheets")
            if cancelled is not None and cancelled():
                raise Cancelled("Looking for consent sheets")
    return found


def sort_by_sheet(plan: ImportPlan, sightings: dict[str, Any]) -> SheetSort:
    """Group the plan's photos by the sheets seen in them (see the module docstring)."""
    out = SheetSort(sightings=sightings)
    current: PatientGroup | None = None
    waiting_reason = BEFORE_FIRST
    for entry in capture_order(candidates(plan)):
        seen: Any = sightings.get(entry.rel)
        kind = getattr(seen, "kind", None)
        if kind == "sheet":
            code = seen.code
            if current is not None and current.serial == code.serial:
                current.sheets.append(entry.rel)  # the same sheet photographed again
                continue
            current = PatientGroup(code.nhi, code.serial, code.visit_date, seen.consent, [entry.rel])
            out.groups.append(current)
        elif kind in ("foreign", "unreadable"):
            current = None
            what = "a sheet of another archive" if kind == "foreign" else "a sheet that could not be read"
            out.waiting[entry.rel] = f"{seen.reason}; the photos after it wait for the nurse"
            waiting_reason = f"it was taken after {what}: choose its patient"
        elif current is None:
            out.waiting[entry.rel] = waiting_reason
        else:
            current.photos.append(entry.rel)
            if kind == "lesion" and seen.code.serial == current.serial:
                current.lesions[entry.rel] = seen.code.label
    return out
