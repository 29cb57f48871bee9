"""``dermarchive …``: headless commands over the same core the GUI uses.

One module per command group registers its sub-commands (``register(sub, parent)``); what they
share (the archive argument, passphrase reading, ``--json`` output, a progress bar) is in
:mod:`.common`. :func:`main` turns :class:`DermArchiveError` into a message and an exit code
(never a traceback). Nothing below this package imports it.

Passphrase: ``--passphrase-file F``, else ``$DERMARCHIVE_PASSPHRASE_FILE``, else a hidden prompt.
User: ``--user NAME``, else ``$DERMARCHIVE_USER``, else the archive's only user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import DermArchiveError
from . import archive, backup, compare, consent, corrections, demo, dicom, exports, ingest, referral, sheet
from .common import OpenApp, common_parent, printable

COMMAND_GROUPS = (archive, corrections, ingest, sheet, consent, exports, referral, backup, dicom, compare, demo)


# -- entry point -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dermarchive", description="Encrypted clinical photo archive.")
    parser.add_argument("--version", action="version", version=f"DermArchive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parent()
    for group in COMMAND_GROUPS:
        group.register(sub, parent)
    return parser


def main(argv: Sequence[str] | None = None, *, open_app: OpenApp | None = None) -> int:
    """Run one command. ``open_app`` is how a command that ends in the desktop app (``demo``)
    opens it; the program (:mod:`dermarchive.launch`) passes it, so this face never imports the GUI."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    args.open_app = open_app
    handler: Callable[[argparse.Namespace], int | None] | None = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except DermArchiveError as exc:
        try:
            if getattr(args, "json", False):
                print(json.dumps({"error": printable(str(exc)), "type": type(exc).__name__}), file=sys.stdout)
            print(f"dermarchive: {printable(str(exc))}", file=sys.stderr)
        except BrokenPipeError:
            return _reader_gone()
        return exc.exit_code
    except KeyboardInterrupt:
        print("dermarchive: interrupted", file=sys.stderr)
        return 130


def _reader_gone() -> int:
    """The output's reader closed the pipe (``… | head -3``): stop quietly, as Unix tools do.

    stdout is pointed at the null device so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture stdout)
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a command its reader stopped


