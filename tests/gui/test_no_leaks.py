"""A clinic keeps the window open all day (issue 21): finished background jobs and closed dialogs
must leave nothing behind — no job, signal object, argument or result still reachable, and no
hidden dialog still holding a patient."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from dermarchive.errors import InvalidInput
from dermarchive.gui import jobs
from dermarchive.gui.jobs import run_job
from dermarchive.gui.main_window import DIALOGS


class Thing:
    """Something a job is given, captures or returns (weakref-able, like a record or an archive)."""


def flush() -> None:
    """Let deleteLater() happen and Python collect what that freed."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        QCoreApplication.processEvents()
        gc.collect()


def live_signal_objects() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, QObject) and type(o).__name__ == "_Signals"
               and type(o).__module__ == jobs.__name__)


def _work(arg: Thing, made: list[Any], *, fail: bool = False, progress: Any = None, cancelled: Any = None) -> Thing:
    if progress is not None:
        progress(1, 2, "half way")
    result = Thing()
    made.append(weakref.ref(result))
    if fail:
        raise InvalidInput("no good")  # carries nothing, but its traceback's frames hold the arguments
    return result


def _fail(arg: Thing, made: list[Any]) -> Thing:
    return _work(arg, made, fail=True)


@pytest.mark.parametrize("kind", ["done", "failed", "progress-dialog"])
def test_run_job_leaves_no_live_job_behind(qtbot: Any, kind: str) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    flush()
    signals_before = live_signal_objects()
    arg, captured, made, outcome = Thing(), Thing(), [], []
    fn = _work if kind != "failed" else _fail
    job = run_job(fn, arg, made, parent=parent if kind == "progress-dialog" else None,
                  with_progress=kind == "progress-dialog", title="Working",
                  on_done=lambda result, c=captured: outcome.append(("done", type(result).__name__)),
                  on_error=lambda exc, c=captured: outcome.append(("failed", type(exc).__name__)))
    refs = {"job": weakref.ref(job), "argument": weakref.ref(arg), "captured by a callback": weakref.ref(captured)}
    del job, arg, captured
    qtbot.waitUntil(lambda: bool(outcome), timeout=5_000)
    assert outcome == [("failed", "InvalidInput")] if kind == "failed" else [("done", "Thing")]
    flush()
    refs["result"] = made[0]
    alive = [name for name, ref in refs.items() if ref() is not None]
    assert alive == [], f"still reachable after the job finished: {alive}"
    assert live_signal_objects() == signals_before
    assert not [d for d in parent.findChildren(QDialog) if d.isVisible()]


def test_many_finished_jobs_leave_the_object_count_flat(qtbot: Any) -> None:
    """What the viewer does all day: hundreds of decodes, each a job."""
    done: list[int] = []

    def batch() -> None:
        for i in range(50):
            run_job(lambda x: x, Thing(), on_done=lambda _r, i=i: done.append(i))
        qtbot.waitUntil(lambda: len(done) % 50 == 0 and bool(done), timeout=10_000)
        flush()

    batch()
    before = len(gc.get_objects())
    for _ in range(4):
        batch()
    assert len(done) == 250
    assert len(gc.get_objects()) - before < 200  # ~2,000 objects a batch of 50 before the fix


# -- dialogs -----------------------------------------------------------------------------------
def _select_photos(window: Any, qtbot: Any, count: int = 1) -> None:
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    if window.current_patient_id() is None:
        window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: window.patient_page.ready, timeout=10_000)
    photos = window.patient_page.timeline_model.images()
    window.patient_page.select_images([p.id for p in photos[:count]])


OPENERS = {
    "referral": lambda w: w.create_referral(),
    "export": lambda w: w.export_deidentified(),
    "consent": lambda w: w.edit_consent(None),
    "import": lambda w: w.import_photos(),
    "backup": lambda w: w._dialog("backup", w.archive),
    "about": lambda w: w._dialog("about"),
    "pacs": lambda w: w._dialog("pacs", w.archive),
}


@pytest.mark.parametrize("key", sorted(OPENERS))
def test_opening_and_closing_a_dialog_20_times_leaves_the_widget_count(qtbot: Any, main_window: Any,
                                                                        key: str) -> None:
    _select_photos(main_window, qtbot)

    def cycle() -> None:
        if not main_window.patient_page.selected_images():  # closing a dialog re-reads the page
            _select_photos(main_window, qtbot)
        OPENERS[key](main_window)
        dialog = main_window.dialog_shown
        assert dialog is not None, f"the {key} dialog did not open"
        qtbot.waitExposed(dialog)
        dialog.reject()
        del dialog
        qtbot.wait(10)
        flush()

    cycle()  # first use creates what Qt keeps for the whole session (styles, fonts)
    before = len(QApplication.allWidgets())
    for _ in range(20):
        cycle()
    after = len(QApplication.allWidgets())
    assert after == before, f"{after - before} widgets more after 20 × {key}"
    assert main_window.dialog_shown is None
    cls_name = DIALOGS[key][1]
    left = [o for o in gc.get_objects() if type(o).__name__ == cls_name]
    assert left == [], f"{len(left)} closed {cls_name} objects still reachable"


def test_lock_closes_and_deletes_every_open_dialog(qtbot: Any, main_window: Any) -> None:
    _select_photos(main_window, qtbot)
    opened = []
    for key in ("referral", "export", "backup"):
        OPENERS[key](main_window)
        opened.append(type(main_window.dialog_shown).__name__)
        main_window.dialog_shown.hide()  # several at once (window-modal dialogs would stack)
    main_window.lock("manual")
    flush()
    left = [type(o).__name__ for o in gc.get_objects() if type(o).__name__ in opened]
    assert left == []
    assert main_window.dialog_shown is None


def test_lock_empties_qts_pixmap_cache(qtbot: Any, main_window: Any) -> None:
    """Qt caches pixmaps drawn for widgets (a referral preview among them) beyond the widgets' life:
    lock must not leave them, and the level after each lock must not creep up by them."""
    from PySide6.QtGui import QColor, QPixmap, QPixmapCache

    _select_photos(main_window, qtbot)
    OPENERS["referral"](main_window)
    qtbot.waitUntil(lambda: main_window.dialog_shown.preview.has_page, timeout=30_000)
    drawn = QPixmap(300, 400)
    drawn.fill(QColor("white"))
    QPixmapCache.insert("referral-preview-as-drawn", drawn)
    main_window.dialog_shown.reject()
    main_window.lock("manual")
    flush()
    assert QPixmapCache.find("referral-preview-as-drawn") is None
