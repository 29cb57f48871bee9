"""After unlock → browse → lock, nothing of a patient and nothing of the passphrase is left
reachable (issue 21): no Python object holding a patient's NHI or name or the passphrase, no
widget showing them (text, title, tooltip, accessible name), no model row.

The scan looks for substrings in every str/bytes/bytearray any live container refers to
(``gc.get_objects()``' referents) and in what every widget and item model shows. Copies that
existed before the window was made are excluded by identity: the demo module's own name
literals, and this test's own needles. The passphrase is generated here (never a literal), so
the only other copies are the app's.
"""

from __future__ import annotations

import gc
import linecache
import secrets
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QAbstractListModel, QCoreApplication, QEvent, QModelIndex, Qt
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QApplication, QComboBox, QLabel, QLineEdit,
                               QPlainTextEdit, QTextEdit)

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records


def flush() -> None:
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        QCoreApplication.processEvents()
        gc.collect()


def _needles(archive: Archive) -> list[str]:
    """The demo patients' NHIs and names, read from the archive (no literal in this file)."""
    out: list[str] = []
    for p in records.find_patients(archive):
        out += [p.nhi, p.family, p.given]
    return out


def _python_holders(encoded: list[tuple[str, bytes]], exclude: set[int]) -> list[str]:
    """Each live str/bytes/bytearray (other than ``exclude``) containing a needle, with its holder's type."""
    found: list[str] = []
    for holder in gc.get_objects():
        for obj in gc.get_referents(holder):
            if id(obj) in exclude:
                continue
            if isinstance(obj, str):
                hits = [n for n, _b in encoded if n in obj]
            elif isinstance(obj, (bytes, bytearray)):
                hits = [n for n, b in encoded if b in obj]
            else:
                continue
            if hits:
                found.append(f"{type(holder).__qualname__} holds a {type(obj).__name__} with {len(hits)} needle(s)")
    return found


def _model_texts(model: QAbstractItemModel, parent: QModelIndex = QModelIndex(), depth: int = 0) -> list[str]:  # noqa: B008
    out = []
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole,
             Qt.ItemDataRole.EditRole, Qt.ItemDataRole.StatusTipRole)
    for row in range(model.rowCount(parent)):
        columns = 1 if isinstance(model, QAbstractListModel) else max(1, model.columnCount(parent))
        for col in range(columns):
            idx = model.index(row, col, parent)
            out += [str(v) for r in roles if (v := model.data(idx, r)) is not None]
            if depth < 3 and col == 0 and columns > 1 and model.hasChildren(idx):
                out += _model_texts(model, idx, depth + 1)
    return out


