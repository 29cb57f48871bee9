"""The import wizard's "Clinic day" mode (issue 18), driven on a generated phone folder: photos
sorted by the consent sheets photographed among them, a photo moved between groups by keyboard
and by drop, consent confirmed for one patient only, and the archive checked afterwards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QLineEdit, QWizard

from dermarchive.archive import records
from dermarchive.consent import records as consent_records
from dermarchive.gui.import_wizard import ImportWizard
from dermarchive.gui.import_wizard.clinic_day import GROUP_ROLE, REL_ROLE, WAITING
from dermarchive.gui.import_wizard.wizard import PAGE_CLINIC_DAY
from dermarchive.sheets.issue import print_sheet

from ..sheet_photos import Shot, fill, jpeg, photograph, skin_photo

pytestmark = pytest.mark.gui


@pytest.fixture
def day_folder(archive: Any, tmp_path: Path) -> Path:
    records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    records.add_patient(archive, "ZZZ0024", "Ngata", "Wiremu")
    folder = tmp_path / "phone"
    folder.mkdir()
    a = fill(print_sheet(archive, "ZZZ0016"), ["clinical.documentation", "education"], signed=True, seed=1)
    b = fill(print_sheet(archive, "ZZZ0024"), ["clinical.documentation"], signed=False, seed=2)
    shots = [("IMG_01.JPG", skin_photo(1)),
             ("IMG_02.JPG", photograph(a, Shot(size=(1600, 1200), angle=88, seed=1))),
             ("IMG_03.JPG", skin_photo(3)), ("IMG_04.JPG", skin_photo(4)),
             ("IMG_05.JPG", photograph(b, Shot(size=(1200, 1600), angle=-8, seed=2))),
             ("IMG_06.JPG", skin_photo(6))]
    for n, (name, img) in enumerate(shots):
        (folder / name).write_bytes(jpeg(img, taken_at=f"2026-11-30T10:{n:02d}:00", quality=85))
    return folder


def _tops(page: Any) -> dict[Any, Any]:
    return {page.tree.topLevelItem(i).data(0, GROUP_ROLE): page.tree.topLevelItem(i)
            for i in range(page.tree.topLevelItemCount())}


def _children(item: Any) -> list[str]:
    return [item.child(j).data(0, REL_ROLE) for j in range(item.childCount())]


def test_clinic_day_mode_sorts_moves_confirms_and_imports(qtbot: Any, archive: Any, day_folder: Path,
                                                         tmp_path: Path) -> None:
    wizard = ImportWizard(archive)
    qtbot.addWidget(wizard)
    wizard.show()
    mode = wizard.findChild(object, "clinicDayMode")
    assert mode.accessibleName()
    mode.setChecked(True)
    edit = wizard.source.w(QLineEdit, "folderEdit")
    qtbot.keyClicks(edit, str(day_folder))
    wizard.next()
    page = wizard.clinic_day
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_CLINIC_DAY and page.day is not None, timeout=120_000)
    tops = _tops(page)
    assert set(tops) == {0, 1, WAITING}
    assert _children(tops[0]) == ["IMG_02.JPG", "IMG_03.JPG", "IMG_04.JPG"]
    assert _children(tops[1]) == ["IMG_05.JPG", "IMG_06.JPG"]
    assert _children(tops[WAITING]) == ["IMG_01.JPG"]
    assert "Tester".upper() in tops[0].text(0) and "ZZZ0016" in tops[0].text(0)
    sheet_item = tops[0].child(0)
    assert "Clinical record, Education" in sheet_item.text(0) and "signed" in sheet_item.text(0)
    assert not sheet_item.flags() & Qt.ItemFlag.ItemIsDragEnabled          # the sheet stays with its patient
    assert tops[0].flags() & Qt.ItemFlag.ItemIsUserCheckable                # clear and signed: can be confirmed
    assert not tops[1].flags() & Qt.ItemFlag.ItemIsUserCheckable            # not signed: cannot
    assert "not signed" in tops[1].toolTip(0)
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    for name in ("clinicDayTree", "clinicDayMoveTo", "clinicDayMove", "clinicDayImport"):
        assert page.findChild(object, name).accessibleName(), name
    qtbot.waitUntil(lambda: page.thumb_job is None, timeout=60_000)
    assert not tops[0].child(1).icon(0).isNull()                            # thumbnails shown
    wizard.resize(1280, 720)
    wizard.grab().save(str(tmp_path / "clinic-day.png"))
    if os.environ.get("DERMARCHIVE_SCREENSHOTS"):
        wizard.grab().save(os.environ["DERMARCHIVE_SCREENSHOTS"] + "/clinic-day.png")

    # Keyboard: the waiting photo goes to the first patient.
    page.tree.clearSelection()
    tops[WAITING].child(0).setSelected(True)
    page.move_to.setCurrentIndex(page.move_to.findData(0))
    page.move_button.click()
    assert _children(tops[0])[-1] == "IMG_01.JPG" and _children(tops[WAITING]) == []
    # Drop: the second patient's photo dropped on the waiting group (what a drag ends in).
    model = page.tree.model()
    source = page.tree.indexFromItem(tops[1].child(1))
    mime: QMimeData = model.mimeData([source])
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, page.tree.indexFromItem(tops[WAITING]))
    tops[1].removeChild(tops[1].child(1))
    assert _children(tops[WAITING]) == ["IMG_06.JPG"]

    tops[0].setCheckState(0, Qt.CheckState.Checked)                      # the nurse confirms A's consent
    page.import_button.click()
    qtbot.waitUntil(lambda: page.result is not None, timeout=120_000)
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()

    a = records.patient_by_nhi(archive, "ZZZ0016")
    b = records.patient_by_nhi(archive, "ZZZ0024")
    a_images = records.images(archive, patient_id=a.id)
    assert len(a_images) == 4 and sorted(i.kind for i in a_images).count("consent-form") == 1
    assert len(records.images(archive, patient_id=b.id)) == 1                # IMG_06 waits: not imported
    visit = a_images[0].visit_id
    consent = consent_records.current(archive, visit)
    assert consent.method == "photographed-form" and sorted(consent.scopes) == ["clinical.documentation", "education"]
    assert consent_records.current(archive, records.images(archive, patient_id=b.id)[0].visit_id) is None
    assert "IMG_06.JPG" not in str([i.as_json() for i in a_images])
    wizard.button(QWizard.WizardButton.FinishButton).click()
