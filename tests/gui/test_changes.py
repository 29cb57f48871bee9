"""Windows say what they changed, so the main window re-reads only that (issue 13: OpChanges).

A closed dialog that changed nothing must not re-read 50,000 patients; one that changed the open
patient's consent refreshes that patient's page."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from dermarchive.workflows.changes import NOTHING, Changes

pytestmark = pytest.mark.gui


class _Counted:
    def __init__(self, window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.patients = self.pages = 0
        load, reload = window.load_patients, window.patient_page.reload

        def counted_load(*args: Any, **kwargs: Any) -> None:
            self.patients += 1
            load(*args, **kwargs)

        def counted_reload(*args: Any, **kwargs: Any) -> None:
            self.pages += 1
            reload(*args, **kwargs)

        monkeypatch.setattr(window, "load_patients", counted_load)
        monkeypatch.setattr(window.patient_page, "reload", counted_reload)


def _open_patient(window: Any, qtbot: Any) -> int:
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: window.patient_page.patient is not None, timeout=10_000)
    return window.patient_page.patient.id


def test_a_dialog_that_changed_nothing_reloads_nothing(main_window: Any, qtbot: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _open_patient(main_window, qtbot)
    counted = _Counted(main_window, monkeypatch)
    dialog = main_window._dialog("about")
    assert dialog.changes is NOTHING
    dialog.done(QDialog.DialogCode.Accepted)
    qtbot.wait(50)
    assert (counted.patients, counted.pages) == (0, 0)


def test_changes_name_what_is_reread(main_window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = _open_patient(main_window, qtbot)
    counted = _Counted(main_window, monkeypatch)
    main_window.apply_changes(Changes.of_patient(patient))          # e.g. consent recorded
    assert (counted.patients, counted.pages) == (0, 1)
    main_window.apply_changes(Changes.of_patient(patient + 1000))   # another patient's page: not shown
    assert (counted.patients, counted.pages) == (0, 1)
    main_window.apply_changes(Changes.of_patient(patient, counts=True))  # photos deleted: counts too
    assert (counted.patients, counted.pages) == (1, 2)
    main_window.apply_changes(None)                                  # not known: everything
    assert (counted.patients, counted.pages) == (2, 3)
