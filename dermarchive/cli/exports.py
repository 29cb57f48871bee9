"""CLI: ``dermarchive export`` — the patient's own copy, or a de-identified set.

The purpose decides the exporter; both ask the consent policy first (patient access is always
allowed). Each exporter lives in its own module:
``patient_access.export_patient_access(archive, patient_id, out, *, image_ids=None, progress=None,
cancelled=None)`` and ``deidentified.export_deidentified(archive, patient_id, purpose, out, *,
image_ids=None, redactions=None, progress=None, cancelled=None)``; both return a dict summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import ProgressBar, add_archive, emit, open_archive


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[parent],
                       help="export a patient's images (patient access, or de-identified for education/publication/research)")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.add_argument("--purpose", required=True,
                   choices=["patient-access", "education", "publication", "research", "promotion"])
    p.add_argument("--image", type=int, action="append", dest="images", metavar="ID", help="only these images")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from ..archive import records

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        bar = ProgressBar()
        if args.purpose == "patient-access":
            from ..exports.patient_access import export_patient_access
            summary = export_patient_access(a, patient.id, args.out, image_ids=args.images, progress=bar)
        else:
            from ..exports.deidentified import export_deidentified
            summary = export_deidentified(a, patient.id, args.purpose, args.out, image_ids=args.images,
                                          progress=bar)
        lines = [f"Exported {summary.get('count', 0)} image(s) to {args.out}."]
        lines += [f"  {note} (the export needs no more)" for note in summary.get("downscaled", [])]
        emit(args, summary, lines)
    return 0
