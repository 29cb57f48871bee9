"""Lesion view (strips over time, first vs latest, n of N, ←/→, grid) and the compare view's
overlay modes (swipe, blink, opacity, difference) and alignment, driven with pytest-qt on a real
archive holding generated photos of one lesion taken months apart."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from dermarchive.archive import records
from dermarchive.compare import synthetic
from dermarchive.gui.compare_view import LesionCompareView, to_array
from dermarchive.gui.lesion_view import LesionView
from dermarchive.gui.thumbnails import ThumbnailLoader
from tests.helpers import store_photo

SHOTS = Path(os.environ.get("DERMARCHIVE_SHOTS", "/tmp/compare-shots"))
W, H = 1200, 900


def _jpeg(tmp_path: Path, name: str, pixels: np.ndarray) -> Path:
    path = tmp_path / name
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=92)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def lesion_archive(archive, tmp_path):
    """One patient, lesion L1 with three clinical photos (Jan 2025, Mar 2026, Apr 2026: the last
    two of the same skin through a known transform) and one dermoscopic photo; lesion L2 empty."""
    pid = records.add_patient(archive, "ZZZ0016", "Ngata", "Hine").id
    lid = records.add_lesion(archive, pid, "L1", site="forearm", laterality="left")
    records.add_lesion(archive, pid, "L2", site="back")
    pair = synthetic.make_pair(W, H, rotation_deg=10, scale=1.1, shift=(30.0, -20.0), seed=5, lighting=False)
    other = synthetic.skin(W, H, seed=77)
    ids = [store_photo(archive, pid, _jpeg(tmp_path, "a.jpg", pair.fixed), visit_date="2025-01-10", lesion_id=lid),
           store_photo(archive, pid, _jpeg(tmp_path, "b.jpg", other), visit_date="2025-06-02", lesion_id=lid),
           store_photo(archive, pid, _jpeg(tmp_path, "c.jpg", pair.moving), visit_date="2026-03-15", lesion_id=lid),
           store_photo(archive, pid, _jpeg(tmp_path, "d.jpg", other[::2, ::2].copy()), visit_date="2025-06-02",
                       kind="dermoscopic", lesion_id=lid)]
    return archive, records.get_lesion(archive, lid), ids, pair


@pytest.fixture
def lesion_view(qtbot, lesion_archive):
    archive, lesion, ids, pair = lesion_archive
    loader = ThumbnailLoader(archive)
    view = LesionView(loader)
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    view.show_lesion(archive, lesion)
    qtbot.waitUntil(lambda: view.strips["clinical"].count() == 3, timeout=10_000)
    yield view
    view.clear()
    loader.pool.waitForDone(3000)


def test_strips_order_position_and_intervals(qtbot, lesion_view, lesion_archive):
    view = lesion_view
    clinical, derm = view.strips["clinical"], view.strips["dermoscopic"]
    assert derm.count() == 1 and clinical.count() == 3
    texts = [clinical.item(i).text() for i in range(3)]
    assert texts[0].endswith("first photo") and "5 months later" in texts[1] and "14 months later" in texts[2]
    assert view.position.text() == "1 of 3"
    qtbot.keyClick(clinical, Qt.Key.Key_Right)
    assert view.position.text() == "2 of 3"
    qtbot.keyClick(clinical, Qt.Key.Key_Right)
    qtbot.keyClick(clinical, Qt.Key.Key_Right)  # stays on the last
    assert view.position.text() == "3 of 3"
    qtbot.keyClick(clinical, Qt.Key.Key_Left)
    assert view.position.text() == "2 of 3"
    view.order.setCurrentIndex(1)  # newest first
    assert "14 months later" in clinical.item(0).text() and clinical.item(2).text().endswith("first photo")
    qtbot.waitUntil(lambda: all(not clinical.item(i).icon().isNull() for i in range(3)), timeout=10_000)
    view.grab().save(str(SHOTS / "lesion_view.png"))


def test_first_vs_latest_is_one_click_and_shows_the_interval(qtbot, lesion_view, lesion_archive):
    _archive, _lesion, ids, _pair = lesion_archive
    view = lesion_view
    qtbot.mouseClick(view.first_latest, Qt.MouseButton.LeftButton)
    assert view.pages.currentWidget() is view.compare
    assert (view.compare.first.id, view.compare.second.id) == (ids[0], ids[2])
    qtbot.waitUntil(lambda: view.compare.right.view.has_image() and view.compare.left.view.has_image(),
                    timeout=10_000)
    assert "14 months later" in view.compare.right.caption.text()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.pages.currentWidget() is view.strips_page


def test_grid_of_three_photos(qtbot, lesion_view, lesion_archive):
    view = lesion_view
    clinical = view.strips["clinical"]
    assert not view.compare_button.isEnabled()
    clinical.selectAll()
    assert view.compare_button.isEnabled()
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert view.pages.currentWidget() is view.grid and len(view.grid.panes) == 3
    qtbot.waitUntil(lambda: all(p.view.has_image() for p in view.grid.panes), timeout=10_000)
    assert "months later" in view.grid.panes[2].caption.text()


@pytest.fixture
def compare_view(qtbot, lesion_archive):
    archive, _lesion, ids, pair = lesion_archive
    view = LesionCompareView()
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    a, c = records.get_image(archive, ids[0]), records.get_image(archive, ids[2])
    view.show_pair(archive, a, c, ("January 2025", "March 2026 · 14 months later"))
    qtbot.waitUntil(lambda: view.canvas.a is not None, timeout=10_000)
    yield view
    view.clear()


def _centre_pixel(view) -> tuple[int, int, int]:
    img = view.canvas.grab().toImage()
    c = img.pixelColor(img.width() // 2, img.height() // 2)
    return c.red(), c.green(), c.blue()


def test_overlay_modes(qtbot, compare_view):
    view = compare_view
    assert view.stack.currentWidget() is view.side  # side by side is where compare starts
    # swipe: the divider follows the slider and a drag; left of it the earlier photo, right the later
    view.set_mode("swipe")
    assert view.stack.currentWidget() is view.canvas and view.slider.isVisible()
    view.slider.setValue(30)
    assert view.canvas.swipe == pytest.approx(0.3)
    qtbot.keyClick(view.slider, Qt.Key.Key_Right)
    assert view.canvas.swipe == pytest.approx(0.31)
    rect = view.canvas.picture_rect()
    y = int(rect.center().y())
    qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(view.canvas.divider_x()), y))
    qtbot.mouseMove(view.canvas, QPoint(int(rect.left() + rect.width() * 0.8), y))
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(rect.left() + rect.width() * 0.8), y))
    assert view.canvas.swipe == pytest.approx(0.8, abs=0.02) and view.slider.value() == 80
    # blink alternates between the two photos on its own
    view.set_mode("blink")
    assert view.canvas.blink_timer.isActive() and not view.slider.isVisible()
    first = view.canvas.showing_later
    qtbot.waitUntil(lambda: view.canvas.showing_later != first, timeout=3000)
    # opacity: 0 shows only the earlier photo, 100 only the later
    view.set_mode("opacity")
    assert not view.canvas.blink_timer.isActive()
    view.slider.setValue(0)
    only_a = _centre_pixel(view)
    view.slider.setValue(100)
    only_b = _centre_pixel(view)
    view.canvas.set_mode("blink")
    view.canvas.showing_later = False
    assert _centre_pixel(view) == only_a
    view.canvas.showing_later = True
    assert _centre_pixel(view) == only_b
    view.set_mode("difference")
    diff = view.canvas.difference()
    assert diff is not None and to_array(diff).mean() > 5  # unaligned: the photos differ
    view.set_mode("side")
    assert view.stack.currentWidget() is view.side and not view.canvas.blink_timer.isActive()


def _mismatch(canvas) -> float:
    """Mean |earlier − later| where the later photo has picture, over the pair the canvas shows."""
    a, b = to_array(canvas.a).astype(np.int16), to_array(canvas.b).astype(np.int16)
    inside = b.sum(axis=2) > 0
    return float(np.abs(a - b)[inside].mean())


def test_aligned_overlay_shows_quality_and_removes_the_difference(qtbot, compare_view):
    view = compare_view
    view.set_mode("difference")
    plain = _mismatch(view.canvas)
    qtbot.keyClick(view.align_box, Qt.Key.Key_Space)  # keyboard-reachable
    assert view.align_box.isChecked()
    qtbot.waitUntil(lambda: view.aligned_ok is not None or "could not" in view.quality.text(), timeout=30_000)
    assert view.aligned_ok, view.quality.text()
    assert view.quality.text().startswith("Aligned:") and "matching points" in view.quality.text()
    assert _mismatch(view.canvas) < plain / 2  # laid over each other, the same skin nearly cancels out
    view.set_mode("swipe")
    view.slider.setValue(50)
    view.grab().save(str(SHOTS / "aligned_swipe.png"))
    view.set_mode("difference")
    view.grab().save(str(SHOTS / "aligned_difference.png"))
    # unticking Align shows the plain pair again, without aligning twice
    qtbot.keyClick(view.align_box, Qt.Key.Key_Space)  # keyboard-reachable
    assert _mismatch(view.canvas) == pytest.approx(plain, rel=0.01)


def test_alignment_that_fails_falls_back_and_says_so(qtbot, lesion_archive):
    archive, _lesion, ids, _pair = lesion_archive
    view = LesionCompareView()
    qtbot.addWidget(view)
    view.show()
    a, b = records.get_image(archive, ids[0]), records.get_image(archive, ids[1])  # unrelated skin
    view.align_box.setChecked(True)
    view.show_pair(archive, a, b, ("a", "b"))
    qtbot.waitUntil(lambda: view.aligned_ok is not None, timeout=30_000)
    assert view.aligned_ok is False
    assert view.quality.text().startswith("Could not align") and "plain pair" in view.quality.text()
    qtbot.waitUntil(lambda: view.canvas.a is not None, timeout=10_000)
    view.clear()


def test_leaving_a_pair_cancels_its_alignment(qtbot, compare_view):
    view = compare_view
    view.align_box.setChecked(True)
    job = view._align_job
    assert job is not None
    view.clear()
    assert job.cancel_event.is_set()
    job.finished.wait(30)
    qtbot.wait(50)
    assert view.aligned_ok is None and view.canvas.a is None  # nothing of the old pair came back
