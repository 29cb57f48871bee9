"""CLI: ``dermarchive sheet`` (print a photo consent sheet) and ``dermarchive import --by-sheet``.

``sheet ARCHIVE --patient NHI [--visit-date YYYY-MM-DD] [--lesion LABEL …] --out FILE.pdf``

``import ARCHIVE FOLDER --by-sheet [--dry-run] [--json] [--accept-sheet-consent]``: the photos
are sorted by the consent sheets photographed among them; each JSON entry gains ``patient``
(NHI or null) and ``sheet`` (true for sheet photos, which carry ``consent`` as read); photos
that wait for the nurse have status ``needs-patient``. Exit 0 when every file was handled
(imported, or listed with its reason), 1 when a photo failed to store.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .common import ProgressBar, add_archive, emit, open_archive


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sheet", parents=[parent], help="print a patient's photo consent sheet (A4 PDF)")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.add_argument("--visit-date", metavar="YYYY-MM-DD", help="the visit the sheet is for (default: the day "
                                                              "the sheet is photographed)")
    p.add_argument("--lesion", action="append", default=[], metavar="LABEL",
                   help="add a small label with its own code for this lesion (repeatable)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    p.set_defaults(func=cmd_sheet)


def add_import_options(p: argparse.ArgumentParser) -> None:
    """The ``import`` command's by-sheet options (the import parser lives with the other imports)."""
    p.add_argument("--by-sheet", action="store_true",
                   help="sort the photos by the photo consent sheets photographed among them (no --patient)")
    p.add_argument("--accept-sheet-consent", action="store_true",
                   help="with --by-sheet: record the consent read from each clear, signed sheet "
                        "(audited as read from the form, by you)")


def cmd_sheet(args: argparse.Namespace) -> int:
    from ..sheets.issue import save_sheet

    with open_archive(args) as archive:
        size = save_sheet(archive, args.patient, args.out, visit_date=args.visit_date, lesions=args.lesion)
    emit(args, {"out": str(args.out), "bytes": size, "lesion_labels": len(args.lesion)},
         f"Wrote the photo consent sheet to {args.out}. Print it, let the patient tick and sign, and "
         "photograph it before the patient's photos.")
    return 0


def _line(row: dict[str, Any]) -> str:
    who = row.get("patient") or "-"
    what = " [consent sheet]" if row.get("sheet") else ""
    why = f" — {row['reason']}" if row.get("reason") and row.get("status") != "imported" else ""
    return f"{row['status']:<16} {who:<8} {row['path']}{what}{why}"


def cmd_import_by_sheet(args: argparse.Namespace) -> int:
    from ..workflows.clinic_day import import_clinic_day, plan_clinic_day

    if args.patient:
        raise InvalidInput("--by-sheet takes each photo's patient from the consent sheets: leave out --patient.")
    clashing = [flag for flag, on in (("--lesion", args.lesion), ("--site", args.site), ("--site-text", args.site_text),
                                      ("--laterality", args.laterality), ("--kind", args.kind != "clinical"),
                                      ("--remove-originals", args.remove_originals),
                                      ("--keep-location", args.keep_location),
                                      ("--undated-visit-date", args.undated_visit_date)) if on]
    if clashing:
        raise InvalidInput(f"{', '.join(clashing)} cannot be combined with --by-sheet.")
    if args.accept_sheet_consent and args.dry_run:
        raise InvalidInput("--accept-sheet-consent records consent; it cannot be combined with --dry-run.")
    with open_archive(args) as archive:
        bar = ProgressBar(enabled=None if not args.json else False)
        day = plan_clinic_day(archive, args.folder, progress=bar, cancelled=bar.cancel.is_set)
        result = None
        if not args.dry_run:
            confirmed = {g.serial: g.consent for g in day.groups if g.consent is not None} \
                if args.accept_sheet_consent else {}
            result = import_clinic_day(archive, day, confirmed=confirmed, progress=bar, cancelled=bar.cancel.is_set)
        outcomes = result.outcomes() if result else {}
        entries = []
        for e in day.plan.entries:
            row = e.as_json()
            if e.rel in outcomes:
                row.update(outcomes[e.rel].as_json())
            row.update(day.entry_json(e.rel))
            entries.append(row)
        groups = [g.as_json() for g in result.groups] if result else [
            {"patient": g.nhi, "sheet_serial": g.serial, "photos": len(g.rels()),
             "consent": g.consent.as_json() if g.consent is not None else None} for g in day.groups]
        counts: dict[str, int] = {}
        for row in entries:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        text = [_line(r) for r in entries]
        text.append(("Would import" if args.dry_run else "Imported") +
                    f" the photos of {len(day.groups)} patient(s); {len(day.waiting)} photo(s) wait for a patient.")
        for g in groups:
            read = g.get("consent") or {}
            line = (f"  {g['patient']}: {g['photos']} photo(s); consent read: "
                    f"{', '.join(read.get('ticked', [])) or 'nothing ticked'}; signed: "
                    f"{ {True: 'yes', False: 'no', None: 'unclear'}[read.get('signed')] }")
            if read.get("unclear"):
                line += f"; unclear: {', '.join(read['unclear'])}"
            if "consent_recorded" in g:
                line += "; consent recorded" if g["consent_recorded"] else f"; consent {g['consent_note']}"
            text.append(line)
        emit(args, {"entries": entries, "counts": counts, "patients": groups,
                    "imported": sum(1 for r in entries if r["status"] == "imported")}, text)
    failed = [r for r in entries if r["status"] == "failed"]
    return 1 if failed else 0
