"""The ``dermarchive`` program: the one module above both faces.

No arguments (or ``gui …``) opens the desktop app (:mod:`dermarchive.gui.app`); anything else is
a command (:mod:`dermarchive.cli`). A command that ends by opening the app (``dermarchive demo``)
is handed :func:`open_app`, so the CLI never imports the GUI and neither face imports the other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def open_app(path: Path, *, user: str | None = None, prefill_passphrase: str | None = None,
             prepare: Callable[[Callable[..., None], Callable[[], bool]], Any] | None = None) -> int:
    """Open the desktop app on the archive at ``path`` (unlock window first). ``prepare(progress,
    cancelled)``, when given, runs in the app with a progress window before the unlock prompt."""
    from .gui.app import run

    return run(open_path=path, user=user, prefill_passphrase=prefill_passphrase, prepare=prepare)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "gui":
        from .system import gui_problem

        if args[1:2] not in (["-h"], ["--help"]) and (problem := gui_problem()) is not None:
            print(problem.message, file=sys.stderr)  # before Qt can abort on a missing library
            return 2
        from .gui.app import main as gui_main

        return gui_main(args[1:])
    from .cli import main as cli_main

    return cli_main(args, open_app=open_app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
