"""A photo whose stored copy is damaged says so plainly: tile, side panel and viewer (real GUI, offscreen).

Blobs are damaged on disk the way tests/test_blobs.py does it (flip a byte, truncate, unlink).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from dermarchive.archive import records
from dermarchive.gui.main_window import PAGE_PATIENT, PAGE_VIEWER, MainWindow
from dermarchive.gui.timeline import ThumbStateRole

pytestmark = pytest.mark.gui

ADVICE = "run Verify"


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _photos_of_first_patient(window: MainWindow) -> tuple[records.Patient, list[records.ImageRecord]]:
    patient = window.patient_model.patient_at(0)
    photos = [i for i in records.images(window.archive, patient_id=patient.id) if i.kind == "clinical"]
    assert len(photos) >= 4
    return patient, photos


def _open_patient(window: MainWindow, qtbot: Any, patient: records.Patient) -> None:
    window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: window.content.currentIndex() == PAGE_PATIENT and window.patient_page.ready
                    and window.patient_page.patient.id == patient.id, timeout=10_000)


def _state(window: MainWindow, image_id: int) -> tuple[str, str]:
    model = window.patient_page.timeline_model
    index = model.index(model.row_of_image(image_id))
    return model.data(index, ThumbStateRole), model.data(index, Qt.ItemDataRole.ToolTipRole)


def _churn(qtbot: Any, window: MainWindow) -> None:
    """Scroll the timeline down and back and repaint it, as a user browsing would."""
    timeline = window.patient_page.timeline
    bar = timeline.verticalScrollBar()
    for value in (bar.maximum(), bar.minimum(), bar.maximum() // 2, bar.minimum()):
        bar.setValue(value)
        timeline.viewport().repaint()
        qtbot.wait(30)


def test_damaged_thumbnail_tile_panel_and_viewer(main_window: MainWindow, qtbot: Any, messages: Any) -> None:
    window = main_window
    archive = window.archive
    patient, photos = _photos_of_first_patient(window)
    bad_thumb, bad_original, flipped_original, intact = photos[0], photos[1], photos[2], photos[3]
    assert bad_thumb.thumb_blob_id and bad_thumb.thumb_blob_id != bad_thumb.blob_id
    _flip(archive.blobs.path(bad_thumb.thumb_blob_id))
    _truncate(archive.blobs.path(bad_original.blob_id))
    _flip(archive.blobs.path(flipped_original.blob_id))

    _open_patient(window, qtbot, patient)
    page, loader = window.patient_page, window.loader
    model = page.timeline_model
    page.timeline.scrollTo(model.index(model.row_of_image(bad_thumb.id)))
    qtbot.waitUntil(lambda: _state(window, bad_thumb.id)[0] == "damaged", timeout=10_000)

    # The tile says what is wrong and what to do, and nothing about the patient.
    state, tip = _state(window, bad_thumb.id)
    assert tip.startswith("Damaged: the stored copy of this photo cannot be read (chunk 1 of 1 fails authentication).")
    assert ADVICE in tip
    for private in (patient.nhi, patient.family, patient.given):
        assert private not in tip
    index = model.index(model.row_of_image(bad_thumb.id))
    assert model.data(index, Qt.ItemDataRole.AccessibleTextRole).endswith(", damaged")

    # Intact tiles (including those whose original, not thumbnail, is damaged) still load.
    visible = [model.item(r).id for r in page.timeline.visible_image_rows()]
    assert bad_thumb.id in visible and len(visible) > 1
    qtbot.waitUntil(lambda: all(_state(window, i)[0] == "shown" for i in visible if i != bad_thumb.id),
                    timeout=10_000)
    assert not _state(window, intact.id)[1].startswith("Damaged")

    # Tried once, remembered: scrolling back and repainting neither retries nor keeps work queued.
    assert loader.attempts[bad_thumb.id] == 1
    _churn(qtbot, window)
    qtbot.waitUntil(lambda: loader.pending_count() == 0, timeout=10_000)
    _churn(qtbot, window)
    assert loader.attempts[bad_thumb.id] == 1
    assert loader.pending_count() == 0
    assert _state(window, bad_thumb.id)[0] == "damaged"

    # The side panel for that photo says so in plain words.
    page.select_images([bad_thumb.id])
    notice = page.panel.damage_text()
    assert notice.startswith("The stored copy of this photo is damaged (thumbnail: chunk 1 of 1 fails authentication).")
    assert "administrator" in notice and ADVICE in notice
    page.select_images([intact.id])
    assert page.panel.damage_text() == ""

    # A truncated original: the panel knows before opening (its file has the wrong size) …
    page.select_images([bad_original.id])
    assert page.panel.damage_text().startswith("The stored copy of this photo is damaged (the file is truncated")
    # … and the viewer shows the same plain message, not a generic error or another photo.
    qtbot.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    assert window.content.currentIndex() == PAGE_VIEWER
    pane = window.single
    qtbot.waitUntil(lambda: "damaged" in pane.caption.text(), timeout=10_000)
    caption = pane.caption.text()
    assert caption.endswith(" — stored copy damaged") and "could not be shown" not in caption  # short
    truncated = "The stored copy of this photo is damaged (the file is truncated"
    assert not pane.view.has_image() and pane.view.message.startswith(truncated) and ADVICE in pane.view.message
    assert window.viewer_panel.damage_text().startswith(truncated)

    # A flipped byte in an original is only found by decrypting it: the viewer finds it, the
    # viewer's panel updates, and the patient page remembers it for the rest of the session.
    window.back_to_patient()
    page.select_images([flipped_original.id])
    assert page.panel.damage_text() == ""
    page.open_selected()
    qtbot.waitUntil(lambda: "damaged" in pane.caption.text(), timeout=10_000)
    assert pane.view.message.startswith("The stored copy of this photo is damaged (chunk ")
    assert "fails authentication" in pane.view.message and not pane.view.has_image()
    qtbot.waitUntil(lambda: window.viewer_panel.damage_text() != "", timeout=10_000)
    assert window.viewer_panel.damage_text().startswith("The stored copy of this photo is damaged (chunk ")
    window.back_to_patient()
    page.select_images([flipped_original.id])
    assert page.panel.damage_text().startswith("The stored copy of this photo is damaged (chunk ")

    # An intact photo still opens; nothing crashed or needed a dialog.
    page.select_images([intact.id])
    page.open_selected()
    qtbot.waitUntil(pane.view.has_image, timeout=10_000)
    assert pane.caption.text() and "damaged" not in pane.caption.text() and pane.view.message == ""
    assert window.viewer_panel.damage_text() == ""
    assert messages.entries == []
    QApplication.processEvents()


def test_missing_thumbnail_file_and_selection_of_several(main_window: MainWindow, qtbot: Any) -> None:
    window = main_window
    archive = window.archive
    patient, photos = _photos_of_first_patient(window)
    gone, fine = photos[0], photos[1]
    archive.blobs.path(gone.thumb_blob_id).unlink()

    _open_patient(window, qtbot, patient)
    page = window.patient_page
    qtbot.waitUntil(lambda: _state(window, gone.id)[0] == "damaged", timeout=10_000)
    assert "(its file is missing)" in _state(window, gone.id)[1]
    page.select_images([gone.id])
    assert page.panel.damage_text().startswith(
        "The stored copy of this photo is damaged (thumbnail: its file is missing).")
    page.select_images([gone.id, fine.id])
    assert page.panel.damage_text().startswith("1 of these photos has a damaged stored copy.")
    # The original itself is intact, so it opens.
    page.select_images([gone.id])
    page.open_selected()
    qtbot.waitUntil(window.single.view.has_image, timeout=10_000)
    assert window.single.view.image.id == gone.id
    # Locking forgets what was remembered about thumbnails, along with the thumbnails.
    window.lock("manual")
    assert window.loader.failed == {} and not window.loader.attempts
