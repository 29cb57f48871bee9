"""One way to run slow core work off the GUI thread (after Anki's QueryOp and Picard's run_task).

    job = run_job(core_function, args..., parent=window, title="Importing…",
                  on_done=show_summary, on_error=show_error)

``core_function`` is called in a QThreadPool worker as ``fn(*args, progress=…, cancelled=…)``
when ``with_progress`` is true (the core's convention: ``progress(done, total, message)`` and a
``cancelled()`` predicate), else as ``fn(*args)``. Results and errors come back on the GUI thread
through queued signals. A QProgressDialog with a Cancel button appears after a short delay.
NEVER touch widgets from ``core_function``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from .. import log


class _Signals(QObject):
    progress = Signal(int, int, str)
    done = Signal(object)
    failed = Signal(object, str)


class Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], with_progress: bool) -> None:
        super().__init__()
        self.fn, self.args, self.with_progress = fn, args, with_progress
        self.signals = _Signals()
        self.cancel_event = threading.Event()
        self.finished = threading.Event()
        self.setAutoDelete(False)

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:  # worker thread
        try:
            if self.with_progress:
                result = self.fn(*self.args, progress=self._progress, cancelled=self.cancel_event.is_set)
            else:
                result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the GUI thread
            # Frames only: the exception's message may name a file from a phone, and it is never logged.
            self.signals.failed.emit(exc, "".join(traceback.format_tb(exc.__traceback__)))
        else:
            self.signals.done.emit(result)
        finally:
            self.finished.set()

    def _progress(self, done: int, total: int, message: str = "") -> None:
        self.signals.progress.emit(int(done), int(total), str(message))


_running: set[Job] = set()


def run_job(fn: Callable[..., Any], *args: Any, parent: QWidget | None = None, title: str = "",
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            on_progress: Callable[[int, int, str], None] | None = None,
            with_progress: bool = False, show_dialog: bool | None = None,
            pool: QThreadPool | None = None) -> Job:
    job = Job(fn, args, with_progress)
    dialog: QProgressDialog | None = None
    if show_dialog if show_dialog is not None else (with_progress and parent is not None):
        dialog = QProgressDialog(title or "Working…", "Cancel", 0, 0, parent)
        dialog.setWindowTitle(title or "DermArchive")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)

    def _progress(done: int, total: int, message: str) -> None:
        if dialog is not None:
            dialog.setMaximum(max(total, 0))
            dialog.setValue(min(done, total) if total else 0)
            if message:
                dialog.setLabelText(message)
        if on_progress:
            on_progress(done, total, message)

    def _finish() -> None:
        _running.discard(job)
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()

    def _done(result: Any) -> None:
        _finish()
        if on_done:
            on_done(result)

    def _failed(exc: BaseException, tb: str) -> None:
        _finish()
        from ..errors import DermArchiveError
        if not isinstance(exc, DermArchiveError):
            log.gui.error("background job failed: %s", type(exc).__name__)
            log.gui.debug("%s", tb)
        if on_error:
            on_error(exc)
        else:
            from .messages import show_error
            show_error(parent, exc)

    job.signals.progress.connect(_progress, Qt.ConnectionType.QueuedConnection)
    job.signals.done.connect(_done, Qt.ConnectionType.QueuedConnection)
    job.signals.failed.connect(_failed, Qt.ConnectionType.QueuedConnection)
    _running.add(job)
    (pool or QThreadPool.globalInstance()).start(job)
    return job
