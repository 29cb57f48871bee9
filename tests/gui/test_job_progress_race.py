"""run_job: a job that finishes while its progress dialog is updating (a shown modal
QProgressDialog runs the event loop inside setValue, which delivers the job's "done") must not
touch the dialog it has just dropped. Found by the audit viewer's Verify."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QWidget

from dermarchive.gui.jobs import run_job


def test_progress_after_the_dialog_shows_then_done_at_once(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    results: list[Any] = []

    def work(progress: Any, cancelled: Any) -> int:
        time.sleep(0.6)                       # past the dialog's minimum duration: setValue shows it
        for n in range(1, 4):
            progress(n, 3, f"step {n}")       # the last ones arrive with "done" right behind them
        return 42

    run_job(work, parent=parent, title="Working…", with_progress=True, on_done=results.append)
    qtbot.waitUntil(lambda: results == [42], timeout=10_000)
    qtbot.wait(50)
