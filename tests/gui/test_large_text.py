"""Large text and laptops (issue 22): at 14 pt on a 1280×720 window the lesion table's headings
and the visit headers are not cut, and the panels are remembered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QSplitter

pytestmark = pytest.mark.gui


@pytest.fixture
def large_text(qapp: Any) -> Iterator[None]:
    before = qapp.font()
    font = qapp.font()
    font.setPointSizeF(14)
    qapp.setFont(font)
    yield
    qapp.setFont(before)


@pytest.fixture
def laptop_window(qtbot: Any, open_demo: Any, messages: Any, large_text: None) -> Iterator[Any]:
    from dermarchive.gui.main_window import MainWindow

    window = MainWindow(open_demo)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: window.patient_page.ready, timeout=10_000)
    yield window
    window.close()
    window.loader.pool.waitForDone(2000)


def test_lesion_headings_are_not_cut_at_14pt_on_a_laptop(qtbot: Any, laptop_window: Any) -> None:
    table = laptop_window.patient_page.lesion_table
    header = table.horizontalHeader()
    qtbot.wait(50)
    cut = [header.model().headerData(c, header.orientation()) for c in range(header.count())
           if header.sectionSize(c) < header.sectionSizeFromContents(c).width() - 1]
    assert cut == []


def test_visit_headers_wrap_instead_of_being_cut(qtbot: Any, laptop_window: Any) -> None:
    from PySide6.QtGui import QFontMetrics

    from dermarchive.gui.timeline import VisitHeader

    view = laptop_window.patient_page.timeline
    model = view.model()
    delegate = view.itemDelegate()
    headers = [r for r in range(model.rowCount()) if isinstance(model.item(r), VisitHeader)]
    assert headers
    for row in headers:
        rect = view.visualRect(model.index(row))
        title, detail = delegate.header_texts(model.item(row))
        font = view.font()
        one_line = QFontMetrics(font).horizontalAdvance(title + detail) * 1.05 + 24
        if one_line > rect.width():  # does not fit on one line: a second line is made for it
            assert rect.height() >= 2 * QFontMetrics(font).lineSpacing() + 8, (rect, title, detail)


def test_panels_are_remembered(qtbot: Any, open_demo: Any, messages: Any) -> None:
    from dermarchive.gui.patient_page import PatientPage
    from dermarchive.gui.thumbnails import ThumbnailLoader

    loader = ThumbnailLoader(open_demo)
    first = PatientPage(loader)
    qtbot.addWidget(first)
    first.resize(1000, 600)
    first.show()
    split = first.findChild(QSplitter, "pageSplitter")
    split.moveSplitter(600, 1)
    sizes = split.sizes()
    second = PatientPage(loader)
    qtbot.addWidget(second)
    second.resize(1000, 600)
    second.show()
    assert second.findChild(QSplitter, "pageSplitter").sizes() == sizes
    QApplication.processEvents()
    loader.pool.waitForDone(2000)


def test_the_window_fits_a_1280_laptop_at_14pt(qtbot: Any, laptop_window: Any) -> None:
    assert laptop_window.minimumSizeHint().width() <= 1280  # was 1415: it could not be made to fit
    assert laptop_window.width() <= 1280
    assert laptop_window.patient_page.lesion_table.height() >= 3 * laptop_window.patient_page.lesion_table \
        .verticalHeader().defaultSectionSize()  # heading and at least two lesion rows
