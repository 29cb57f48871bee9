"""The import wizard as a nurse uses it (issue 22): the open patient pre-selected, photos of
several visits not shown as "Visit 1", a summary of what Import will store before it starts, and
badges that never cover a photo's date."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QComboBox, QDateEdit, QLabel, QLineEdit, QPushButton

from tests.gui.test_import_wizard import organise_rows, press_next

pytestmark = pytest.mark.gui


def test_wizard_from_the_patient_page_as_a_nurse(qtbot: Any, main_window: Any, corpus_copy: Any) -> None:
    from dermarchive.gui.import_wizard.review import BADGES_ROLE, GRID_SIDE, badge_block_height
    from dermarchive.gui.import_wizard.wizard import (PAGE_CONSENT, PAGE_LOCATION, PAGE_ORGANISE, PAGE_PATIENT,
                                                      PAGE_REVIEW)

    w = main_window
    w.patient_table.selectRow(1)
    qtbot.waitUntil(lambda: w.patient_page.ready and w.current_patient_id() is not None, timeout=10_000)
    patient = w.patient_page.patient
    phone = corpus_copy("iphone_hdr_NO.jpg", "jolla.jpg")  # taken in 2015 and 2014: two visits
    w.import_photos()
    wizard = w.dialog_shown
    qtbot.waitExposed(wizard)
    wizard.source.w(QLineEdit, "folderEdit").setText(str(phone))
    press_next(qtbot, wizard, PAGE_REVIEW)

    # the Location badge sits below the caption, not over it
    grid = wizard.review.grid
    located = next(i for i in range(wizard.review.proxy.rowCount())
                   if "Location" in [t for t, _c in (wizard.review.proxy.index(i, 0).data(BADGES_ROLE) or [])])
    hint = grid.sizeHintForIndex(wizard.review.proxy.index(located, 0))
    block = badge_block_height(grid.font())
    assert hint.height() >= GRID_SIDE + grid.fontMetrics().height() + block
    assert grid.gridSize().height() >= hint.height() and grid.gridSize() != QSize(GRID_SIDE + 30, GRID_SIDE + 74)

    press_next(qtbot, wizard, PAGE_PATIENT)
    assert wizard.patient.selected_id() == patient.id  # the open patient, pre-selected
    press_next(qtbot, wizard, PAGE_ORGANISE)

    page = wizard.organise
    page.table.clearSelection()  # nothing selected: nothing made up either
    assert page.w(QComboBox, "visitCombo").currentIndex() == -1
    assert page.w(QDateEdit, "visitDateEdit").text() == "Select photos first"
    organise_rows(wizard, "iphone_hdr_NO.jpg", "jolla.jpg")
    visits = {page.model.photo(r).visit for r in range(len(page.model.entries))}
    assert len(visits) == 2
    combo = page.w(QComboBox, "visitCombo")
    assert combo.currentIndex() == -1 and "Several" in combo.currentText() + combo.placeholderText()
    date_edit = page.w(QDateEdit, "visitDateEdit")
    assert date_edit.text() == "Several visits" and not page.w(QPushButton, "setVisitDateButton").isEnabled()
    assert "1 Jan 2000" not in date_edit.text() and "Visit 1" not in combo.currentText()

    press_next(qtbot, wizard, PAGE_CONSENT)
    press_next(qtbot, wizard, PAGE_LOCATION)
    summary = wizard.location.findChild(QLabel, "importPlanSummary")
    assert summary is not None and summary.isVisible()
    text = summary.text()
    assert "2 photos" in text and patient.nhi in text and "2 new visits" in text
    assert "Consent: Documented verbal consent" in text and "Location: removed" in text
    wizard.reject()
