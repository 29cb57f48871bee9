"""Thumbnails say at a glance what each photo's consent allows, and whether the PACS has a copy."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from dermarchive.archive import records
from dermarchive.consent import policy
from dermarchive.gui.main_window import PAGE_PATIENT, MainWindow
from dermarchive.gui.timeline import BadgesRole


def _badges_of_every_photo(window: MainWindow, qtbot: Any) -> dict[int, tuple[str, Any]]:
    """Open each patient in turn; image id → (consent badge text, its visit's current consent)."""
    archive = window.archive
    seen: dict[int, tuple[str, Any]] = {}
    for patient in records.find_patients(archive):
        window.show_patient(patient.id)
        qtbot.waitUntil(lambda p=patient: window.content.currentIndex() == PAGE_PATIENT
                        and window.patient_page.ready and window.patient_page.patient.id == p.id, timeout=10_000)
        model = window.patient_page.timeline_model
        currents = policy.current_consents(archive, [v.id for v in records.visits(archive, patient.id)])
        for row in model.image_rows():
            image = model.item(row)
            badges = model.data(model.index(row), BadgesRole)
            tooltip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
            assert badges and badges[0][1] in tooltip
            seen[image.id] = (badges[0][0], image, currents.get(image.visit_id))
    return seen


def test_consent_badges_follow_the_policy(main_window: MainWindow, qtbot: Any) -> None:
    seen = _badges_of_every_photo(main_window, qtbot)
    assert seen
    for badge, image, consent in seen.values():
        if consent is None or consent.withdrawn:
            assert badge == "Record only", (image.id, consent)
        elif consent.method in ("verbal", "exemption") or image.kind == "consent-form":
            assert badge in ("Clinical use", "Record only"), (image.id, consent)
        elif {"education", "research", "publication"} & consent.scopes:
            assert badge == "Teaching OK", (image.id, consent)
    assert {"Clinical use", "Teaching OK"} <= {b for b, _i, _c in seen.values()}  # "Record only": next test


def test_withdrawing_consent_changes_the_badges_after_refresh(main_window: MainWindow, qtbot: Any) -> None:
    from dermarchive.workflows.consent import withdraw_consent

    seen = _badges_of_every_photo(main_window, qtbot)
    badge, image, consent = next(v for v in seen.values() if v[0] == "Teaching OK")
    withdraw_consent(main_window.archive, image.visit_id, reason="patient asked")
    main_window.show_patient(image.patient_id)
    main_window.refresh()
    page = main_window.patient_page
    qtbot.waitUntil(lambda: page.ready and page.timeline_model.row_of_image(image.id) >= 0
                    and page.timeline_model.data(page.timeline_model.index(page.timeline_model.row_of_image(image.id)),
                                                 BadgesRole)[0][0] == "Record only", timeout=10_000)
