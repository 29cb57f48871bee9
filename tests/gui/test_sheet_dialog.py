"""Patient ▸ Print photo consent sheet… on the real main window (pytest-qt, offscreen)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFileDialog

from dermarchive.archive import records
from dermarchive.gui.main_window import PAGE_PATIENT
from dermarchive.sheets.read import look
from dermarchive.sheets.issue import sheet_key

from ..sheet_photos import Shot, fill, jpeg, photograph


def test_print_sheet_from_the_patient_menu(main_window: Any, qtbot: Any, tmp_path: Any, monkeypatch: Any,
                                           messages: Any) -> None:
    window = main_window
    patient = records.find_patients(window.archive)[0]
    window.show_patient(patient.id)
    qtbot.waitUntil(lambda: window.content.currentIndex() == PAGE_PATIENT and window.patient_page.ready
                    and window.patient_page.patient.id == patient.id, timeout=10_000)
    action = window.actions_by_name["sheet"]
    patient_menu = [m for m in window.menuBar().actions() if m.text() == "&Patient"][0].menu()
    assert action in patient_menu.actions()
    action.trigger()
    dialog = window.dialog_shown
    assert dialog.objectName() == "sheetDialog"
    for name in ("sheetDateCheck", "sheetDate", "sheetLesions"):
        assert dialog.findChild(object, name).accessibleName()
    dialog.date_check.setChecked(False)
    qtbot.keyClicks(dialog.lesions, "L1 left forearm")
    out = tmp_path / "sheet.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PDF (*.pdf)"))
    dialog.findChild(object, "sheetSave").click()
    qtbot.waitUntil(lambda: out.exists() and dialog.saved_to == out, timeout=20_000)
    assert any("Saved the consent sheet" in t for t in messages.texts())
    # The saved sheet, photographed, reads back as this patient's (no visit date printed).
    photo = jpeg(photograph(fill(out.read_bytes(), ["clinical.documentation"], signed=True), Shot(seed=2)),
                 taken_at="2026-11-30T10:00:00")
    seen = look(photo, window.archive.archive_id, sheet_key(window.archive))
    assert seen.kind == "sheet" and seen.code.nhi == patient.nhi and seen.code.visit_date is None
