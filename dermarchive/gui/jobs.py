"""One way to run slow core work off the GUI thread (after Anki's QueryOp and Picard's run_task).

    job = run_job(core_function, args..., parent=window, title="Importing…",
                  on_done=show_summary, on_error=show_error)

``core_function`` is called in a QThreadPool worker as ``fn(*args, progress=…, cancelled=…)``
when ``with_progress`` is true (the core's convention: ``progress(done, total, message)`` and a
``cancelled()`` predicate), else as ``fn(*args)``. Results and errors come back on the GUI thread
through queued signals. A QProgressDialog with a Cancel button appears after a short delay.
NEVER touch widgets from ``core_function``.

A finished job leaves nothing behind (a clinic keeps the window open all day, and a job's
arguments can be the archive, a patient's photos or a passphrase): the worker drops the function,
its arguments and its result as soon as it has handed them over; on the GUI thread the signal
object is disconnected from the callbacks (whose closures hold what the caller captured) and
deleted; the runnable belongs to the thread pool, which deletes it when it returns. What
``run_job`` returns is a small :class:`Job` handle (cancel, finished) that holds none of it.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from .. import log


class _Signals(QObject):
    progress = Signal(int, int, str)
    done = Signal(object)
    failed = Signal(object, str)


class Job:
    """What the caller keeps: ``cancel()``, ``cancel_event`` and ``finished`` (set when the
    worker is done). It holds nothing of the work, so keeping it costs nothing."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.finished = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()


class _Work(QRunnable):
    """The runnable: owned by the thread pool (auto-delete), emptied as soon as it starts."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], with_progress: bool,
                 job: Job, signals: _Signals) -> None:
        super().__init__()
        self._parts: tuple[Any, ...] | None = (fn, args, with_progress, job, signals)

    def run(self) -> None:  # worker thread
        assert self._parts is not None
        fn, args, with_progress, job, signals = self._parts
        self._parts = None
        try:
            try:
                if with_progress:
                    def progress(done: int, total: int, message: str = "") -> None:
                        signals.progress.emit(int(done), int(total), str(message))

                    result = fn(*args, progress=progress, cancelled=job.cancel_event.is_set)
                else:
                    result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the GUI thread
                del fn, args
                # Frames only: the exception's message may name a file from a phone, and it is never logged.
                tb = "".join(traceback.format_tb(exc.__traceback__))
                exc.__traceback__ = None  # the frames hold the arguments
                signals.failed.emit(exc, tb)
                del exc
            else:
                del fn, args
                signals.done.emit(result)
                del result
        finally:
            job.finished.set()


def _unhook(signals: _Signals) -> None:
    """Drop the connections (and with them the callbacks' closures) and the signal object."""
    for signal in (signals.progress, signals.done, signals.failed):
        try:
            signal.disconnect()
        except (RuntimeError, TypeError):  # nothing connected any more
            pass
    signals.deleteLater()


def run_job(fn: Callable[..., Any], *args: Any, parent: QWidget | None = None, title: str = "",
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            on_progress: Callable[[int, int, str], None] | None = None,
            with_progress: bool = False, show_dialog: bool | None = None,
            pool: QThreadPool | None = None) -> Job:
    job = Job()
    # Parented to the application so that it is deleted here, on the GUI thread (deleteLater),
    # never by the worker dropping the last Python reference to it.
    signals = _Signals(QCoreApplication.instance())
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
        # A local reference: QProgressDialog.setValue processes events when the dialog is modal, so
        # the job's end (_finish, which drops ``dialog``) can run in the middle of this update.
        shown = dialog
        if shown is not None:
            shown.setMaximum(max(total, 0))
            shown.setValue(min(done, total) if total else 0)
            if message:
                shown.setLabelText(message)
        if on_progress:
            on_progress(done, total, message)

    def _finish() -> None:
        nonlocal dialog
        job.finished.wait(5)  # the worker's last step after its final emit; then the sender may go
        _unhook(signals)
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()
            dialog = None

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

    signals.progress.connect(_progress, Qt.ConnectionType.QueuedConnection)
    signals.done.connect(_done, Qt.ConnectionType.QueuedConnection)
    signals.failed.connect(_failed, Qt.ConnectionType.QueuedConnection)
    (pool or QThreadPool.globalInstance()).start(_Work(fn, args, with_progress, job, signals))
    return job
