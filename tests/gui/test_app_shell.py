"""The desktop shell on the real GUI (offscreen): start screen, create, unlock, browse, view, lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.gui import settings
from dermarchive.gui.app import App
from dermarchive.gui.main_window import PAGE_PATIENT, PAGE_VIEWER, MainWindow
from dermarchive.gui.timeline import VisitHeader

pytestmark = pytest.mark.gui


def _app(qtbot: Any, **kwargs: Any) -> App:
    app = App(**kwargs)
    qtbot.addWidget(app.start)
    app.start.kdf = CHEAP_TEST_PARAMS
    app.show_start()
    return app


def _close_main(app: App) -> None:
    if app.main is not None:
        app.main.close()


def test_create_archive_from_the_start_screen(qtbot: Any, tmp_path: Path, messages: Any) -> None:
    app = _app(qtbot)
    dialog = app.start.create_archive()
    folder = tmp_path / "practice-archive"
    qtbot.keyClicks(dialog.folder, str(folder))
    qtbot.keyClicks(dialog.user, "dr.ngata")
    qtbot.keyClicks(dialog.passphrase, "short1")
    assert not dialog.ok.isEnabled()
    assert "at least 10 characters" in dialog.policy.text()
    dialog.passphrase.clear()
    qtbot.keyClicks(dialog.passphrase, "flax and kowhai 1987")
    qtbot.keyClicks(dialog.repeat, "flax and kowhai 1988")
    assert "differ" in dialog.policy.text()
    assert not dialog.ok.isEnabled()
    dialog.repeat.clear()
    qtbot.keyClicks(dialog.repeat, "flax and kowhai 1987")
    assert "meets the policy" in dialog.policy.text()
    assert dialog.ok.isEnabled()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.main is not None, timeout=10_000)
    window = app.main  # deletes itself on close
    assert window.archive.is_open and window.archive.user.name == "dr.ngata"
    qtbot.waitUntil(lambda: window.patients_ready)
    assert window.patient_model.total == 0
    assert Archive.users_of(folder) == ["dr.ngata"]
    assert settings.recent_archives()[0] == folder.resolve()
    window.close_archive()
    assert not window.archive.is_open
    qtbot.waitUntil(app.start.isVisible)
    assert app.start.recent.item(0).data(Qt.ItemDataRole.UserRole) == str(folder.resolve())
    # The archive really is encrypted with that passphrase.
    with Archive.open(folder, "dr.ngata", "flax and kowhai 1987") as again:
        assert again.user.role == "admin"


def test_create_refuses_a_folder_that_is_not_empty(qtbot: Any, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "letters.txt").write_text("x")
    app = _app(qtbot)
    dialog = app.start.create_archive()
    dialog.folder.setText(str(tmp_path / "busy"))
    dialog.user.setText("nurse.ana")
    dialog.passphrase.setText("long enough 12345")
    dialog.repeat.setText("long enough 12345")
    dialog.ok.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "not empty" in dialog.error.text()
    assert dialog.isVisible() and app.main is None
    assert (tmp_path / "busy" / "letters.txt").read_text() == "x"


def test_wrong_then_right_passphrase(qtbot: Any, demo_archive: Any) -> None:
    app = _app(qtbot)
    dialog = app.unlock(demo_archive.path)
    panel = dialog.panel
    assert panel.user_combo.currentText() == demo_archive.user
    qtbot.keyClicks(panel.passphrase, "not the passphrase 1")
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.error.isVisible() and not panel.busy, timeout=10_000)
    assert "not the passphrase" in panel.error.text()
    assert dialog.isVisible() and panel.passphrase.text() == "" and app.main is None
    qtbot.keyClicks(panel.passphrase, demo_archive.passphrase)
    qtbot.keyClick(panel.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.main is not None, timeout=10_000)
    window = app.main  # deletes itself on close
    qtbot.waitUntil(lambda: window.patients_ready)
    assert window.patient_model.total == 3
    # The failed attempt is in the audit log since this unlock.
    failed = window.archive.audit.entries(window.archive.catalogue, action="unlock.failed")
    assert len(failed) == 1 and failed[0].user == demo_archive.user
    _close_main(app)


def test_search_filters_and_sorts_the_patient_list(main_window: MainWindow, qtbot: Any) -> None:
    model = main_window.patient_model
    assert model.rowCount() == 3
    nhis = [model.patient_at(r).nhi for r in range(3)]
    qtbot.keyClicks(main_window.search, nhis[1][:5].lower())
    assert [model.patient_at(r).nhi for r in range(model.rowCount())] == \
           [n for n in nhis if n.startswith(nhis[1][:5])]
    main_window.search.clear()
    qtbot.keyClicks(main_window.search, "sampl")
    assert model.rowCount() == 1 and model.patient_at(0).family == "Sample"
    assert "1 of 3" in main_window.patient_count.text()
    qtbot.keyClick(main_window.search, Qt.Key.Key_Backspace)
    qtbot.keyClick(main_window.search, Qt.Key.Key_Backspace)  # "sam": a wider search again
    assert [model.patient_at(r).id for r in range(model.rowCount())] == [p.id for p in model.matching("sam")]
    main_window.search.clear()
    qtbot.keyClicks(main_window.search, "nobody like this")
    assert model.rowCount() == 0
    main_window.search.clear()
    assert model.rowCount() == 3
    main_window.patient_table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert [model.patient_at(r).nhi for r in range(3)] == sorted(nhis, reverse=True)


def _open_first_patient(window: MainWindow, qtbot: Any) -> records.Patient:
    window.patient_table.selectRow(0)
    qtbot.waitUntil(lambda: window.content.currentIndex() == PAGE_PATIENT and window.patient_page.ready,
                    timeout=10_000)
    patient = window.patient_page.patient
    assert patient is not None
    return patient


def test_opening_a_patient_shows_lesions_and_timeline(main_window: MainWindow, qtbot: Any) -> None:
    patient = _open_first_patient(main_window, qtbot)
    page = main_window.patient_page
    archive = main_window.archive
    assert page.nhi_label.text() == f"NHI {patient.nhi}"
    assert patient.display_name in page.name_label.text()
    assert f"{patient.age()} years" in page.details_label.text()
    lesions = records.lesions(archive, patient.id)
    assert page.lesion_model.rowCount() == len(lesions) + 1  # + "All photos"
    model = page.timeline_model
    headers = [model.item(r) for r in range(model.rowCount()) if isinstance(model.item(r), VisitHeader)]
    visits = records.visits(archive, patient.id)
    assert [h.visit.id for h in headers] == [v.id for v in visits]
    assert len(model.images()) == patient.image_count
    kinds = {i.kind for i in model.images()}
    assert {"clinical", "consent-form"} <= kinds
    # Thumbnails arrive lazily for what is on screen.
    visible = page.timeline.visible_image_rows()
    assert visible
    qtbot.waitUntil(lambda: all(model.item(r).id in main_window.loader.cache for r in visible),
                    timeout=10_000)
    # Choosing a lesion narrows the timeline to its photos, grouped by visit, oldest first.
    lesion = lesions[0]
    page.select_lesion(lesion.id)
    shown = model.images()
    assert len(shown) == lesion.image_count and all(i.lesion_id == lesion.id for i in shown)
    assert [i.sort_key for i in shown] == sorted(i.sort_key for i in shown)
    # Selecting a photo fills the side panel, including what its consent allows.
    page.select_images([shown[0].id])
    assert "Clinical record" in page.panel.consent.text()
    assert "clinical.documentation" in page.panel.allowed
    audit = archive.audit.entries(archive.catalogue, action="patient.view")
    assert audit[-1].subject == {"patient": patient.id}


def test_names_stay_readable_beside_a_patients_page(main_window: MainWindow, qtbot: Any) -> None:
    main_window.resize(1024, 768)  # a small clinic laptop screen
    _open_first_patient(main_window, qtbot)
    table = main_window.patient_table
    metrics = table.fontMetrics()
    model = main_window.patient_model
    for row in range(model.rowCount()):
        name = model.index(row, 1).data()
        assert metrics.horizontalAdvance(name) + 8 <= table.columnWidth(1), name
    # The photo list's title fits beside its buttons: elided on one line, whole in its tooltip.
    page = main_window.patient_page
    longest = max(records.lesions(main_window.archive, page.patient.id), key=lambda les: len(les.site_label))
    page.select_lesion(longest.id)
    title = page.timeline_title
    assert longest.site_label in title.toolTip()
    assert title.sizeHint().width() <= title.width() + 4
    assert title.height() < 2.5 * title.fontMetrics().height()


def test_compare_opens_two_photos_with_synchronised_zoom(main_window: MainWindow, qtbot: Any) -> None:
    _open_first_patient(main_window, qtbot)
    page = main_window.patient_page
    lesion = records.lesions(main_window.archive, page.patient.id)[0]
    page.select_lesion(lesion.id)
    clinical = [i for i in page.timeline_model.images() if i.kind == "clinical"]
    first, last = clinical[0], clinical[-1]
    assert first.visit_id != last.visit_id
    page.select_images([last.id, first.id])
    assert page.compare_button.isEnabled()
    qtbot.mouseClick(page.compare_button, Qt.MouseButton.LeftButton)
    assert main_window.content.currentIndex() == PAGE_VIEWER
    left, right = main_window.compare.left, main_window.compare.right
    qtbot.waitUntil(lambda: left.view.has_image() and right.view.has_image(), timeout=10_000)
    assert left.view.image.id == first.id and right.view.image.id == last.id  # older on the left
    from dermarchive.gui.timeline import nice_date
    assert nice_date(first.taken_at) in left.caption.text()
    assert nice_date(last.taken_at) in right.caption.text()
    left.view.actual_size()
    assert right.view.scale_factor() == pytest.approx(1.0)
    left.view.zoom_by(2.0)
    assert right.view.scale_factor() == pytest.approx(2.0)
    left.view.horizontalScrollBar().setValue(left.view.horizontalScrollBar().maximum())
    assert right.view.horizontalScrollBar().value() == right.view.horizontalScrollBar().maximum()
    left.view.rotate_view(90)
    assert right.view.rotation() == 90
    views = main_window.archive.audit.entries(main_window.archive.catalogue, action="image.view")
    assert {e.subject["image"] for e in views} >= {first.id, last.id}
    qtbot.keyClick(main_window, Qt.Key.Key_Escape)
    assert main_window.content.currentIndex() == PAGE_PATIENT
    assert not left.view.has_image() and not right.view.has_image()


def test_viewer_zoom_keys_and_rotation_do_not_change_the_photo(main_window: MainWindow, qtbot: Any) -> None:
    _open_first_patient(main_window, qtbot)
    page = main_window.patient_page
    image = next(i for i in page.timeline_model.images() if i.kind == "clinical")
    before = records.image_bytes(main_window.archive, image)
    page.select_images([image.id])
    qtbot.keyClick(page.timeline, Qt.Key.Key_Return)
    view = main_window.single.view
    qtbot.waitUntil(view.has_image, timeout=10_000)
    fit = view.scale_factor()
    assert fit != pytest.approx(1.0)  # the small test photo is fitted to the view, not shown at 100 %
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.scale_factor() == pytest.approx(1.0)
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.scale_factor() == pytest.approx(1.25)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.scale_factor() == pytest.approx(fit)
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert view.rotation() == 90
    assert "Clinical photo" in main_window.viewer_panel.details.text()
    assert records.image_bytes(main_window.archive, image) == before
    # Page Down steps to the next photo of the timeline.
    photos = page.timeline_model.images()
    following = photos[photos.index(image) + 1]
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: view.image is not None and view.image.id == following.id, timeout=10_000)
    assert page.selected_images() == [following]


def test_idle_lock_drops_everything_and_unlocks_again(qtbot: Any, open_demo: Archive, demo_archive: Any,
                                                      messages: Any) -> None:
    window = MainWindow(open_demo, idle_minutes=0.6 / 60)  # 0.6 s for the test; default is 5 minutes
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.patients_ready)
    patient = _open_first_patient(window, qtbot)
    page = window.patient_page
    visible = page.timeline.visible_image_rows()
    qtbot.waitUntil(lambda: len(window.loader.cache) >= len(visible), timeout=10_000)
    page.select_images([page.timeline_model.images()[1].id])
    page.open_selected()
    qtbot.waitUntil(window.single.view.has_image, timeout=10_000)
    qtbot.waitUntil(lambda: window.locked, timeout=10_000)
    assert not open_demo.is_open
    assert len(window.loader.cache) == 0 and window.loader.cache.bytes == 0
    assert window.patient_model.rowCount() == 0 and window.patient_model.total == 0
    assert page.timeline_model.rowCount() == 0 and page.lesion_model.rowCount() == 0
    assert not window.single.view.has_image()
    assert page.name_label.text() == "" and window.lock_stack.currentIndex() == 1
    assert not window.actions_by_name["import"].isEnabled()
    assert window.unlock_panel.title.text() == "Locked after 0.01 minutes without use"
    # Unlock in place: back to the same patient.
    panel = window.unlock_panel
    qtbot.keyClicks(panel.passphrase, demo_archive.passphrase)
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.locked and window.patients_ready and window.patient_page.ready,
                    timeout=10_000)
    assert window.lock_stack.currentIndex() == 0
    assert window.patient_page.patient.id == patient.id
    assert window.patient_model.total == 3
    locks = window.archive.audit.entries(window.archive.catalogue, action="lock")
    assert locks[-1].details == {"reason": "idle"}
    window.idle.stop()


def test_ctrl_l_locks_at_once(main_window: MainWindow, qtbot: Any) -> None:
    _open_first_patient(main_window, qtbot)
    archive = main_window.archive
    qtbot.keyClick(main_window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert main_window.locked and not archive.is_open
    assert main_window.patient_page.timeline_model.rowCount() == 0


def test_referral_without_selected_photos_explains_what_to_do(main_window: MainWindow, qtbot: Any,
                                                              messages: Any) -> None:
    _open_first_patient(main_window, qtbot)
    action = main_window.actions_by_name["referral"]
    assert not action.isEnabled() and action.toolTip() == "Select photos in the timeline first."
    page = main_window.patient_page
    page.select_images([page.timeline_model.images()[1].id])
    assert action.isEnabled() and action.toolTip() == "Make a referral letter with the selected photos"


def test_opening_a_folder_that_is_not_an_archive_says_so(qtbot: Any, tmp_path: Path) -> None:
    app = _app(qtbot)
    dialog = app.unlock(tmp_path)
    panel = dialog.panel
    assert panel.error.isVisible()
    assert panel.error.text() == f"{tmp_path} is not a DermArchive archive (no archive.json)."
    assert not panel.unlock_button.isEnabled()
    dialog.reject()
    assert app.main is None


def test_settings_keep_no_patient_data(main_window: MainWindow, qtbot: Any, _isolated_state: Path) -> None:
    patient = _open_first_patient(main_window, qtbot)
    qtbot.keyClicks(main_window.search, patient.family[:3])
    main_window.close()
    ini = (_isolated_state / "gui.ini").read_text("utf-8", errors="replace")
    assert "geometry" in ini  # the window did save its state there
    for secret in (patient.nhi, patient.family, patient.given):
        assert secret not in ini


def test_thumbnail_cache_stays_within_its_budget(qtbot: Any) -> None:
    from PySide6.QtGui import QPixmap

    from dermarchive.gui.thumbnails import PixmapCache

    cache = PixmapCache(max_bytes=3 * 100 * 100 * 4)
    for key in range(5):
        pix = QPixmap(100, 100)
        pix.fill()
        cache.put(key, pix)
        cache.get(0)  # photo 0 is looked at all the time: it stays
    assert len(cache) == 3 and cache.bytes <= cache.max_bytes
    assert 0 in cache and 4 in cache and 1 not in cache
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_browsing_writes_no_files_but_the_catalogue(main_window: MainWindow, qtbot: Any, demo_archive: Any,
                                                    _isolated_state: Path) -> None:
    def files() -> set[Path]:
        return {p for root in (demo_archive.path, _isolated_state) for p in root.rglob("*") if p.is_file()}

    before = files()
    _open_first_patient(main_window, qtbot)
    page = main_window.patient_page
    qtbot.waitUntil(lambda: len(main_window.loader.cache) > 0, timeout=10_000)
    first, second = page.timeline_model.images()[:2]
    main_window.compare_images(first, second)
    qtbot.waitUntil(lambda: main_window.compare.right.view.has_image(), timeout=10_000)
    main_window.lock("manual")
    new = {p.relative_to(demo_archive.path) if demo_archive.path in p.parents else p.name for p in files() - before}
    assert new <= {Path("catalogue.db-wal"), Path("catalogue.db-shm"), "gui.ini"}


def test_send_to_pacs_without_a_pacs_set_up_says_so(main_window: MainWindow, qtbot: Any, messages: Any) -> None:
    _open_first_patient(main_window, qtbot)
    page = main_window.patient_page
    page.select_images([page.timeline_model.images()[1].id])
    main_window.actions_by_name["send_pacs"].trigger()
    qtbot.waitUntil(lambda: bool(messages.entries), timeout=10_000)
    level, _title, text = messages.entries[0]
    assert level == "error" and "PACS" in text
