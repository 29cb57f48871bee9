"""CLI: ``dermarchive import`` (a phone folder into a patient's record) and ``dermarchive images``.

``import ARCHIVE FOLDER --by-sheet [--dry-run] [--json] [--accept-sheet-consent]``: see :mod:`.sheet`.

``import ARCHIVE FOLDER --patient NHI [--lesion LABEL] [--site SITE] [--kind KIND]
[--keep-location --location-reason TEXT] [--remove-originals] [--dry-run] [--json]``: scans the
folder, then (unless ``--dry-run``) imports its new photos. Exit 0 when every file was handled
(imported, or listed with the reason it was not); 1 when a photo failed to store.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import ProgressBar, add_archive, emit, open_archive
from ..errors import InvalidInput
from .sheet import add_import_options as add_by_sheet_options
from .sheet import cmd_import_by_sheet


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("import", parents=[parent], help="import photos from a phone folder into a patient's record")
    add_archive(p)
    p.add_argument("folder", metavar="FOLDER", type=Path, help="the phone folder (DCIM copy, synced folder)")
    p.add_argument("--patient", metavar="NHI", help="the patient (required unless --by-sheet)")
    p.add_argument("--lesion", metavar="LABEL", help="lesion label (found, or created for the patient)")
    p.add_argument("--site", default="", metavar="SITE", help="body site key for a new lesion")
    p.add_argument("--site-text", default="", metavar="TEXT", help="free-text detail of the site")
    p.add_argument("--laterality", default="", choices=["", "left", "right", "bilateral", "midline"])
    p.add_argument("--kind", default="clinical", choices=["clinical", "dermoscopic", "consent-form"])
    p.add_argument("--keep-location", action="store_true",
                   help="keep the photos' GPS location (encrypted); needs --location-reason")
    p.add_argument("--location-reason", default="", metavar="TEXT")
    p.add_argument("--gap-hours", type=float, default=4, help="a capture gap this long starts a new visit")
    p.add_argument("--undated-visit-date", metavar="YYYY-MM-DD",
                   help="the visit date for photos whose camera recorded no date (forwarded or edited "
                        "photos; their file time is when they were saved, not taken)")
    p.add_argument("--remove-originals", action="store_true",
                   help="delete the source files that are verified in the archive")
    p.add_argument("--dry-run", action="store_true", help="only scan and show what would happen")
    add_by_sheet_options(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("images", parents=[parent], help="list a patient's images")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.set_defaults(func=cmd_images)


def _when(meta: Any) -> str:
    if not meta.taken_at:
        return "date unknown"
    text = meta.taken_at[:16].replace("T", " ")
    return text + (" (file date: the camera gave none)" if meta.taken_at_source == "file-time" else "")


def _plan_lines(plan: Any) -> list[str]:
    lines = []
    for e in plan.entries:
        meta = e.metadata
        info = f"  {_when(meta)}  {meta.device}".rstrip() if meta else ""
        why = f" — {e.reason}" if e.reason and e.status != "new" else ""
        loc = "  [has a location: it will be removed]" if meta and meta.has_location and e.status == "new" else ""
        lines.append(f"{e.status:<16} {e.rel}{info}{loc}{why}")
    counts = ", ".join(f"{n} {s}" for s, n in plan.counts().items() if n)
    folders = sum(1 for e in plan.entries if e.rel.endswith("/"))  # ones that cannot be opened
    what = f"{len(plan.entries) - folders} file(s)" + (f" and {folders} folder(s)" if folders else "")
    return lines + [f"{what}: {counts or 'none'}."]


def cmd_import(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..ingest import suggest_visits
    from ..ingest.run import continued_visit, remove_originals
    from ..ingest.scan import scan
    from ..workflows.import_visit import ConsentChoice, ImportChoices, NewLesion, PhotoChoice, carry_out

    if args.by_sheet:
        return cmd_import_by_sheet(args)
    if args.accept_sheet_consent:
        raise InvalidInput("--accept-sheet-consent only applies with --by-sheet.")
    if not args.patient:
        raise InvalidInput("Say whose photos these are with --patient NHI, or sort them by their consent "
                           "sheets with --by-sheet.")
    if args.keep_location and not args.location_reason.strip():
        raise InvalidInput("--keep-location needs --location-reason TEXT saying why the location is kept.")
    if args.location_reason and not args.keep_location:
        raise InvalidInput("--location-reason only applies with --keep-location.")
    if (args.site or args.site_text or args.laterality) and not args.lesion:
        raise InvalidInput("--site, --site-text and --laterality describe a lesion: give --lesion LABEL too.")
    if args.dry_run and args.remove_originals:
        raise InvalidInput("--remove-originals cannot be combined with --dry-run.")
    with open_archive(args) as archive:
        patient = records.patient_by_nhi(archive, args.patient)
        bar = ProgressBar(enabled=None if not args.json else False)
        plan = scan(args.folder, archive, progress=bar, cancelled=bar.cancel.is_set)
        if args.dry_run:
            emit(args, {"entries": [e.as_json() for e in plan.entries], "counts": plan.counts()},
                 _plan_lines(plan))
            return 0
        # The same use case as the import wizard: the photos' visits by capture gap, one lesion
        # (found, or created with the given site), consent recorded afterwards with `consent set`.
        choices = ImportChoices(patient_id=patient.id, keep_location=args.keep_location,
                                location_reason=args.location_reason, consent=ConsentChoice(mode="later"),
                                clinician=archive.user.name)
        if args.lesion and args.lesion not in {lesion.label for lesion in records.lesions(archive, patient.id)}:
            choices.new_lesions[args.lesion] = NewLesion(args.lesion, args.site, args.site_text, args.laterality)
        # Capture sessions over the new photos and those already imported, so a re-run (after an
        # interruption) continues the visit its earlier photos made instead of starting another.
        seen = [e for e in plan.entries if e.status in ("new", "already-imported") and e.metadata]
        visits = suggest_visits(seen, args.gap_hours)
        for v, group in enumerate(visits):
            earlier = continued_visit(archive, patient.id, group)
            for e in group:
                if e.status != "new":
                    continue
                undated = bool(args.undated_visit_date and e.metadata
                               and e.metadata.taken_at_source in ("file-time", "unknown"))
                # one visit on the given day for the photos with no camera date
                choices.photos[e.rel] = PhotoChoice(visit=len(visits) if undated else v, kind=args.kind,
                                                    lesion=args.lesion or "",
                                                    visit_date=args.undated_visit_date if undated else "",
                                                    visit_id=None if undated else earlier)
        result = carry_out(archive, plan, choices, progress=bar, cancelled=bar.cancel.is_set).result
        removed = remove_originals(archive, result) if args.remove_originals else []
        outcome_of = {o.rel: o for o in result.outcomes}
        entries = []
        for e in plan.entries:
            row = e.as_json()
            o = outcome_of.get(e.rel)
            if o is not None:
                row.update(o.as_json())
            row["removed"] = e.rel in removed
            entries.append(row)
        failed = [o for o in result.outcomes if o.status == "failed"]
        counts = result.counts()
        text = [f"{o.status:<16} {o.rel}" + (f" — {o.reason}" if o.reason else "")
                for o in result.outcomes if o.status != "imported"]
        others = [f"{n} {s}" for s, n in sorted(counts.items()) if s != "imported"]
        listed = sum(1 for e in plan.entries if e.status in ("skipped", "rejected", "duplicate"))
        text.append(f"Imported {len(result.imported)} photo(s) into {len(result.visits)} new visit(s)"
                    + (f"; {', '.join(others)}" if others else "")
                    + f"; {listed} other file(s) not imported, each listed above with its reason.")
        text[:0] = [f"{e.status:<16} {e.rel} — {e.reason}" for e in plan.entries
                    if e.status in ("skipped", "rejected", "duplicate")]
        if removed:
            text.append(f"Removed {len(removed)} original file(s) from {args.folder} (verified in the archive).")
        undated = [] if args.undated_visit_date else _undated(archive, plan, outcome_of)
        if undated:
            text.append(f"{len(undated)} photo(s) had no camera date; their visit is dated by when the file was "
                        "saved, which may not be when it was taken. Check the date, or give it with "
                        "--undated-visit-date YYYY-MM-DD:")
            text += [f"  {rel}  (visit dated {when})" for rel, when in undated]
        emit(args, {"imported": result.imported, "counts": counts, "visits": result.visits,
                    "removed": removed, "entries": entries,
                    "undated": [{"file": rel, "visit_date": when} for rel, when in undated]}, text)
    return 1 if failed else 0


def _undated(archive: Any, plan: Any, outcome_of: dict[str, Any]) -> list[tuple[str, str]]:
    """Imported photos whose camera gave no date (dated by file time, or not at all), with the date
    their visit got."""
    from ..archive import records

    out = []
    for e in plan.entries:
        o = outcome_of.get(e.rel)
        if o is None or o.status != "imported" or not e.metadata:
            continue
        if e.metadata.taken_at_source in ("file-time", "unknown"):
            out.append((e.rel, records.get_image(archive, o.image_id).visit_date))
    return out


def cmd_images(args: argparse.Namespace) -> int:
    from ..archive import records

    with open_archive(args) as archive:
        patient = records.patient_by_nhi(archive, args.patient)
        found = records.images(archive, patient_id=patient.id)
        archive.log_event("patient.view", {"patient": patient.id}, {"images_listed": len(found)})
        # A quick look at each stored copy (stat only), so a damaged one is flagged in the list.
        problems = {i.id: archive.blobs.quick_problem(archive.blob_ref(i.blob_id)) for i in found}
        rows = [{**i.as_json(), "stored_copy": problems[i.id] or "ok"} for i in found]
        damaged = [i.id for i in found if problems[i.id]]
        lines = [f"{i.id:>5}  {i.taken_at or i.visit_date}  {i.kind:<12} {i.device}  {i.width}×{i.height}"
                 + (f"  [DAMAGED: {problems[i.id]}; run 'dermarchive verify']" if problems[i.id] else "")
                 for i in found]
        lines.append(f"{len(found)} image(s)." + (f" {len(damaged)} stored copy(ies) damaged." if damaged else ""))
        emit(args, {"images": rows}, lines)
    return 0