def _widget_texts() -> list[tuple[str, str]]:
    """(widget, text) for every text a user or a screen reader could get from any widget."""
    out: list[tuple[str, str]] = []
    models: dict[int, QAbstractItemModel] = {}
    for w in QApplication.allWidgets():
        name = f"{type(w).__name__}#{w.objectName()}"
        texts = [w.windowTitle(), w.toolTip(), w.accessibleName(), w.accessibleDescription(),
                 w.statusTip(), w.whatsThis()]
        if isinstance(w, (QLabel, QAbstractButton, QLineEdit)):
            texts.append(w.text())
        if isinstance(w, QLineEdit):
            texts.append(w.placeholderText())
        if isinstance(w, (QTextEdit, QPlainTextEdit)):
            texts.append(w.toPlainText())
        if isinstance(w, QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        if isinstance(w, QAbstractItemView) and w.model() is not None:
            models[id(w.model())] = w.model()
        for action in w.actions():
            texts += [action.text(), action.toolTip(), action.statusTip()]
        out += [(name, t) for t in texts if t]
    for m in list(models.values()):
        out += [(f"model {type(m).__name__}", t) for t in _model_texts(m)]
    return out


def _browse(window: Any, qtbot: Any) -> None:
    """Every patient, every lesion, the viewer and compare; the search typed; dialogs left open."""
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    for row in range(window.patient_model.rowCount()):
        window.patient_table.selectRow(row)
        qtbot.waitUntil(lambda: window.patient_page.ready, timeout=10_000)
        page = window.patient_page
        for lesion_row in range(page.lesion_model.rowCount()):
            page.lesion_table.selectRow(lesion_row)
            photos = page.timeline_model.images()
            page.select_images([photos[0].id])
            window.open_image(photos[0])
            qtbot.waitUntil(lambda: window.single.view.has_image(), timeout=10_000)
            window.step_photo(1)
            window.back_to_patient()
            if len(photos) >= 2:
                window.compare_images(photos[0], photos[1])
                qtbot.waitUntil(lambda: window.compare.right.view.has_image(), timeout=10_000)
                window.back_to_patient()
    # leave the viewer open on the last patient (its title names them) and two dialogs open
    photos = window.patient_page.timeline_model.images()
    window.patient_page.select_images([photos[0].id])
    window.create_referral()
    referral = window.dialog_shown
    qtbot.waitExposed(referral)
    referral.hide()
    window.patient_page.select_images([photos[0].id])
    window.export_deidentified()
    assert window.dialog_shown is not referral
    window.open_image(photos[0])
    qtbot.waitUntil(lambda: window.single.view.has_image(), timeout=10_000)
    assert window.viewer_title.text()
    family = window.patient_page.patient.family
    window.search.setFocus()
    qtbot.keyClicks(window.search, family)


def test_after_lock_no_patient_and_no_passphrase_is_left_anywhere(qtbot: Any, demo_archive: Any,
                                                                  messages: Any, tmp_path: Path) -> None:
    from dermarchive.gui.main_window import MainWindow

    # A first session on another copy of the demo, so that what the app imports or caches on
    # first use (reportlab's modules, whose docstrings say "Example") exists before the snapshot.
    warm_copy = tmp_path / "warm-up"
    shutil.copytree(demo_archive.path, warm_copy)
    warm = MainWindow(Archive.open(warm_copy, demo_archive.user, demo_archive.passphrase))
    qtbot.addWidget(warm)
    warm.show()
    _browse(warm, qtbot)
    warm.close()
    del warm
    flush()

    passphrase = "lock " + secrets.token_hex(12)  # generated: the app's copies are the only others
    with demo_archive.open() as archive:
        archive.change_passphrase(demo_archive.passphrase, passphrase, kdf=CHEAP_TEST_PARAMS)
        needles = _needles(archive)
    assert len(needles) == 9
    needles.append(passphrase)
    encoded = [(n, n.encode()) for n in needles]
    flush()
    # What exists now and is not the window's: module literals (the demo's names), our needles.
    before = {id(o) for o in needles} | {id(b) for _n, b in encoded}
    for holder in gc.get_objects():
        before.update(id(o) for o in gc.get_referents(holder) if isinstance(o, (str, bytes, bytearray)))
    kept_alive = [o for holder in gc.get_objects() for o in gc.get_referents(holder)
                  if isinstance(o, (str, bytes, bytearray)) and id(o) in before]  # ids stay theirs

    window = MainWindow(Archive.open(demo_archive.path, demo_archive.user, passphrase))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    _browse(window, qtbot)
    window.lock("manual")

    # unlock through the panel, as a user does, browse again, lock again
    panel = window.unlock_panel
    panel.passphrase.setText(passphrase)
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    assert panel.passphrase.text() == ""  # taken out of the field at once, not after the unlock
    del panel
    qtbot.waitUntil(lambda: not window.locked, timeout=10_000)
    # the keys are secrets too: the master key and the catalogue key (SQLCipher gets it as hex)
    master, catalogue_key = window.archive.master.raw, window.archive.master.subkey("catalogue")
    keys = [(master.hex(), master), (catalogue_key.hex(), catalogue_key)]
    before |= {id(o) for pair in keys for o in pair}
    encoded += keys
    del master, catalogue_key
    _browse(window, qtbot)
    window.lock("manual")
    qtbot.wait(50)
    flush()

    shown = [(w, t) for w, t in _widget_texts() if any(n in t for n in needles)]
    assert shown == [], f"widgets still showing a patient or the passphrase: {[w for w, _t in shown]}"
    linecache.clearcache()  # source lines read for tracebacks (a cancelled preview's), not patient data
    gc.collect()
    held = _python_holders(encoded, before | {id(kept_alive)})
    assert held == [], ("after lock, live objects still hold a patient's NHI or name, the passphrase "
                        "or a key:\n" + "\n".join(held))
    assert window.viewer_title.text() == ""
    window.close()
