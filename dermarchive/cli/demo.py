"""CLI: ``dermarchive demo [--path DIR] [--no-gui]``: build (or reopen) the demo archive, then open the app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..system import gui_problem
from .common import ProgressBar, emit, kdf_arg, kdf_from, read_secret_file


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[parent],
                       help="create (or reopen) a demo archive with synthetic patients and open the app")
    p.add_argument("--path", type=Path, metavar="DIR", help="where to keep the demo archive "
                   "(default: a folder in your application data)")
    p.add_argument("--no-gui", action="store_true", help="only build (or check) the archive")
    p.add_argument("--small", action="store_true", help=argparse.SUPPRESS)  # tests: a few patients only
    kdf_arg(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import DEMO_PASSPHRASE, DEMO_USER, FULL, SMALL, default_path, ensure_demo, plan_counts

    path = (args.path or default_path()).expanduser().resolve()
    file = args.passphrase_file or os.environ.get("DERMARCHIVE_PASSPHRASE_FILE")
    if file:
        passphrase, shown = read_secret_file(file), None
    else:
        passphrase, shown = DEMO_PASSPHRASE, DEMO_PASSPHRASE
    kdf = kdf_from(args)
    problem = None if args.no_gui or args.open_app is None else gui_problem()
    if problem is not None and problem.missing:
        print(problem.message, file=sys.stderr)  # before a minute of building, not after it
        return 2
    if kdf is not None and not file:
        raise InvalidInput("--kdf-params needs --passphrase-file (the demo passphrase always uses a real KDF).")
    size = SMALL if args.small else FULL
    opens_app = not args.no_gui and args.open_app is not None and problem is None
    if opens_app and not (path / "archive.json").exists():
        # The window first: the app builds the demo with a progress bar, then asks to unlock
        # (the build takes 30-60 s; a first impression should not be a silent terminal).
        print(f"Opening the app; it builds the demo archive at {path} first.", file=sys.stderr, flush=True)
        return int(args.open_app(path, user=DEMO_USER, prefill_passphrase=shown,
                                 prepare=lambda progress, cancelled: ensure_demo(
                                     path, passphrase, kdf=kdf, size=size, progress=progress, cancelled=cancelled)))
    if not (path / "archive.json").exists():
        p, l, i = plan_counts(size)
        print(f"Building the demo archive at {path}: {p} patients, {l} lesions, {i} photos…",
              file=sys.stderr, flush=True)
    bar = ProgressBar()
    if not bar.enabled and not args.json:
        bar = _LineProgress()  # type: ignore[assignment]
    summary = ensure_demo(path, passphrase, kdf=kdf, size=size, progress=bar)
    what = "Created" if summary.created else "Opened existing"
    emit(args, {"path": str(summary.path), "created": summary.created, "user": DEMO_USER,
                "patients": summary.patients, "lesions": summary.lesions, "images": summary.images,
                "consents": summary.consents, "seconds": round(summary.seconds, 1)},
         [f"{what} demo archive {summary.path}",
          f"  {summary.patients} patients, {summary.lesions} lesions, {summary.images} photos, "
          f"{summary.consents} consent records ({summary.seconds:.1f} s)",
          f"  user: {DEMO_USER}",
          f"  passphrase: {shown}" if shown else "  passphrase: the one in your passphrase file"])
    if args.no_gui:
        return 0
    if not opens_app:  # no display: the archive is still worth building (a headless server)
        print("dermarchive: no display is available (DISPLAY/WAYLAND_DISPLAY are not set), so the app "
              f"cannot open here. The demo archive is ready: run 'dermarchive gui {summary.path}' on a desktop.",
              file=sys.stderr)
        return 0
    return int(args.open_app(summary.path, user=DEMO_USER, prefill_passphrase=shown))


class _LineProgress:
    """Progress for a terminal that is not a tty (logs, CI): one line every tenth of the work."""

    def __init__(self) -> None:
        self.last = -1

    def __call__(self, done: int, total: int, message: str = "") -> None:
        step = int(10 * done / total) if total else 10
        if step != self.last:
            self.last = step
            print(f"  {done}/{total} photos", file=sys.stderr, flush=True)

