"""CLI: ``dermarchive dicom`` (files + DICOMDIR) and ``dermarchive pacs set/send/status/test``.

    dermarchive dicom ARCHIVE --patient NHI [--image ID ...] --out DIR
    dermarchive dicom-dermoscopy ARCHIVE --image ID ... [--polarization P] [--contact C]
                                 [--immersion M] [--magnification X] [--default]
    dermarchive pacs set ARCHIVE --url URL --user NAME --password-file F
    dermarchive pacs test ARCHIVE
    dermarchive pacs send ARCHIVE --patient NHI [--image ID ...]
    dermarchive pacs status ARCHIVE --patient NHI [--json]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import ProgressBar, add_archive, emit, open_archive, read_secret_file


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("dicom", parents=[parent],
                       help="write a patient's photos as DICOM files with a DICOMDIR (USB stick, CD)")
    add_archive(p)
    p.add_argument("--patient", required=True, metavar="NHI")
    p.add_argument("--image", type=int, action="extend", nargs="+", dest="images", metavar="ID",
                   help="only these images (--image 3 4, or repeat --image)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="new or empty folder")
    p.set_defaults(func=cmd_dicom)

    d = sub.add_parser("dicom-dermoscopy", parents=[parent],
                       help="record dermoscopy attributes (polarisation, contact, immersion, magnification)")
    add_archive(d)
    d.add_argument("--image", type=int, action="extend", nargs="+", dest="images", metavar="ID",
                   help="dermoscopic images to change (--image 3 4, or repeat --image)")
    d.add_argument("--default", action="store_true", help="change the archive's defaults instead")
    d.add_argument("--polarization", choices=["polarized", "non-polarized"])
    d.add_argument("--contact", choices=["contact", "non-contact"])
    d.add_argument("--immersion", choices=["none", "water", "ultrasound-gel", "alcohol", "mineral-oil",
                                           "plastic-cap"])
    d.add_argument("--magnification", type=float, metavar="X")
    d.set_defaults(func=cmd_dermoscopy)

    pacs = sub.add_parser("pacs", help="send photos to the practice PACS over DICOMweb")
    psub = pacs.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)
    # Here --user is the PACS account (as the PACS administrator gives it); the archive user, when
    # the archive has several, is --archive-user.
    s = psub.add_parser("set", help="set the PACS target (password stored encrypted)")
    add_archive(s)
    s.add_argument("--url", required=True, help="DICOMweb root, e.g. https://pacs.example/dicom-web")
    s.add_argument("--user", dest="pacs_user", required=True, metavar="NAME", help="PACS user name")
    s.add_argument("--password-file", dest="pacs_password_file", required=True, metavar="F",
                   help="file holding the PACS password")
    s.add_argument("--archive-user", metavar="NAME", help="archive user (default: $DERMARCHIVE_USER or the only user)")
    s.add_argument("--passphrase-file", metavar="F", help="read the archive passphrase from file F")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--no-test", action="store_true", help="save without trying the connection")
    s.set_defaults(func=cmd_pacs_set)
    t = psub.add_parser("test", parents=[parent], help="try the saved PACS connection")
    add_archive(t)
    t.set_defaults(func=cmd_pacs_test)
    snd = psub.add_parser("send", parents=[parent], help="send a patient's photos (STOW-RS)")
    add_archive(snd)
    snd.add_argument("--patient", required=True, metavar="NHI")
    snd.add_argument("--image", type=int, action="extend", nargs="+", dest="images", metavar="ID",
                     help="only these images (--image 3 4, or repeat --image)")
    snd.set_defaults(func=cmd_pacs_send)
    st = psub.add_parser("status", parents=[parent], help="which of a patient's photos the PACS holds (QIDO-RS)")
    add_archive(st)
    st.add_argument("--patient", required=True, metavar="NHI")
    st.set_defaults(func=cmd_pacs_status)


def cmd_dicom(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..dicom.export import export_dicom

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        summary = export_dicom(a, patient.id, args.out, image_ids=args.images, progress=ProgressBar())
    routes = ", ".join(f"{n} {r}" for r, n in sorted(summary["routes"].items()))
    emit(args, summary, [f"Wrote {summary['count']} DICOM image(s) and a DICOMDIR to {args.out} ({routes}).",
                         *summary["notes"]])
    return 0


def cmd_dermoscopy(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput
    from ..archive import dicom_store

    attrs = {k: getattr(args, k) for k in ("polarization", "contact", "immersion", "magnification")
             if getattr(args, k) is not None}
    if not attrs:
        raise InvalidInput("Give at least one of --polarization, --contact, --immersion, --magnification.")
    with open_archive(args) as a:
        if args.default:
            d = dicom_store.set_dermoscopy_defaults(a, **attrs)
            emit(args, d.__dict__, f"Dermoscopy defaults: {d.polarization}, {d.contact}, "
                                   f"immersion {d.immersion or 'none'}, {d.magnification:g}x.")
            return 0
        if not args.images:
            raise InvalidInput("Say which images with --image ID, or use --default.")
        n = dicom_store.set_dermoscopy_attributes(a, args.images, **attrs)
        emit(args, {"changed": n}, f"Dermoscopy attributes recorded for {n} image(s).")
    return 0


def cmd_pacs_set(args: argparse.Namespace) -> int:
    from ..dicom import pacs

    password = read_secret_file(args.pacs_password_file, "PACS password")
    archive_args = argparse.Namespace(archive=args.archive, user=args.archive_user,
                                      passphrase_file=args.passphrase_file)
    with open_archive(archive_args) as a:
        target = pacs.set_target(a, args.url, args.pacs_user, password, test=not args.no_test)
    emit(args, {"url": target.url, "user": target.user}, f"PACS target saved: {target.url} (user {target.user}).")
    return 0


def cmd_pacs_test(args: argparse.Namespace) -> int:
    from ..dicom import pacs

    with open_archive(args) as a:
        message = pacs.test_connection(a)
    emit(args, {"ok": True, "message": message}, message)
    return 0


def cmd_pacs_send(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..dicom import pacs

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        summary = pacs.send_to_pacs(a, patient.id, image_ids=args.images, progress=ProgressBar())
    emit(args, summary, [f"Sent {summary['sent']} image(s) to the PACS "
                         f"({summary['already_there']} already there).", *summary["notes"]])
    return 0


def cmd_pacs_status(args: argparse.Namespace) -> int:
    from ..archive import records
    from ..dicom import pacs

    with open_archive(args) as a:
        patient = records.patient_by_nhi(a, args.patient)
        status = pacs.pacs_status(a, patient.id)
    lines = [f"image {i['id']}: {'in the PACS' if i['in_pacs'] else 'not in the PACS'}" for i in status["images"]]
    emit(args, status, lines or ["This patient has no clinical photos."])
    return 0
