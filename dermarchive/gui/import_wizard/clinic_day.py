"""The import wizard's "Clinic day" mode: the folder sorted by the consent sheets photographed in it.

One group per patient (the sheet photo with the purposes read from it, then the patient's
photos), and a group of photos waiting for a patient. A photo moves to another group by drag and
drop, or from the keyboard with "Move to" and the Move button. Each patient's consent is recorded
only when its box is ticked here (a person confirms what was read); a sheet that is unclear or
not signed cannot be confirmed here. The work is :mod:`dermarchive.workflows.clinic_day`'s.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget, QWizardPage)

from ...consent.scopes import LABELS
from ...ingest.scan import preview_thumbnail
from ...workflows.clinic_day import ClinicDay, ClinicDayResult, consent_problem, import_clinic_day, sort_clinic_day
from .. import messages
from ..jobs import Job, run_job
from ..words import plural

REL_ROLE = Qt.ItemDataRole.UserRole
GROUP_ROLE = Qt.ItemDataRole.UserRole + 1   # index into day.groups; -1 for the waiting photos
WAITING = -1


def consent_text(reading: Any) -> str:
    """'Read from the sheet: Clinical record, Referral · signed' (unclear said as unclear)."""
    if reading is None:
        return "Nothing could be read from the sheet"
    ticked = ", ".join(LABELS[s] for s in reading.ticked) or "nothing ticked"
    signed = {True: "signed", False: "NOT signed", None: "signature unclear"}[reading.signed]
    unclear = f" · unclear: {', '.join(LABELS[s] for s in reading.unclear)}" if reading.unclear else ""
    return f"Read from the sheet: {ticked} · {signed}{unclear}"


class GroupTree(QTreeWidget):
    """Groups as top-level items, photos as their children; photos can be dropped on groups only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clinicDayTree")
        self.setAccessibleName("Photos by patient")
        self.setHeaderHidden(True)
        self.setIconSize(QSize(72, 72))
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.invisibleRootItem().setFlags(Qt.ItemFlag.ItemIsEnabled)  # nothing lands between groups


class ClinicDayPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clinicDayPage")
        self.setTitle("Clinic day: photos sorted by consent sheet")
        self.setSubTitle("Each patient's consent sheet starts their photos. Check each group, move photos that "
                         "are in the wrong place, and confirm the consent read from each sheet.")
        self.setFinalPage(True)
        self.day: ClinicDay | None = None
        self.result: ClinicDayResult | None = None
        self.job: Job | None = None
        self.thumb_job: Job | None = None
        layout = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setObjectName("clinicDayStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.setObjectName("clinicDayProgress")
        self.progress.setAccessibleName("Progress")
        layout.addWidget(self.progress)
        self.tree = GroupTree()
        self.tree.itemChanged.connect(lambda *_: self.completeChanged.emit())
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Move the selected photos to:"))
        self.move_to = QComboBox()
        self.move_to.setObjectName("clinicDayMoveTo")
        self.move_to.setAccessibleName("Group to move the selected photos to")
        row.addWidget(self.move_to, 1)
        self.move_button = QPushButton("&Move")
        self.move_button.setObjectName("clinicDayMove")
        self.move_button.setAccessibleName("Move the selected photos")
        self.move_button.clicked.connect(self.move_selected)
        row.addWidget(self.move_button)
        self.import_button = QPushButton("&Import")
        self.import_button.setObjectName("clinicDayImport")
        self.import_button.setAccessibleName("Import the patients' photos")
        self.import_button.clicked.connect(self.start_import)
        row.addWidget(self.import_button)
        layout.addLayout(row)

    # -- sorting -----------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        wiz = cast(Any, self.wizard())
        self.day, self.result = None, None
        self.tree.clear()
        self.import_button.setEnabled(False)
        self.status.setText("Looking for consent sheets among the photos…")
        self.job = run_job(sort_clinic_day, wiz.archive, wiz.plan, parent=self, with_progress=True,
                           show_dialog=False, on_progress=self._progress, on_done=self._sorted,
                           on_error=self._failed)

    def _progress(self, done: int, total: int, _message: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        self.status.setText("The photos could not be sorted.")
        messages.show_error(self, exc)

    def _sorted(self, day: ClinicDay) -> None:
        self.job = None
        self.day = day
        self.fill()
        self.import_button.setEnabled(bool(day.groups))
        self.status.setText(f"{plural(len(day.groups), 'patient')} found by their consent sheets; "
                            f"waiting for a patient, not imported: {plural(len(day.waiting), 'photo')}.")
        rels = [r for g in day.groups for r in g.rels()] + list(day.waiting)
        entries = [day.plan.entry(r) for r in rels]
        self.thumb_job = run_job(lambda: {e.rel: preview_thumbnail(e, 160) for e in entries if e.metadata},
                                 on_done=self._thumbs, on_error=lambda _exc: None)

    def _thumbs(self, thumbs: dict[str, bytes]) -> None:
        self.thumb_job = None
        for item in self._photo_items():
            data = thumbs.get(item.data(0, REL_ROLE))
            if data:
                pix = QPixmap()
                pix.loadFromData(data)
                item.setIcon(0, QIcon(pix))

    def fill(self) -> None:
        assert self.day is not None
        day = self.day
        self.tree.blockSignals(True)
        self.tree.clear()
        self.move_to.clear()
        for n, group in enumerate(day.groups):
            patient = day.patients[group.nhi]
            problem = consent_problem(group.consent)
            what = ("tick to confirm the consent read from the sheet" if problem is None
                    else f"consent to record by hand after import: {problem}")
            top = QTreeWidgetItem([f"{patient.display_name} · NHI {patient.nhi} · {plural(len(group.rels()), 'photo')} · {what}"])
            top.setData(0, GROUP_ROLE, n)
            flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled | Qt.ItemFlag.ItemIsSelectable
            if problem is None:
                top.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable)
                top.setCheckState(0, Qt.CheckState.Unchecked)
                top.setToolTip(0, "Tick to record the consent read from the sheet (you confirm it).")
            else:
                top.setFlags(flags)
                top.setToolTip(0, f"The consent cannot be confirmed here: {problem}. Record it by hand after import.")
            self.tree.addTopLevelItem(top)
            for rel in group.sheets:
                self._photo(top, rel, f"Consent sheet — {consent_text(group.consent)}", movable=False)
            for rel in group.photos:
                label = f"lesion label: {group.lesions[rel]}" if rel in group.lesions else "photo"
                self._photo(top, rel, label, movable=True)
            top.setExpanded(True)
            self.move_to.addItem(f"{patient.display_name} ({patient.nhi})", n)
        waiting = QTreeWidgetItem([f"Waiting for a patient (not imported) · {plural(len(day.waiting), 'photo')}"])
        waiting.setData(0, GROUP_ROLE, WAITING)
        waiting.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.tree.addTopLevelItem(waiting)
        for rel, reason in day.waiting.items():
            self._photo(waiting, rel, reason, movable=True)
        waiting.setExpanded(True)
        self.move_to.addItem("Waiting for a patient (not imported)", WAITING)
        self.tree.blockSignals(False)

    def _photo(self, parent: QTreeWidgetItem, rel: str, note: str, *, movable: bool) -> None:
        item = QTreeWidgetItem([f"{rel} — {note}"])
        item.setData(0, REL_ROLE, rel)
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        item.setFlags(flags | Qt.ItemFlag.ItemIsDragEnabled if movable else flags)
        item.setToolTip(0, note)
        parent.addChild(item)

    def _photo_items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out += [top.child(j) for j in range(top.childCount())]
        return out

    # -- moving ------------------------------------------------------------------------------
    def move_selected(self) -> None:
        target = self.move_to.currentData()
        if target is None:
            return
        dest = next(self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())
                    if self.tree.topLevelItem(i).data(0, GROUP_ROLE) == target)
        for item in self.tree.selectedItems():
            parent = item.parent()
            if parent is None or parent is dest or not item.flags() & Qt.ItemFlag.ItemIsDragEnabled:
                continue
            parent.removeChild(item)
            dest.addChild(item)

    def groups_from_tree(self) -> None:
        """The day's groups as the tree shows them (after drags and moves)."""
        assert self.day is not None
        day = self.day
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            n = top.data(0, GROUP_ROLE)
            rels = [top.child(j).data(0, REL_ROLE) for j in range(top.childCount())]
            for rel in rels:
                group = day.sort.group_of(rel)
                here = day.groups[n] if n != WAITING else None
                if rel in day.waiting and here is None or group is not None and group is here:
                    continue
                if group is not None and rel in group.sheets:
                    continue  # sheets never move (their items cannot be dragged)
                day.sort.move(rel, here)

    def confirmed(self) -> dict[int, Any]:
        assert self.day is not None
        out = {}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            n = top.data(0, GROUP_ROLE)
            if n != WAITING and top.flags() & Qt.ItemFlag.ItemIsUserCheckable \
                    and top.checkState(0) == Qt.CheckState.Checked:
                group = self.day.groups[n]
                out[group.serial] = group.consent
        return out

    # -- importing ---------------------------------------------------------------------------
    def start_import(self) -> None:
        if self.day is None or self.job is not None:
            return
        self.groups_from_tree()
        wiz = cast(Any, self.wizard())
        self.import_button.setEnabled(False)
        self.tree.setEnabled(False)
        self.status.setText("Importing each patient's photos…")
        work = partial(import_clinic_day, wiz.archive, self.day, confirmed=self.confirmed())
        self.job = run_job(work, parent=self, with_progress=True, show_dialog=False, on_progress=self._progress,
                           on_done=self._imported, on_error=self._import_failed)

    def _imported(self, result: ClinicDayResult) -> None:
        self.job = None
        self.result = result
        lines = []
        for g in result.groups:
            done = sum(1 for o in g.result.outcomes if o.status == "imported") if g.result else 0
            consent = "consent recorded" if g.consent_version else f"consent {g.consent_note}"
            lines.append(f"{g.group.nhi}: {plural(done, 'photo')} imported; {consent}.")
        waiting = len(self.day.waiting) if self.day else 0
        self.status.setText("\n".join(lines + [f"Left waiting for a patient: {plural(waiting, 'photo')}."]))
        self.completeChanged.emit()

    def _import_failed(self, exc: BaseException) -> None:
        self.job = None
        self.tree.setEnabled(True)
        self.import_button.setEnabled(True)
        messages.show_error(self, exc)

    def isComplete(self) -> bool:  # noqa: N802
        return self.result is not None

    def nextId(self) -> int:  # noqa: N802
        return -1
