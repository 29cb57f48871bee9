"""The viewer says when it shows a photo smaller than it is stored (issue 14's size policy: a
photo over 100 MP is decoded at a reduced scale, and the output must say so)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QImage

from dermarchive.archive import records
from dermarchive.gui.viewer import PhotoPane, reduced_note

pytestmark = pytest.mark.gui


def _a_photo(archive: Any) -> records.ImageRecord:
    patient = records.find_patients(archive)[0]
    return next(i for i in records.images(archive, patient_id=patient.id) if i.kind == "clinical")


def test_the_caption_names_a_reduced_view_and_only_then(open_demo: Any, qtbot: Any) -> None:
    image = _a_photo(open_demo)
    whole = QImage(image.width, image.height, QImage.Format.Format_RGB32)
    half = QImage(image.width // 2, image.height // 2, QImage.Format.Format_RGB32)
    turned = QImage(image.height, image.width, QImage.Format.Format_RGB32)   # upright, same size
    assert reduced_note(image, whole) == "" and reduced_note(image, turned) == ""
    note = reduced_note(image, half)
    assert f"{image.width // 2} × {image.height // 2}" in note and f"{image.width} × {image.height}" in note

    pane = PhotoPane()
    qtbot.addWidget(pane)
    pane.show_image(open_demo, image, "A caption")
    qtbot.waitUntil(lambda: "loading" not in pane.caption.text(), timeout=20_000)
    assert pane.caption.text() == "A caption"  # the demo's photos are shown whole: no note
