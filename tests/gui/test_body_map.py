"""Body map dialog driven with pytest-qt: clicking the figure places the chosen lesion's pin and
sets its coded site and side; clicking a pin opens the lesion; the main window's actions."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPoint, Qt

from dermarchive.archive import bodymap, records
from dermarchive.gui.body_map import BodyMapDialog

SHOTS = Path(os.environ.get("DERMARCHIVE_SHOTS", "/tmp/compare-shots"))


def _click(qtbot, figures, view: str, x: float, y: float) -> None:
    r = figures.figure_rect(view)
    pos = QPoint(round(r.left() + x / bodymap.WIDTH * r.width()), round(r.top() + y / bodymap.HEIGHT * r.height()))
    qtbot.mouseClick(figures, Qt.MouseButton.LeftButton, pos=pos)


def test_click_places_pin_sets_site_and_pin_opens_lesion(qtbot, archive):
    pid = records.add_patient(archive, "ZZZ0016", "Ngata").id
    l1 = records.add_lesion(archive, pid, "L1")
    l2 = records.add_lesion(archive, pid, "L2", site="scalp")
    dialog = BodyMapDialog(archive, pid)
    qtbot.addWidget(dialog)
    assert not dialog.changes.patients and not dialog.changes.patient_list
    dialog.show()
    qtbot.waitUntil(lambda: dialog.list.count() == 2, timeout=5000)
    assert "(no pin yet)" in dialog.list.item(0).text()
    # L1 is chosen: click the back figure's left shoulder blade
    dialog.list.setCurrentRow(0)
    with qtbot.waitSignal(dialog.changed, timeout=5000):
        _click(qtbot, dialog.figures, "back", 90, 150)
    qtbot.waitUntil(lambda: l1 in dialog.figures.pins, timeout=5000)
    lesion = records.get_lesion(archive, l1)
    assert (lesion.site, lesion.laterality) == ("back", "left")
    assert dialog.hint.text() == "Pin placed: Left back."
    assert dialog.changes.patients == {pid}  # the window re-reads this patient's page (new site) when it closes
    assert dialog.list.item(0).text() == "L1 · Left back"
    # L2 on the front figure's right forearm
    dialog.list.setCurrentRow(1)
    with qtbot.waitSignal(dialog.changed, timeout=5000):
        _click(qtbot, dialog.figures, "front", 56, 200)
    qtbot.waitUntil(lambda: l2 in dialog.figures.pins, timeout=5000)
    assert records.get_lesion(archive, l2).site_label == "Right forearm"
    # without a mouse: the region list places the pin in the middle of that region
    dialog.list.setCurrentRow(1)
    index = next(i for i in range(dialog.region_box.count()) if dialog.region_box.itemText(i) == "Scalp (back)")
    dialog.region_box.setCurrentIndex(index)
    with qtbot.waitSignal(dialog.changed, timeout=5000):
        qtbot.keyClick(dialog.place_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: dialog.figures.pins.get(l2) is not None and dialog.figures.pins[l2].view == "back",
                    timeout=5000)
    assert records.get_lesion(archive, l2).site_label == "Scalp"
    with qtbot.waitSignal(dialog.changed, timeout=5000):
        _click(qtbot, dialog.figures, "front", 56, 200)
    qtbot.waitUntil(lambda: dialog.figures.pins[l2].view == "front", timeout=5000)
    # off the body: says so, places nothing
    _click(qtbot, dialog.figures, "front", 8, 300)
    assert "not on the figure" in dialog.hint.text()
    dialog.grab().save(str(SHOTS / "body_map.png"))
    # clicking a pin opens its lesion; so does Enter on the list
    pin = dialog.figures.pin_position(dialog.figures.pins[l1])
    with qtbot.waitSignal(dialog.openLesion, timeout=2000) as opened:
        qtbot.mouseClick(dialog.figures, Qt.MouseButton.LeftButton, pos=pin.toPoint())
    assert opened.args == [l1]
    dialog.list.setCurrentRow(1)
    with qtbot.waitSignal(dialog.openLesion, timeout=2000) as opened:
        qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    assert opened.args == [l2]


def test_main_window_lesion_history_body_map_full_screen_and_patient_list(qtbot, main_window):
    window = main_window
    table = window.patient_table
    table.selectRow(0)
    qtbot.waitUntil(lambda: window.patient_page.patient is not None and bool(window.patient_page.lesions_by_id()),
                    timeout=10_000)
    page = window.patient_page
    lesion_id = next(iter(page.lesions_by_id()))
    page.select_lesion(lesion_id)
    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert window.viewer_stack.currentWidget() is window.lesion_view
    qtbot.waitUntil(lambda: bool(window.lesion_view.all_images) or window.lesion_view.empty.isVisible(), timeout=10_000)
    assert window.lesion_view.lesion.id == lesion_id
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    # F9 hides the patient list and brings it back; F11 goes full screen and back
    side = window.splitter.widget(0)
    window.actions_by_name["patient_list"].trigger()
    assert not side.isVisible()
    window.actions_by_name["patient_list"].trigger()
    assert side.isVisible()
    window.actions_by_name["full_screen"].trigger()
    assert window.windowState() & Qt.WindowState.WindowFullScreen
    window.actions_by_name["full_screen"].trigger()
    assert not window.windowState() & Qt.WindowState.WindowFullScreen
    window.actions_by_name["body_map"].trigger()
    dialog = window.dialog_shown
    assert isinstance(dialog, BodyMapDialog)
    qtbot.waitUntil(lambda: dialog.list.count() == len(page.lesions_by_id()), timeout=5000)
    dialog.openLesion.emit(lesion_id)
    assert window.viewer_stack.currentWidget() is window.lesion_view
