"""Scrolling a long timeline: tiles show a placeholder, then their thumbnail, decrypted off the GUI
thread; a thumbnail's arrival repaints its tile without laying out the whole timeline again.

QListView lays out every row again on each dataChanged, asking the delegate (Python) for the size
of every tile: with 2,000 photos that was 20-50 ms of the GUI thread for every batch of arriving
thumbnails, and scrolling stuttered (issue 19: the GUI thread was late by up to 105 ms). How late
the GUI thread is stays a benchmark figure (bench/bench_gui.py); here, what the user sees and the
work done for it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from dermarchive.archive import Archive, records
from dermarchive.gui import timeline as timeline_mod
from dermarchive.gui.thumbnails import ThumbnailLoader
from dermarchive.gui.timeline import ThumbStateRole, TimelineModel, TimelineView
from dermarchive.ingest.thumbnails import make_thumbnails_from_bytes

pytestmark = pytest.mark.gui

PHOTOS, PER_VISIT = 240, 40


def _many_photos(archive: Archive, photo: Path) -> tuple[list[records.ImageRecord], list[records.Visit]]:
    """One patient, six visits of 40 photos each, every one with its own encrypted thumbnail."""
    thumb = make_thumbnails_from_bytes(photo.read_bytes()).thumb
    patient = records.add_patient(archive, "ZZZ0016", "Scroll", "Long", "1960-01-01")
    for v in range(PHOTOS // PER_VISIT):
        with archive.transaction() as tx:
            visit = records.add_visit(archive, patient.id, f"2020-{v + 1:02d}-15", tx=tx)
            for k in range(PER_VISIT):
                blob = archive.store_blob(tx, thumb)
                records.insert_image(archive, tx, visit_id=visit, kind="clinical" if k % 3 else "dermoscopic",
                                     blob_id=blob, thumb_blob_id=blob, preview_blob_id=blob, width=320, height=240,
                                     original_format="JPEG", stored_format="JPEG",
                                     taken_at=f"2020-{v + 1:02d}-15T10:{k:02d}:00+12:00")
    return records.images(archive, patient_id=patient.id), records.visits(archive, patient.id)


def test_scrolling_fills_placeholders_from_workers_without_laying_out_again(
        archive: Archive, corpus: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    images, visits = _many_photos(archive, corpus / "landscape_1.jpg")
    gui_thread = threading.get_ident()
    decrypted_on: list[int] = []
    real_image_bytes = records.image_bytes

    def image_bytes(*args: Any, **kwargs: Any) -> bytes:
        decrypted_on.append(threading.get_ident())
        return real_image_bytes(*args, **kwargs)

    monkeypatch.setattr(records, "image_bytes", image_bytes)
    # Count what the delegate is asked (set before the view makes its delegate).
    sized: list[int] = []
    painted: list[tuple[int, str]] = []  # (row, what the tile showed)
    first_shown: dict[int, str] = {}  # row → what its tile showed the first time it was painted
    real_size, real_paint = timeline_mod.TimelineDelegate.sizeHint, timeline_mod.TimelineDelegate.paint

    def size_hint(self: Any, option: Any, index: Any) -> Any:
        sized.append(index.row())
        return real_size(self, option, index)

    def paint(self: Any, painter: Any, option: Any, index: Any) -> None:
        model = index.model()
        item = model.item(index.row())
        if isinstance(item, records.ImageRecord):
            painted.append((index.row(), model.thumb_state(item)))
            first_shown.setdefault(index.row(), painted[-1][1])
        real_paint(self, painter, option, index)

    monkeypatch.setattr(timeline_mod.TimelineDelegate, "sizeHint", size_hint)
    monkeypatch.setattr(timeline_mod.TimelineDelegate, "paint", paint)

    loader = ThumbnailLoader(archive)
    model = TimelineModel(loader)
    view = TimelineView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    model.set_images(images, visits, {})
    rows = model.rowCount()
    assert rows == PHOTOS + len(visits)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)  # laid out once, with every size asked

    # Scroll through it all: each screen shows placeholders first, then the thumbnails.
    shown_screens = 0
    while True:
        visible = set(view.visible_image_rows())  # (this asks the size of each row up to the screen's end)
        assert visible
        sized.clear()
        painted.clear()
        view.viewport().repaint()
        qtbot.waitUntil(lambda v=visible: all(model.item(r).id in loader.cache for r in v), timeout=10_000)
        qtbot.waitUntil(lambda v=visible: v <= {r for r, state in painted if state == "shown"}, timeout=5_000)
        # Each arrival repainted its tile; none of them made the view measure every row again.
        asked = len(set(sized))
        assert asked < rows // 2, f"sizes of {asked} of {rows} rows asked: the timeline was laid out again"
        assert all(first_shown[r] == "loading" for r in visible)  # a placeholder first, then the thumbnail
        assert all(model.data(model.index(r), ThumbStateRole) == "shown" for r in visible)
        shown_screens += 1
        if bar.value() >= bar.maximum():
            break
        bar.setValue(min(bar.maximum(), bar.value() + view.viewport().height()))
    assert shown_screens >= 4
    assert decrypted_on and gui_thread not in decrypted_on  # every decrypt and decode in a worker
    loader.clear()
    loader.pool.waitForDone(5_000)
