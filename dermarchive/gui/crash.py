"""Crash path: an unexpected exception anywhere shows one calm dialog instead of vanishing.

``sys.excepthook`` and ``threading.excepthook`` are replaced by :func:`install`. The log gets the
exception type and traceback (code lines, not values); the dialog says the archive is safe and
names the error type. Expected failures (:class:`DermArchiveError`) show their own sentence.
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal

from .. import log
from . import messages


class _Bridge(QObject):
    """Carries exceptions from any thread to the GUI thread."""

    raised = Signal(object)


_bridge: _Bridge | None = None


def _show(exc: BaseException) -> None:
    messages.show_error(None, exc, title="DermArchive: unexpected error")


def _handle(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.gui.error("unhandled %s\n%s", exc_type.__name__, "".join(traceback.format_tb(tb)))
    if _bridge is not None:
        _bridge.raised.emit(exc)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _handle(args.exc_type, args.exc_value, args.exc_traceback)


def install() -> None:
    global _bridge
    _bridge = _Bridge()
    _bridge.raised.connect(_show, Qt.ConnectionType.QueuedConnection)
    sys.excepthook = _handle
    threading.excepthook = _thread_hook
