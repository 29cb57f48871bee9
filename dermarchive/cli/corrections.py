"""CLI: correcting the record (issue 16) — ``patient edit|merge|import``, ``image move|delete``,
``lesion edit`` and ``lesions``. Each command calls one use case of
:mod:`dermarchive.workflows.corrections` (the GUI's dialogs call the same ones)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..archive import records
from ..archive.records import LESION_STATUSES
from .common import add_archive, emit, open_archive

STATUSES = LESION_STATUSES


def _corrections() -> Any:
    """The corrections workflows, imported when a command runs: they bring the PACS client
    (pydicom, requests), which every other command's start-up would pay for."""
    from ..workflows import corrections

    return corrections


def _sub(sub: Any, name: str, help_text: str) -> Any:
    """The ``patient``/``image``/``lesion`` group (``patient`` already exists: reuse it)."""
    existing = sub.choices.get(name)
    if existing is not None:
        return next(a for a in existing._actions if isinstance(a, argparse._SubParsersAction))
    return sub.add_parser(name, help=help_text).add_subparsers(dest=f"{name}_command", metavar="ACTION")


def _reason(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", required=True, metavar="R", help="why (kept in the audit log)")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    patient = _sub(sub, "patient", "patients")
    p = patient.add_parser("edit", parents=[parent], help="correct a patient's details")
    add_archive(p)
    p.add_argument("--nhi", required=True)
    p.add_argument("--family", metavar="F")
    p.add_argument("--given", metavar="G")
    p.add_argument("--dob", metavar="YYYY-MM-DD")
    p.add_argument("--new-nhi", metavar="NHI", help="change the NHI (clinicians and admins)")
    _reason(p)
    p.set_defaults(func=cmd_patient_edit)

    p = patient.add_parser("merge", parents=[parent], help="merge one patient into another (clinicians, admins)")
    add_archive(p)
    p.add_argument("--from", dest="from_nhi", required=True, metavar="NHI")
    p.add_argument("--into", dest="into_nhi", required=True, metavar="NHI")
    _reason(p)
    p.set_defaults(func=cmd_patient_merge)

    p = patient.add_parser("import", parents=[parent], help="register patients from a CSV (nhi,family,given,dob)")
    add_archive(p)
    p.add_argument("file", metavar="FILE.csv", type=Path)
    p.set_defaults(func=cmd_patient_import)

    image = _sub(sub, "image", "correct photos")
    p = image.add_parser("move", parents=[parent], help="file photos under another lesion and/or patient")
    add_archive(p)
    p.add_argument("--image", dest="images", type=int, action="append", required=True, metavar="ID")
    p.add_argument("--to-patient", metavar="NHI")
    p.add_argument("--to-lesion", metavar="LABEL")
    _reason(p)
    p.set_defaults(func=cmd_image_move)

    p = image.add_parser("delete", parents=[parent], help="delete photos for real (clinicians, admins)")
    add_archive(p)
    p.add_argument("--image", dest="images", type=int, action="append", required=True, metavar="ID")
    _reason(p)
    p.set_defaults(func=cmd_image_delete)

    lesion = _sub(sub, "lesion", "correct lesions")
    p = lesion.add_parser("edit", parents=[parent], help="correct a lesion's label, site, diagnosis or status")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.add_argument("--lesion", required=True, metavar="LABEL")
    p.add_argument("--label", metavar="NEW")
    p.add_argument("--site", metavar="S", help="a standard body site key, e.g. forearm")
    p.add_argument("--laterality", metavar="L", help="left, right, bilateral, midline (or '' for none)")
    p.add_argument("--diagnosis", metavar="TEXT")
    p.add_argument("--status", choices=STATUSES)
    _reason(p)
    p.set_defaults(func=cmd_lesion_edit)

    p = sub.add_parser("lesions", parents=[parent], help="a patient's lesions")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.set_defaults(func=cmd_lesions)


def cmd_patient_edit(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        done = _corrections().edit_patient(a, args.nhi, family=args.family, given=args.given, dob=args.dob,
                                 new_nhi=args.new_nhi, reason=args.reason)
        text = (f"Patient {done.patient.nhi}: changed {', '.join(done.changed)}." if done.changed
                else "Nothing to change: the details are already so.")
        emit(args, done.as_json(), [text, *done.pacs.lines()])
    return 0


def cmd_patient_merge(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        done = _corrections().merge_patients(a, args.from_nhi, args.into_nhi, reason=args.reason)
        m = done.moved
        text = [(f"Merged into {done.patient.nhi}: {len(m['visits'])} visit(s), {len(m['lesions'])} lesion(s), "
                 f"{len(m['images'])} photo(s); the other record is no longer listed.")]
        if m["relabelled_lesions"]:
            text.append(f"{len(m['relabelled_lesions'])} lesion(s) relabelled because the label was taken "
                        "(see 'dermarchive lesions').")
        emit(args, done.as_json(), text + done.pacs.lines())
    return 0


def cmd_patient_import(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        done = _corrections().import_patients(a, args.file)
        text = [f"Registered {len(done.added)} patient(s)."]
        if done.already_registered:
            text.append(f"Already registered, left as they are ({len(done.already_registered)}): "
                        + ", ".join(done.already_registered))
        emit(args, done.as_json(), text)
    return 0


def cmd_image_move(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        done = _corrections().move_images(a, args.images, to_patient_nhi=args.to_patient, to_lesion=args.to_lesion,
                                reason=args.reason)
        text = [f"Moved {len(done.moves)} photo(s)" + (f" ({len(done.new_visits)} new visit)" if done.new_visits else "")
                + "." + (f" Already there: image(s) {', '.join(map(str, done.unchanged))}." if done.unchanged else "")]
        emit(args, done.as_json(), text + done.pacs.lines())
    return 0


def cmd_image_delete(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        done = _corrections().delete_images(a, args.images, reason=args.reason)
        emit(args, done.as_json(), [f"Deleted {len(done.deleted)} photo(s) and erased their stored files.",
                                    *done.pacs.lines(deleting=True)])
    return 0


def cmd_lesion_edit(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        lesion, changed = _corrections().edit_lesion(a, args.patient, args.lesion, new_label=args.label, site=args.site,
                                           laterality=args.laterality, diagnosis=args.diagnosis,
                                           status=args.status, reason=args.reason)
        emit(args, {"label": lesion.label, "changed": changed},
             f"Lesion {lesion.label}: changed {', '.join(changed)}." if changed else "Nothing to change.")
    return 0


def cmd_lesions(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        found = _corrections().lesion_summaries(a, args.patient)
        a.log_event("patient.view", {"patient": records.patient_by_nhi(a, args.patient).id},
                    {"lesions_listed": len(found)})
        emit(args, {"lesions": found},
             [f"{l['label']:<10} {l['status']:<10} {l['site'] or '-':<10} {l['laterality'] or '':<9} "
              f"{l['images']:>3} photo(s)  {l['diagnosis']}" for l in found] or ["No lesions."])
    return 0
