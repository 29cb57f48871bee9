"""Everyday screens for keyboard and screen-reader users (issue 22): every interactive widget has a
name a screen reader can speak (asked through Qt's own accessibility layer, as Orca/NVDA/VoiceOver
would), Tab is never trapped, Enter means Next on every wizard page."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractScrollArea, QAbstractSlider,
                               QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QPlainTextEdit,
                               QPushButton, QScrollArea, QScrollBar, QTabWidget, QTextEdit, QWidget)

from dermarchive.archive import records
from tests.gui.test_no_leaks import _select_photos

pytestmark = pytest.mark.gui

INTERACTIVE = (QAbstractButton, QAbstractItemView, QLineEdit, QTextEdit, QPlainTextEdit, QComboBox,
               QAbstractSpinBox, QAbstractSlider)


def spoken_name(widget: QWidget) -> str:
    iface = QAccessible.queryAccessibleInterface(widget)
    return iface.text(QAccessible.Text.Name).strip() if iface is not None else ""


def is_interactive(widget: QWidget) -> bool:
    if isinstance(widget, INTERACTIVE):
        return True
    # a custom view (timeline, image view, signature pad) the keyboard can reach
    return bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus) and not isinstance(widget, QScrollArea)


def unnamed(top: QWidget) -> list[str]:
    """Visible interactive widgets under ``top`` a screen reader would announce without a name."""
    found = []
    for widget in [top, *top.findChildren(QWidget)]:
        if not widget.isVisibleTo(top) or not is_interactive(widget) or isinstance(widget, QScrollBar):
            continue
        parent = widget.parent()
        if isinstance(parent, (QComboBox, QAbstractSpinBox, QAbstractScrollArea)) or \
                (isinstance(parent, QLineEdit) and not widget.focusPolicy() & Qt.FocusPolicy.TabFocus):
            continue  # a combo box's line edit, a view's viewport, a clear button: parts of a named whole
        if isinstance(widget, QTabWidget):
            continue  # its tab bar speaks the tab names
        if not spoken_name(widget):
            found.append(f"{type(widget).__name__}#{widget.objectName() or '?'}"
                         f" in {type(widget.window()).__name__}")
    return found


def _check(qtbot: Any, widget: QWidget, where: str, problems: list[str]) -> None:
    qtbot.waitExposed(widget)
    problems.extend(f"{where}: {name}" for name in unnamed(widget))


# Every dialog the main window opens (main_window.DIALOGS) and the correction dialogs.
DIALOG_OPENERS = {
    "import": lambda w: w.import_photos(),
    "consent": lambda w: w.edit_consent(None),
    "referral": lambda w: w.create_referral(),
    "export": lambda w: w.export_deidentified(),
    "backup": lambda w: w._dialog("backup", w.archive),
    "about": lambda w: w._dialog("about"),
    "guide": lambda w: w._dialog("guide"),
    "troubleshooting": lambda w: w._dialog("troubleshooting"),
    "pacs": lambda w: w._dialog("pacs", w.archive),
    "sheet": lambda w: w.print_consent_sheet(),
    "users": lambda w: w._dialog("users", w.archive),
    "body_map": lambda w: w.show_body_map(),
}


def test_every_dialog_of_the_main_window_is_opened_by_the_walk() -> None:
    from dermarchive.gui.main_window import DIALOGS

    assert set(DIALOG_OPENERS) == set(DIALOGS)


def test_every_interactive_widget_has_a_spoken_name(qtbot: Any, main_window: Any) -> None:
    problems: list[str] = []
    w = main_window
    _select_photos(w, qtbot, 2)
    _check(qtbot, w, "patient page", problems)
    photos = w.patient_page.selected_images()
    w.open_image(photos[0])
    _check(qtbot, w, "viewer", problems)
    w.compare_images(*photos)
    _check(qtbot, w, "compare", problems)
    w.back_to_patient()
    w.patient_page.lesion_table.selectRow(1)  # row 0 is "All photos"
    w.open_lesion()
    _check(qtbot, w, "lesion view", problems)
    w.back_to_patient()
    w.back_to_patient()
    for key, opener in DIALOG_OPENERS.items():
        _select_photos(w, qtbot)
        opener(w)
        dialog = w.dialog_shown
        assert dialog is not None, key
        _check(qtbot, dialog, key, problems)
        dialog.reject()
    for name in ("new_patient", "edit_patient", "merge_patient", "edit_lesion", "move_to_lesion", "move_to_patient",
                 "delete_photos", "audit_log", "edit_profile", "edit_letterhead"):
        _select_photos(w, qtbot)
        if name == "edit_lesion":
            w.patient_page.lesion_table.selectRow(1)  # row 0 is "All photos"
        dialog = getattr(w.corrections, name)()
        assert dialog is not None, name
        _check(qtbot, dialog, name, problems)
        dialog.reject()
    assert problems == [], "\n".join(problems)


def test_start_screen_unlock_and_create_dialogs_are_named(qtbot: Any, demo_archive: Any) -> None:
    from dermarchive.gui.restore_dialog import RestoreDialog
    from dermarchive.gui.start_screen import CreateArchiveDialog, StartScreen
    from dermarchive.gui.unlock import UnlockDialog

    problems: list[str] = []
    for make in (StartScreen, CreateArchiveDialog, RestoreDialog,
                 lambda: UnlockDialog(demo_archive.path, user=demo_archive.user)):
        widget = make()
        qtbot.addWidget(widget)
        widget.show()
        _check(qtbot, widget, type(widget).__name__, problems)
        widget.close()
    assert problems == [], "\n".join(problems)


def test_enter_means_next_on_every_wizard_page_and_every_page_is_named(qtbot: Any, archive: Any, corpus_copy: Any,
                                                                        messages: Any) -> None:
    """Keyboard only: Enter from wherever the page puts the focus goes on (Next, Import, Finish);
    no page button swallows Enter, and the destructive "Remove originals" is never the default."""
    from dermarchive.gui.import_wizard import ImportWizard
    from dermarchive.gui.import_wizard.wizard import (PAGE_CONSENT, PAGE_FINISH, PAGE_IMPORT, PAGE_LOCATION,
                                                      PAGE_ORGANISE, PAGE_PATIENT, PAGE_REVIEW, PAGE_SOURCE)
    from tests.gui.test_import_wizard import confirm_file_dates

    phone = corpus_copy("iphone_hdr_NO.jpg", "jolla.jpg")
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha", "1984-03-02")
    wizard = ImportWizard(archive, folder=phone, patient_id=patient.id)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    problems: list[str] = []
    order = [PAGE_SOURCE, PAGE_REVIEW, PAGE_PATIENT, PAGE_ORGANISE, PAGE_CONSENT, PAGE_LOCATION, PAGE_IMPORT,
             PAGE_FINISH]
    for page_id, following in zip(order, [*order[1:], None]):
        assert wizard.currentId() == page_id
        page = wizard.currentPage()
        if page_id == PAGE_IMPORT:
            qtbot.waitUntil(lambda: wizard.importing.finished, timeout=120_000)
        if page_id == PAGE_ORGANISE:
            confirm_file_dates(wizard)
        problems.extend(f"page {page_id}: {name}" for name in unnamed(wizard))
        swallowing = [b.objectName() or b.text() for b in page.findChildren(QPushButton)
                      if b.isVisible() and (b.autoDefault() or b.isDefault())]
        assert swallowing == [], f"page {page_id}: Enter on these presses them, not Next: {swallowing}"
        target = QApplication.focusWidget() or wizard
        assert target.window() is wizard
        qtbot.keyClick(target, Qt.Key.Key_Return)
        if following is None:
            qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)  # Finish
        else:
            qtbot.waitUntil(lambda f=following: wizard.currentId() in (f, -1), timeout=60_000 if page_id == PAGE_SOURCE
                            else 10_000)
            assert wizard.currentId() == following, f"Enter on page {page_id} (focus {target.objectName()})"
    assert problems == [], "\n".join(problems)
    assert messages.texts("error") == []
    assert len(records.images(archive, patient_id=patient.id)) == 2
    assert sorted(p.name for p in phone.iterdir()) == ["iphone_hdr_NO.jpg", "jolla.jpg"]  # nothing removed


def test_location_step_import_button_has_an_alt_key(qtbot: Any, archive: Any) -> None:
    from PySide6.QtWidgets import QWizard

    from dermarchive.gui.import_wizard import ImportWizard

    wizard = ImportWizard(archive)
    qtbot.addWidget(wizard)
    assert "&" in wizard.location.buttonText(QWizard.WizardButton.CommitButton)


def tab_chain(qtbot: Any, start: QWidget, limit: int = 80, key: Any = Qt.Key.Key_Tab) -> list[QWidget]:
    """The widgets Tab visits from ``start`` until it comes back (or ``limit`` presses)."""
    start.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is start, timeout=2_000)
    seen: list[QWidget] = []
    for _ in range(limit):
        qtbot.keyClick(QApplication.focusWidget(), key)
        now = QApplication.focusWidget()
        if now is start:
            break
        seen.append(now)
    return seen


def test_tab_from_the_search_reaches_every_control_of_the_patient_page_and_back(qtbot: Any,
                                                                              main_window: Any) -> None:
    w = main_window
    _select_photos(w, qtbot, 2)
    page = w.patient_page
    chain = tab_chain(qtbot, w.search)
    assert QApplication.focusWidget() is w.search, "Tab never came back to the search field"
    wanted = [w.patient_table, page.lesion_table, page.timeline, page.open_button, page.compare_button,
              page.consent_button, page.referral_button]
    missing = [x.objectName() for x in wanted if x not in chain]
    assert missing == []
    assert len(chain) < 40  # a table's cells are not each a Tab stop
    assert [f"{type(x).__name__}#{x.objectName()}" for x in chain if not spoken_name(x)] == []
    # and backwards
    back = tab_chain(qtbot, w.search, key=Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is w.search
    assert [x.objectName() for x in wanted if x not in back] == []


def test_field_labels_of_the_organise_step_and_dermoscopy_dialog_have_buddies(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLabel

    from dermarchive.gui.forms import load_form

    holder = QWidget()
    qtbot.addWidget(holder)
    missing = []
    for form_name, labels in (("import_wizard_organise", ("visitCaption", "lesionCaption", "kindCaption",
                                                          "notesCaption", "visitDateCaption")),
                              ("dermoscopy_dialog", ("lightLabel", "contactLabel"))):
        form = load_form(form_name, holder)
        for name in labels:
            label = form.findChild(QLabel, name)
            if label is None or label.buddy() is None:
                missing.append(f"{form_name}:{name}")
    assert missing == []


def test_consent_editor_reads_top_to_bottom_by_keyboard(qtbot: Any, archive: Any) -> None:
    """Scopes → method → obtained by → date → notes → … ; the exemption reason takes Tab as a move,
    not as a character; an unavailable scope says why; the pad names the way without a pen."""
    from PySide6.QtWidgets import QPlainTextEdit

    from dermarchive.gui.consent_editor import ConsentEditorDialog
    from tests.gui.test_consent_editor import choose_method
    from tests.test_consent_support import make_patient

    visit_id = records.add_visit(archive, make_patient(archive), "2024-05-01")
    dialog = ConsentEditorDialog(archive, visit_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    first_scope = next(c for c in dialog.checks.values() if c.isEnabled())
    chain = tab_chain(qtbot, first_scope)
    order = [dialog.method_combo, dialog.obtained_by_edit, dialog.date_edit, dialog.notes_edit]
    positions = [chain.index(w) if w in chain else -1 for w in order]
    assert -1 not in positions and positions == sorted(positions), positions
    scopes_after_method = [c for c in dialog.checks.values() if c in chain and
                           chain.index(c) > chain.index(dialog.method_combo)]
    assert scopes_after_method == []
    assert dialog.save_btn in chain and chain.index(dialog.save_btn) > chain.index(dialog.notes_edit)
    assert dialog.findChild(QScrollArea) is None or not any(isinstance(w, QScrollArea) for w in chain)

    choose_method(dialog, "exemption")
    reason = dialog.reason_edit
    assert isinstance(reason, QPlainTextEdit)
    reason.setFocus()
    qtbot.keyClicks(reason, "urgent")
    qtbot.keyClick(reason, Qt.Key.Key_Tab)
    assert reason.toPlainText() == "urgent" and not reason.hasFocus()

    choose_method(dialog, "verbal")
    unavailable = [c for c in dialog.checks.values() if not c.isEnabled() and c.isChecked() is False]
    assert unavailable and all("needs written consent" in c.text() for c in unavailable)
    choose_method(dialog, "written-signature")
    assert all("needs" not in c.text() for c in dialog.checks.values())
    assert "Photographed consent form" in dialog.pad.accessibleDescription()


def test_redaction_has_a_keyboard_route_named_beside_it(qtbot: Any, main_window: Any) -> None:
    from PySide6.QtWidgets import QLabel

    w = main_window
    _select_photos(w, qtbot, 2)
    w.export_deidentified()
    dialog = w.dialog_shown
    qtbot.waitExposed(dialog)
    assert len(dialog.images) == 2
    assert "Leave this photo out" in dialog.form.findChild(QLabel, "hintLabel").text()
    assert "Leave this photo out" in dialog.canvas.accessibleDescription()
    button = dialog.form.findChild(QPushButton, "leaveOutButton")
    assert "&" in button.text() and button.focusPolicy() & Qt.FocusPolicy.TabFocus
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_Space)  # keyboard only
    assert len(dialog.images) == 1 and dialog.photo_list.count() == 1
    dialog.reject()
