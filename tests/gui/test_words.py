"""One date format and plurals in words everywhere (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

from dermarchive.gui.words import day_text, plural

GUI = Path(__file__).resolve().parents[2] / "dermarchive" / "gui"


def test_one_date_format() -> None:
    assert day_text("2026-12-02") == "2 Dec 2026"
    assert day_text("2015-04-10T20:12:23+10:00") == "10 Apr 2015"
    assert day_text(None, "date unknown") == "date unknown"


def test_plurals_in_words() -> None:
    assert plural(1, "photo") == "1 photo" and plural(3, "photo") == "3 photos" and plural(0, "visit") == "0 visits"


def test_no_screen_says_photo_s_or_formats_dates_its_own_way() -> None:
    found = []
    for path in GUI.rglob("*.py"):
        if path.name == "words.py":
            continue
        text = path.read_text()
        found += [f"{path.name}: {m}" for m in re.findall(r"\b(?:photo|patient|visit|page|problem)\(s\)", text)]
        found += [f"{path.name}: {m}" for m in re.findall(r'strftime\("%[^"]*%b[^"]*"\)', text)]
        found += [f"{path.name}: ISO date sliced for display" for m in re.findall(r"_at\)\[:10\]", text)]
    assert found == []


def test_the_screens_show_the_one_format(qtbot, main_window) -> None:  # type: ignore[no-untyped-def]
    from dermarchive.gui.timeline import VisitHeader

    qtbot.waitUntil(lambda: main_window.patients_ready, timeout=10_000)
    main_window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: main_window.patient_page.ready, timeout=10_000)
    dob = main_window.patient_model.index(0, 2).data()
    assert re.fullmatch(r"[1-9]\d? [A-Z][a-z]{2} \d{4}", dob), dob   # "2 Nov 1951", not "02 Nov 1951"
    model = main_window.patient_page.timeline_model
    header = next(model.item(r) for r in range(model.rowCount()) if isinstance(model.item(r), VisitHeader))
    title, _detail = main_window.patient_page.timeline.itemDelegate().header_texts(header)
    assert re.fullmatch(r"Visit [1-9]\d? [A-Z][a-z]{2} \d{4}", title), title
