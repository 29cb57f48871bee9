"""The de-identified export dialog with its redaction tool (pytest-qt, offscreen, real archive)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat
from PySide6.QtCore import QPoint, QThreadPool, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton

from dermarchive.archive import Archive, records
from dermarchive.consent.records import record_consent
from dermarchive.gui.export_dialog import DeidentifiedExportDialog
from dermarchive.gui.forms import child
from tests.test_consent_support import add_photo, make_patient, signature_png

pytestmark = pytest.mark.gui


@pytest.fixture
def patient_photos(archive: Archive) -> tuple[int, list[int]]:
    pid = make_patient(archive)
    vid = records.add_visit(archive, pid, "2024-05-01")
    ids = [add_photo(archive, vid, "landscape_1.jpg", taken_at="2024-05-01T09:00:00"),
           add_photo(archive, vid, "landscape_6.jpg", taken_at="2024-05-01T10:00:00")]
    record_consent(archive, vid, scopes=["education", "research"], method="written-signature",
                   obtained_by="RN", signature=signature_png())
    return pid, ids


@pytest.fixture
def dialog(qtbot: Any, archive: Archive, patient_photos: tuple[int, list[int]], tmp_path: Path) -> Any:
    pid, ids = patient_photos
    d = DeidentifiedExportDialog(archive, pid, ids)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    qtbot.waitUntil(lambda: d.canvas.picture is not None, timeout=10_000)
    folder = child(d.form, QLineEdit, "folderEdit")
    folder.clear()
    qtbot.keyClicks(folder, str(tmp_path / "teaching"))
    yield d
    d.close()
    QThreadPool.globalInstance().waitForDone(10_000)


def drag(qtbot: Any, canvas: Any, a: tuple[float, float], b: tuple[float, float]) -> None:
    """Drag between two points given as fractions of the shown picture."""
    pic = canvas.picture_rect()

    def at(f: tuple[float, float]) -> QPoint:
        return QPoint(round(pic.x() + f[0] * pic.width()), round(pic.y() + f[1] * pic.height()))

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(a))
    qtbot.mouseMove(canvas, at(b))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(b))


def test_blur_drawn_on_screen_is_in_the_exported_copy(qtbot: Any, dialog: Any, archive: Archive, tmp_path: Path,
                                                      corpus: Path, messages: Any,
                                                      patient_photos: tuple[int, list[int]]) -> None:
    first = patient_photos[1][0]
    drag(qtbot, dialog.canvas, (0.25, 0.25), (0.75, 0.75))
    assert len(dialog.redactions[first]) == 1
    r = dialog.redactions[first][0]
    assert r.kind == "blur" and abs(r.x - 0.25) < 0.02 and abs(r.w - 0.5) < 0.02
    assert "1 redaction" in dialog.photos.items[first].text()
    assert "Consent allows education" in child(dialog.form, QLabel, "consentLabel").text()
    stored = records.image_bytes(archive, records.get_image(archive, first))

    qtbot.mouseClick(child(dialog.form, QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=20_000)

    out = tmp_path / "teaching"
    assert sorted(p.name for p in out.iterdir()) == ["image-001.jpg", "image-002.jpg", "images.csv", "images.json"]
    with Image.open(corpus / "landscape_1.jpg") as src, Image.open(out / "image-001.jpg") as got:
        src, got = src.convert("L"), got.convert("L")
        inside = (170, 130, 430, 320)
        edges = [ImageStat.Stat(i.crop(inside).filter(ImageFilter.FIND_EDGES)).mean[0] for i in (src, got)]
        assert edges[1] < edges[0] / 4
        assert ImageStat.Stat(ImageChops.difference(src.crop((0, 0, 600, 80)), got.crop((0, 0, 600, 80)))).mean[0] < 4
    rows = list(csv.DictReader(io.StringIO((out / "images.csv").read_text())))
    assert [r["redacted"] for r in rows] == ["blur", ""]
    assert records.image_bytes(archive, records.get_image(archive, first)) == stored
    assert any("Exported 2 de-identified photos" in t for t in messages.texts("info"))
    assert dialog.result() == dialog.DialogCode.Accepted


def test_crop_replaces_crop_and_result_preview_shows_it(qtbot: Any, dialog: Any) -> None:
    qtbot.mouseClick(child(dialog.form, QPushButton, "cropButton"), Qt.MouseButton.LeftButton)
    drag(qtbot, dialog.canvas, (0.1, 0.1), (0.4, 0.4))
    drag(qtbot, dialog.canvas, (0.5, 0.5), (1.0, 1.0))
    image_id = dialog.current_id()
    assert [r.kind for r in dialog.redactions[image_id]] == ["crop"]
    assert dialog.redactions[image_id][0].x == pytest.approx(0.5, abs=0.02)
    dialog.result_check.setChecked(True)
    qtbot.waitUntil(lambda: dialog.canvas.result is not None, timeout=10_000)
    full = dialog.canvas.picture
    assert dialog.canvas.result.width() == pytest.approx(full.width() / 2, abs=3)
    qtbot.mouseClick(child(dialog.form, QPushButton, "undoButton"), Qt.MouseButton.LeftButton)
    assert image_id not in dialog.redactions
    qtbot.waitUntil(lambda: dialog.canvas.result is not None
                    and dialog.canvas.result.width() == pytest.approx(full.width(), abs=3), timeout=10_000)


def test_refused_purpose_disables_export_and_names_photos(qtbot: Any, dialog: Any,
                                                          patient_photos: tuple[int, list[int]]) -> None:
    combo = child(dialog.form, QComboBox, "purposeCombo")
    combo.setCurrentIndex(combo.findData("publication"))
    text = child(dialog.form, QLabel, "consentLabel").text()
    for image_id in patient_photos[1]:
        assert f"photo {image_id}: the consent for its visit (version 1) does not grant it" in text
    assert not child(dialog.form, QPushButton, "exportButton").isEnabled()
    combo.setCurrentIndex(combo.findData("research"))
    assert child(dialog.form, QPushButton, "exportButton").isEnabled()


def test_export_error_is_shown_and_dialog_stays(qtbot: Any, dialog: Any, tmp_path: Path, messages: Any) -> None:
    busy = tmp_path / "teaching"
    busy.mkdir()
    (busy / "notes.txt").write_text("someone else's file")
    qtbot.mouseClick(child(dialog.form, QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(messages.texts("error")), timeout=10_000)
    assert "not an empty folder" in messages.texts("error")[0]
    assert dialog.isVisible() and child(dialog.form, QPushButton, "exportButton").isEnabled()
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_leave_out_refused_photos_then_export(qtbot: Any, archive: Archive, patient_photos: tuple[int, list[int]],
                                              tmp_path: Path, messages: Any) -> None:
    pid, allowed = patient_photos
    later = records.add_visit(archive, pid, "2024-06-01")
    verbal = add_photo(archive, later, "landscape_3.jpg")
    record_consent(archive, later, scopes=["clinical.referral"], method="verbal", obtained_by="RN")
    d = DeidentifiedExportDialog(archive, pid, [*allowed, verbal])
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    drop = child(d.form, QPushButton, "dropRefusedButton")
    assert drop.isVisible() and drop.text() == "Leave out the 1 refused photo"
    assert not child(d.form, QPushButton, "exportButton").isEnabled()
    qtbot.mouseClick(drop, Qt.MouseButton.LeftButton)
    assert set(d.photos.items) == set(allowed) and not drop.isVisible()
    assert child(d.form, QLabel, "headerLabel").text().startswith("2 photos")
    folder = child(d.form, QLineEdit, "folderEdit")
    folder.clear()
    qtbot.keyClicks(folder, str(tmp_path / "out"))
    qtbot.mouseClick(child(d.form, QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.summary is not None, timeout=20_000)
    assert d.summary["count"] == 2
    entry = archive.audit.entries(archive.catalogue, action="export")[-1]
    assert verbal not in entry.subject["images"]
    QThreadPool.globalInstance().waitForDone(10_000)
