"""CLI: ``dermarchive consent set | withdraw | show`` over :mod:`dermarchive.consent.records`.

On the command line there is no signature pad: ``--signature FILE`` stores a scan or photo of the
signature; without it, ``--method written-signature`` records that the patient signed on paper
(and ``consent show`` says so).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_archive, emit, open_archive
from ..errors import InvalidInput
from ..consent.scopes import METHODS, parse_purposes


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("consent", help="record, withdraw or show a patient's consent")
    csub = p.add_subparsers(dest="consent_command", metavar="ACTION", required=True)

    s = csub.add_parser("set", parents=[parent], help="record a new consent version for a visit")
    add_archive(s)
    s.add_argument("--patient", required=True, metavar="NHI")
    s.add_argument("--visit", type=int, metavar="ID", help="visit id (default: the latest visit)")
    s.add_argument("--grant", required=True, metavar="PURPOSES",
                   help="comma-separated, e.g. clinical,education ('clinical' = all clinical purposes)")
    s.add_argument("--method", required=True, choices=METHODS)
    s.add_argument("--reason", metavar="TEXT", help="exemption reason (required with --method exemption)")
    s.add_argument("--obtained-by", required=True, metavar="NAME")
    s.add_argument("--obtained-at", metavar="YYYY-MM-DD", help="default: now")
    s.add_argument("--notes", default="", metavar="TEXT")
    ev = s.add_mutually_exclusive_group()
    ev.add_argument("--signature", type=Path, metavar="IMAGE", help="scan/photo of the signature")
    ev.add_argument("--form-photo", type=int, metavar="IMAGE-ID", help="the visit's consent-form photo")
    s.set_defaults(func=cmd_set)

    w = csub.add_parser("withdraw", parents=[parent], help="withdraw a visit's consent")
    add_archive(w)
    w.add_argument("--patient", required=True, metavar="NHI")
    w.add_argument("--visit", type=int, metavar="ID", help="visit id (default: the latest visit)")
    w.add_argument("--reason", required=True, metavar="TEXT")
    w.add_argument("--delete-non-essential", action="store_true",
                   help="delete (for real) the visit's photos not marked essential for care")
    w.set_defaults(func=cmd_withdraw)

    sh = csub.add_parser("show", parents=[parent], help="a patient's consent per visit, with history")
    add_archive(sh)
    sh.add_argument("--patient", required=True, metavar="NHI")
    sh.set_defaults(func=cmd_show)


def _visit(a: Any, patient_id: int, visit_id: int | None) -> int:
    from ..archive import records
    from ..consent.records import latest_visit

    if visit_id is None:
        return latest_visit(a, patient_id)
    if records.get_visit(a, visit_id).patient_id != patient_id:
        raise InvalidInput(f"Visit {visit_id} belongs to another patient.")
    return visit_id


def cmd_set(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..consent.records import record_consent

    signature = None
    if args.signature is not None:
        try:
            signature = args.signature.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"Cannot read the signature image {args.signature}: {exc.strerror}.") from None
    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        visit_id = _visit(a, patient.id, args.visit)
        on_paper = args.method == "written-signature" and signature is None
        v = record_consent(a, visit_id, scopes=parse_purposes(args.grant), method=args.method,
                           obtained_by=args.obtained_by, obtained_at=args.obtained_at,
                           exemption_reason=args.reason, signature=signature,
                           signature_on_paper=on_paper, form_image_id=args.form_photo, notes=args.notes)
        emit(args, v.as_json(),
             f"Consent version {v.version} recorded for visit {visit_id}: {', '.join(v.scopes)} "
             f"({v.evidence}).")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..workflows.consent import withdraw_consent

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        visit_id = _visit(a, patient.id, args.visit)
        w = withdraw_consent(a, visit_id, reason=args.reason, delete_non_essential=args.delete_non_essential)
        lines = [f"Consent for visit {visit_id} withdrawn (version {w.version.version})."]
        if args.delete_non_essential:
            lines.append(f"Deleted {len(w.deleted)} photo(s); kept {len(w.kept)} essential for care "
                         f"(clinical record only).")
            lines += w.pacs_lines()
        else:
            lines.append(f"{len(w.kept)} photo(s) kept, now limited to the clinical record.")
        emit(args, w.as_json(), lines)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..consent.records import patient_consents

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        visits = patient_consents(a, patient.id)
        lines = []
        for v in visits:
            cur = v["current"]
            if cur is None:
                state = "no consent recorded (clinical record only)"
            elif cur["withdrawn"]:
                state = f"WITHDRAWN {cur['withdrawn_at'][:10]} (v{cur['version']})"
            else:
                state = f"v{cur['version']} {cur['method']}: {', '.join(cur['scopes'])} — {cur['evidence']}"
            lines.append(f"visit {v['visit_id']} {v['date']} ({v['images']} photos): {state}")
        emit(args, {"patient_id": patient.id, "visits": visits}, lines or ["This patient has no visits."])
    return 0
