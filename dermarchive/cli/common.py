"""What every ``dermarchive`` command module shares: the archive argument, passphrase reading, ``--json`` output, a progress
bar, and turning :class:`DermArchiveError` into a message and an exit code (never a traceback).

Passphrase: ``--passphrase-file F``, else ``$DERMARCHIVE_PASSPHRASE_FILE``, else a hidden prompt.
User: ``--user NAME``, else ``$DERMARCHIVE_USER``, else the archive's only user.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

OpenApp = Callable[..., int]
"""``open_app(path, *, user=None, prefill_passphrase=None) -> exit code``: opens the desktop app."""


# -- shared argument helpers -------------------------------------------------------------------
def common_parent() -> argparse.ArgumentParser:
    """Options every archive command accepts (also after the sub-command name)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--passphrase-file", metavar="F", help="read the passphrase from file F")
    p.add_argument("--user", metavar="NAME", help="archive user (default: $DERMARCHIVE_USER or the only user)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def add_archive(p: argparse.ArgumentParser) -> None:
    p.add_argument("archive", metavar="ARCHIVE", type=Path, help="archive folder")


def kdf_arg(p: argparse.ArgumentParser) -> None:
    # For tests and benchmarks only: explicit, never a default.
    p.add_argument("--kdf-params", metavar="ITER,MEM_KIB,LANES", help=argparse.SUPPRESS)


def kdf_from(args: argparse.Namespace) -> Any:
    from ..archive.keys import KdfParams

    if not getattr(args, "kdf_params", None):
        return None
    try:
        t, m, p = (int(x) for x in args.kdf_params.split(","))
    except ValueError:
        raise InvalidInput("--kdf-params is ITERATIONS,MEMORY_KIB,LANES") from None
    return KdfParams(t, m, p)


def read_secret_file(path: str | os.PathLike[str], what: str = "passphrase") -> str:
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc.strerror}.") from None
    return text.rstrip("\r\n")


def read_passphrase(args: argparse.Namespace, prompt: str = "Passphrase: ") -> str:
    path = getattr(args, "passphrase_file", None) or os.environ.get("DERMARCHIVE_PASSPHRASE_FILE")
    if path:
        return read_secret_file(path)
    if not sys.stdin.isatty():
        raise InvalidInput("No passphrase: give --passphrase-file F or set DERMARCHIVE_PASSPHRASE_FILE.")
    return getpass.getpass(prompt)


def read_new_passphrase(path: str | None, what: str = "new passphrase") -> str:
    if path:
        return read_secret_file(path, what)
    if not sys.stdin.isatty():
        raise InvalidInput(f"No {what}: give it in a file (see --help).")
    first = getpass.getpass(f"{what.capitalize()}: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput("The two passphrases differ.")
    return first


def user_for(args: argparse.Namespace, archive_path: Path) -> str:
    from ..archive import Archive

    name = getattr(args, "user", None) or os.environ.get("DERMARCHIVE_USER")
    if name:
        return name
    users = Archive.users_of(archive_path)
    if len(users) == 1:
        return users[0]
    raise InvalidInput(f"This archive has several users ({', '.join(users)}): say which with --user.")


def open_archive(args: argparse.Namespace, path: Path | None = None) -> Any:
    from ..archive import Archive

    path = path or args.archive
    user = user_for(args, path)
    archive = Archive.open(path, user, read_passphrase(args))
    if archive.read_only_reason:  # full disk, or an audit log that does not match its anchor
        print(f"dermarchive: {archive.read_only_reason}", file=sys.stderr)
    return archive


def printable(text: str) -> str:
    """``text`` as valid UTF-8: bytes a file name could not decode (kept by Python as lone
    surrogates) become visible escapes such as ``\\xff`` instead of invalid output."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _printable_data(data: Any) -> Any:
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, dict):
        return {printable(str(k)): _printable_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_printable_data(v) for v in data]
    return data


def emit(args: argparse.Namespace, data: Any, text: str | Sequence[str] = "") -> None:
    """Print ``data`` as JSON with ``--json`` (indented for a person at a terminal, compact for a
    script: Python's indenting encoder is ten times slower, 0.8 s for 50,000 patients), else
    ``text``. Always valid UTF-8: undecodable bytes of file names become visible escapes."""
    if getattr(args, "json", False):
        indent = 2 if sys.stdout.isatty() else None
        out = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
        try:
            out.encode("utf-8")
        except UnicodeEncodeError:  # rare: only then walk the data
            out = json.dumps(_printable_data(data), indent=indent, ensure_ascii=False,
                             default=lambda o: printable(str(o)))
    else:
        out = printable(text if isinstance(text, str) else "\n".join(text))
    print(out)


class ProgressBar:
    """``progress(done, total, message)`` for the terminal (stderr), silent when not a tty."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.cancel = threading.Event()

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message[:40]:<40}")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
