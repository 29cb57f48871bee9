"""CLI: ``dermarchive referral`` (the referral PDF) and ``dermarchive settings practice`` (its letterhead).

    dermarchive referral ARCHIVE --patient NHI [--image ID ...] --to TEXT --question TEXT
        [--history TEXT] [--urgency routine|soon|urgent] [--referrer TEXT] --out FILE.pdf
        [--pdf-password-file F]
    dermarchive settings practice ARCHIVE [--name N] [--address A] [--phone P] [--email E]

Without ``--image`` the letter carries all of the patient's clinical and dermoscopic photos whose
consent allows referral. ``--to``, ``--question`` and ``--history`` accept ``\\n`` for a new line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import ProgressBar, add_archive, emit, open_archive, read_secret_file


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    from ..exports.referral import URGENCIES

    p = sub.add_parser("referral", parents=[parent], help="write a consent-checked referral letter (PDF) with photos",
                       description="Write a referral letter as a PDF with the patient's photos. Every photo "
                                   "needs 'clinical.referral' consent, otherwise nothing is written.")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI", help="the patient's NHI")
    p.add_argument("--image", type=int, action="extend", nargs="+", dest="images", metavar="ID",
                   help="photos to include (default: every clinical and dermoscopic photo allowed for referral)")
    p.add_argument("--to", required=True, metavar="TEXT", help="recipient and their practice or service")
    p.add_argument("--question", required=True, metavar="TEXT", help="the clinical question")
    p.add_argument("--history", default="", metavar="TEXT", help="history and findings")
    p.add_argument("--urgency", default="routine", choices=list(URGENCIES))
    p.add_argument("--referrer", metavar="TEXT",
                   help="who refers, e.g. 'Dr Jane Smith, GP' (default: as on your last referral, else your user name)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    p.add_argument("--pdf-password-file", metavar="F", help="protect the PDF (AES-256) with the password in file F")
    p.set_defaults(func=cmd_referral)

    s = sub.add_parser("settings", help="archive settings shared by every user")
    ssub = s.add_subparsers(dest="settings_command", metavar="SETTING", required=True)
    pr = ssub.add_parser("practice", parents=[parent], help="show or change the practice letterhead on referrals")
    add_archive(pr)
    pr.add_argument("--name", help="practice name")
    pr.add_argument("--address", help="postal address (\\n between lines)")
    pr.add_argument("--phone", help="phone number for questions about referrals")
    pr.add_argument("--email", help="email address")
    pr.set_defaults(func=cmd_practice)


def _lines(text: str | None) -> str | None:
    return None if text is None else text.replace("\\n", "\n")


def cmd_referral(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..exports.referral import build_referral

    password = read_secret_file(args.pdf_password_file, "PDF password") if args.pdf_password_file else None
    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        summary = build_referral(a, patient.id, image_ids=args.images, to=_lines(args.to) or "",
                                 question=_lines(args.question) or "", history=_lines(args.history) or "",
                                 urgency=args.urgency, referrer=args.referrer, out=args.out,
                                 pdf_password=password, progress=ProgressBar())
    lock = ", password-protected (AES-256)" if summary["encrypted"] else ""
    emit(args, summary, f"Referral written to {args.out}: {summary['count']} photo(s), "
                        f"{summary['pages']} page(s){lock}.")
    return 0


def cmd_practice(args: argparse.Namespace) -> int:
    from ..exports.referral import letterhead, set_letterhead

    with open_archive(args) as a:
        if any(v is not None for v in (args.name, args.address, args.phone, args.email)):
            lh = set_letterhead(a, name=args.name, address=_lines(args.address), phone=args.phone, email=args.email)
        else:
            lh = letterhead(a)
    text = [f"Name:    {lh.name or '(not set)'}", f"Address: {lh.address.replace(chr(10), ', ') or '(not set)'}",
            f"Phone:   {lh.phone or '(not set)'}", f"Email:   {lh.email or '(not set)'}"]
    emit(args, lh.as_json(), text)
    return 0
