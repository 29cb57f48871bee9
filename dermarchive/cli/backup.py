"""CLI: ``dermarchive backup ARCHIVE DEST``, ``dermarchive backup verify DEST``,
``dermarchive restore DEST NEWARCHIVE``.

``backup verify`` needs no passphrase: it then checks structure, sizes and checksums. Given a
passphrase (``--passphrase-file`` or ``$DERMARCHIVE_PASSPHRASE_FILE``, or ``--decrypt`` to be
asked) it also checks the manifest's authentication and that everything decrypts. To back up an
archive folder that is literally called ``verify``, write ``./verify``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import ProgressBar, emit, open_archive, read_passphrase
from ..errors import InvalidInput

VERIFY_WORD = "verify"


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backup", parents=[parent],
        usage="dermarchive backup ARCHIVE DEST [--recheck]\n       dermarchive backup verify DEST [--decrypt]",
        help="back an archive up to a folder (incremental, encrypted), or 'backup verify DEST'",
        description="Back ARCHIVE up into the folder DEST: a consistent snapshot plus only the stored "
                    "photos DEST lacks; photos deleted from the archive are removed from DEST too. "
                    "'backup verify DEST' checks a backup folder against its manifest.",
    )
    p.add_argument("archive", metavar="ARCHIVE", type=Path, help="archive folder (or the word 'verify')")
    p.add_argument("dest", metavar="DEST", type=Path, nargs="?", help="backup folder")
    p.add_argument("--recheck", action="store_true",
                   help="re-read every file already in DEST and replace any damaged one")
    p.add_argument("--decrypt", action="store_true",
                   help="verify: ask for the passphrase and check that everything decrypts")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[parent],
                       help="restore a backup folder into a new archive folder (never overwrites)")
    p.add_argument("dest", metavar="DEST", type=Path, help="backup folder")
    p.add_argument("new_archive", metavar="NEWARCHIVE", type=Path, help="new, empty archive folder")
    p.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    if args.dest is None:
        raise InvalidInput("Give the backup folder: 'dermarchive backup ARCHIVE DEST' or "
                           "'dermarchive backup verify DEST'.")
    if str(args.archive) == VERIFY_WORD:
        return _verify(args)
    from ..backup.create import backup

    with open_archive(args) as archive:
        summary = backup(archive, args.dest, create=True, recheck=args.recheck, progress=ProgressBar())
    emit(args, summary.as_json(), summary.lines())
    return 1 if summary.problems else 0


def _verify(args: argparse.Namespace) -> int:
    from ..backup.create import verify_backup

    passphrase = user = None
    if args.passphrase_file or os.environ.get("DERMARCHIVE_PASSPHRASE_FILE") or args.decrypt:
        passphrase = read_passphrase(args)
        user = _backup_user(args)
    check = verify_backup(args.dest, user=user, passphrase=passphrase, progress=ProgressBar())
    emit(args, check.as_json(), check.lines())
    return 0 if check.ok else 1


def cmd_restore(args: argparse.Namespace) -> int:
    from ..backup.create import restore

    summary = restore(args.dest, args.new_archive, user=_backup_user(args),
                      passphrase=read_passphrase(args), progress=ProgressBar())
    emit(args, summary.as_json(), summary.lines())
    return 0


def _backup_user(args: argparse.Namespace) -> str:
    from ..backup.create import backup_users

    name = args.user or os.environ.get("DERMARCHIVE_USER")
    if name:
        return str(name)
    users = backup_users(args.dest)
    if len(users) == 1:
        return users[0]
    raise InvalidInput(f"This backup has several users ({', '.join(users)}): say which with --user.")
