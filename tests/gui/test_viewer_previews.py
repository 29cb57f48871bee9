"""Issue 19: import leaves the screen preview for later. The viewer's first look at such a photo
makes and records it (once), and the main window fills the rest in an idle job after the import
wizard closes; lock cancels that job and the archive reopens whole."""

from __future__ import annotations

from typing import Any

import pytest

from dermarchive.archive import Archive, records
from dermarchive.archive.verify import verify
from dermarchive.gui.viewer import PhotoPane
from dermarchive.ingest import ImportOptions, run_import, scan

pytestmark = pytest.mark.gui

PHOTOS = ("Apple iPhone 4S.jpg", "jolla.jpg", "landscape_6.jpg")


def _import(archive: Archive, corpus_copy: Any, nhi: str = "ZZZ0016") -> list[int]:
    patient = records.add_patient(archive, nhi, "Preview", "Later")
    result = run_import(archive, scan(corpus_copy(*PHOTOS), archive), ImportOptions(patient.id))
    assert len(result.imported) == len(PHOTOS)
    assert all(i.preview_blob_id is None for i in records.images(archive, image_ids=result.imported))
    return result.imported


def test_the_first_view_of_an_imported_photo_makes_its_preview_once(archive: Archive, corpus_copy: Any,
                                                                     qtbot: Any) -> None:
    ids = _import(archive, corpus_copy)
    image = records.get_image(archive, ids[0])
    blobs = archive.catalogue.scalar("SELECT count(*) FROM blob")
    pane = PhotoPane()
    qtbot.addWidget(pane)
    pane.show_image(archive, image, "First look")
    qtbot.waitUntil(lambda: records.get_image(archive, image.id).preview_blob_id is not None, timeout=30_000)
    assert pane.caption.text() == "First look"
    made = records.get_image(archive, image.id).preview_blob_id

    pane.show_image(archive, image, "Second look")  # the grid's record still says "no preview"
    qtbot.waitUntil(lambda: "loading" not in pane.caption.text(), timeout=30_000)
    qtbot.wait(300)
    assert records.get_image(archive, image.id).preview_blob_id == made
    assert archive.catalogue.scalar("SELECT count(*) FROM blob") == blobs + 1
    assert len(archive.audit.entries(archive.catalogue, action="image.preview")) == 1
    assert verify(archive) == []


def test_closing_the_import_wizard_fills_the_missing_previews_in_the_background(
        main_window: Any, corpus_copy: Any, qtbot: Any) -> None:
    archive = main_window.archive
    ids = _import(archive, corpus_copy, "ZZZ1004")
    wizard = main_window._dialog("import", archive)
    wizard.reject()
    qtbot.waitUntil(lambda: all(i.preview_blob_id for i in records.images(archive, image_ids=ids)),
                    timeout=60_000)
    assert {e.subject["images"][0] for e in archive.audit.entries(archive.catalogue, action="image.preview")} \
        <= set(ids)


def test_lock_stops_the_preview_job_and_the_archive_reopens_whole(main_window: Any, demo_archive: Any,
                                                                  corpus_copy: Any, qtbot: Any) -> None:
    archive = main_window.archive
    _import(archive, corpus_copy, "ZZZ1004")
    main_window.make_previews()
    job = main_window._preview_jobs[0]
    main_window.lock()
    assert job.cancel_event.is_set() and job.finished.is_set()  # stopped before the archive closed
    with demo_archive.open() as again:
        assert verify(again) == []
        assert not again.blobs.temp_files()
