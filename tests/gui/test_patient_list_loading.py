"""The patient list after unlock (issue 19): the first screen of patients shows before the whole
list has been read, and the whole list then replaces it without losing what the nurse did."""

from __future__ import annotations

import threading
from typing import Any

from dermarchive.archive import records
from dermarchive.demo import test_nhis as some_test_nhis
from dermarchive.gui import main_window as main_window_module
from dermarchive.gui.main_window import MainWindow


def test_the_first_screen_of_patients_shows_before_the_whole_list(qtbot: Any, archive: Any, monkeypatch: Any,
                                                                 messages: Any) -> None:
    first_screen = getattr(main_window_module, "FIRST_SCREEN", 200)
    count = first_screen + 50
    for i, nhi in enumerate(some_test_nhis(count)):
        records.add_patient(archive, nhi, f"Family{i:04d}", "Given")
    # The whole list is held back until the test lets it go (a practice's 50,000 patients take
    # most of a second); the first screen is read as the app reads it.
    release = threading.Event()
    real = records.find_patients

    def slow_whole_list(arch: Any, search: str = "", *, limit: int | None = None) -> list[records.Patient]:
        if limit is None and not search:
            release.wait(20)
        return real(arch, search, limit=limit)

    monkeypatch.setattr(records, "find_patients", slow_whole_list)
    window = MainWindow(archive)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.patient_model.rowCount() > 0, timeout=10_000)
    model = window.patient_model
    assert not window.patients_ready
    assert model.rowCount() == first_screen
    names = [model.patient_at(r).family for r in range(model.rowCount())]
    assert names == sorted(names) and names[0] == "Family0000"  # name order, from the start
    assert window.patient_count.text() == "Loading patients…"  # no count that the full list would change

    # The nurse opens a patient from the first screen and starts typing a search meanwhile.
    window.patient_table.selectRow(3)
    opened = model.patient_at(3)
    qtbot.waitUntil(lambda: window.current_patient_id() == opened.id, timeout=10_000)
    window.search.setText("family02")
    release.set()
    qtbot.waitUntil(lambda: window.patients_ready, timeout=20_000)
    assert model.total == count
    # the search is applied to the whole list: patients beyond the first screen are found
    shown = {model.patient_at(r).family for r in range(model.rowCount())}
    assert "Family0249" in shown and len(shown) == 50
    assert window.patient_count.text() == f"50 of {count} patients match"
    window.search.clear()
    assert window.patient_table.currentIndex().row() == model.row_of(opened.id)  # still selected
    window.close()

