"""Organise: visits by capture time (gap editable, photos movable between visits, a visit's date
settable when the camera recorded none), and for each photo or a selection: lesion (existing or
new, with body site, free text and laterality), kind and notes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDateEdit, QDoubleSpinBox, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableView, QWidget)

from ...archive import bodysites, records
from ...ingest import PlanEntry
from ...ingest.run import IMPORT_KINDS
from .. import messages
from .base import FormPage
from ...workflows.import_visit import ImportChoices, NewLesion, PhotoChoice, group_by_time
from .common import KIND_LABELS, EntryTableModel, Index, long_date, plural, taken_text

COLUMNS = ("Photo", "Visit", "Lesion", "Kind", "Notes")
C_PHOTO, C_VISIT, C_LESION, C_KIND, C_NOTES = range(len(COLUMNS))
ROW_THUMB = 72  # large enough to tell photos apart (was 40, then 56)
NEW_VISIT = -1


def visit_days(entries: list[PlanEntry], choices: ImportChoices) -> dict[int, tuple[str, str]]:
    """Visit index → (YYYY-MM-DD or "", where it comes from: "set", "camera", "file" or "").

    A date the nurse set stands; else the earliest capture time of the visit's photos, which is
    only the file's time when the camera recorded none (forwarded or edited photos)."""
    firsts: dict[int, tuple[str, str]] = {}
    chosen: dict[int, str] = {}
    for e in entries:
        photo = choices.photos[e.rel]
        v = photo.visit
        if photo.visit_date:
            chosen[v] = min(photo.visit_date, chosen.get(v, photo.visit_date))
        meta = e.metadata
        when = meta.taken_at if meta else None
        if when and (v not in firsts or not firsts[v][0] or when < firsts[v][0]):
            firsts[v] = (when, "file" if meta and meta.taken_at_source == "file-time" else "camera")
        firsts.setdefault(v, ("", ""))
    days = {v: (w[:10], source) for v, (w, source) in firsts.items()}
    days.update({v: (d, "set") for v, d in chosen.items()})
    return days


def visit_dates(days: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Visit index → its date in words (from :func:`visit_days`), saying when it is only a file
    time or set by hand."""
    words = {"set": " (set by you)", "file": " (file time: check)", "camera": "", "": ""}
    return {v: (long_date(d) + words[source] if d else "date unknown: the day of import")
            for v, (d, source) in days.items()}


class OrganiseModel(EntryTableModel):
    COLUMNS = COLUMNS
    def __init__(self, entries: list[PlanEntry], choices: ImportChoices, thumbs: dict[str, QPixmap],
                 lesion_names: dict[str, str], parent: Any = None) -> None:
        super().__init__(parent)
        self.choices, self.thumbs, self.lesion_names = choices, thumbs, lesion_names
        self.entries = entries
        self.dates: dict[int, str] = {}
        self.days: dict[int, tuple[str, str]] = {}
        self.resort()

    def resort(self) -> None:
        self.beginResetModel()
        self.entries.sort(key=lambda e: (self.choices.photos[e.rel].visit,
                                         (e.metadata.taken_at if e.metadata else None) or "~", e.rel))
        self.days = visit_days(self.entries, self.choices)
        self.dates = visit_dates(self.days)
        self.endResetModel()

    def photo(self, row: int) -> PhotoChoice:
        return self.choices.photos[self.entries[row].rel]


    def visit_label(self, v: int) -> str:
        return f"Visit {v + 1} · {self.dates.get(v, '')}"

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == C_NOTES else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e, photo, col = self.entries[index.row()], self.photo(index.row()), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return {C_PHOTO: f"{taken_text(e)}\n{e.rel}", C_VISIT: self.visit_label(photo.visit),
                    C_LESION: self.lesion_names.get(photo.lesion, "No lesion") if photo.lesion else "No lesion",
                    C_KIND: KIND_LABELS[photo.kind], C_NOTES: photo.notes}.get(col)
        if role == Qt.ItemDataRole.DecorationRole and col == C_PHOTO and self.thumb(e) is not None:
            return self.thumbs[e.rel].scaled(QSize(ROW_THUMB, ROW_THUMB), Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if index.column() != C_NOTES or role != Qt.ItemDataRole.EditRole:
            return False
        self.photo(index.row()).notes = str(value).strip()
        self.dataChanged.emit(index, index)
        return True


class OrganisePage(FormPage):
    form_name = "import_wizard_organise"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Visits, lesions and kinds",
                         "Step 4 of 8 — check the visits, then select photos and say which lesion they show.",
                         parent)
        self.table = self.w(QTableView, "organiseTable")
        self.gap = self.w(QDoubleSpinBox, "gapSpin")
        self.summary = self.w(QLabel, "visitSummary")
        self.visit_combo = self.w(QComboBox, "visitCombo")
        self.lesion_combo = self.w(QComboBox, "lesionCombo")
        self.kind_combo = self.w(QComboBox, "kindCombo")
        self.notes = self.w(QLineEdit, "notesEdit")
        self.label_edit = self.w(QLineEdit, "lesionLabelEdit")
        self.site_combo = self.w(QComboBox, "siteCombo")
        self.site_text = self.w(QLineEdit, "siteTextEdit")
        self.laterality = self.w(QComboBox, "lateralityCombo")
        for kind in IMPORT_KINDS:
            self.kind_combo.addItem(KIND_LABELS[kind], kind)
        self.site_combo.addItem("Body site…", "")
        for site in bodysites.SITES:
            self.site_combo.addItem(site.label, site.key)
        for lat in bodysites.LATERALITIES:
            self.laterality.addItem(lat.capitalize() if lat else "Side…", lat)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setIconSize(QSize(ROW_THUMB, ROW_THUMB))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(ROW_THUMB + 6)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.w(QPushButton, "regroupButton").clicked.connect(self.regroup)
        self.visit_combo.activated.connect(lambda _i: self.apply_visit(self.visit_combo.currentData()))
        self.lesion_combo.activated.connect(lambda _i: self.apply(lesion=self.lesion_combo.currentData()))
        self.kind_combo.activated.connect(lambda _i: self.apply(kind=self.kind_combo.currentData()))
        self.notes.returnPressed.connect(self.apply_notes)
        self.w(QPushButton, "applyNotesButton").clicked.connect(self.apply_notes)
        self.w(QPushButton, "addLesionButton").clicked.connect(self.add_lesion)
        self.date_edit = self.w(QDateEdit, "visitDateEdit")
        self.date_edit.setMaximumDate(QDate.currentDate())
        self.date_edit.setMinimumDate(QDate(1900, 1, 1))
        self.date_edit.setSpecialValueText("Select photos first")  # shown at the minimum date only
        self.w(QPushButton, "setVisitDateButton").clicked.connect(
            lambda: self.set_visit_date(self.date_edit.date().toString(Qt.DateFormat.ISODate)))
        self.model: OrganiseModel | None = None
        self.grouped_for: tuple[frozenset[str], int | None] | None = None
        self.lesion_names: dict[str, str] = {}
        self.listening = False

    # -- filling ---------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        plan, choices = self.wiz.plan, self.wiz.choices
        assert plan is not None
        included = choices.included(plan)
        key = (frozenset(e.rel for e in included), choices.patient_id)
        self._lesion_names()
        for e in included:  # a lesion of another patient (Back, other patient) is no choice here
            if choices.photos[e.rel].lesion not in self.lesion_names:
                choices.photos[e.rel].lesion = ""
        self.model = OrganiseModel(included, choices, self.wiz.thumbs, self.lesion_names, self)
        self.model.want = self.wiz.review.want_thumb
        if not self.listening:
            self.wiz.review.thumbs.ready.connect(self._thumb_ready)
            self.listening = True
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(C_NOTES, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        if key != self.grouped_for:
            self.regroup()
            self.grouped_for = key
        else:
            self._refresh()
        self._selection_changed()

    def _lesion_names(self) -> None:
        self.lesion_names.clear()
        for lesion in self.wiz.lesions:
            self.lesion_names[lesion.label] = f"{lesion.label} — {lesion.site_label}"
        for new in self.wiz.choices.new_lesions.values():
            self.lesion_names[new.label] = (f"{new.label} — {bodysites.label(new.site, new.site_text, new.laterality)}"
                                            " (new)")
        self.lesion_combo.clear()
        self.lesion_combo.addItem("No lesion (e.g. overview photo)", "")
        for label, name in self.lesion_names.items():
            self.lesion_combo.addItem(name, label)

    def _thumb_ready(self, rel: str, _pix: QPixmap) -> None:
        if self.model is not None:
            for row, e in enumerate(self.model.entries):
                if e.rel == rel:
                    self.model.row_changed(row)

    def regroup(self) -> None:
        assert self.model is not None
        for n, group in enumerate(group_by_time(self.model.entries, self.gap.value())):
            for e in group:
                self.wiz.choices.photos[e.rel].visit = n
        self._refresh()

    def _refresh(self) -> None:
        assert self.model is not None
        self._compact()
        self.model.resort()
        visits = sorted(self.model.dates)
        self.visit_combo.clear()
        for v in visits:
            self.visit_combo.addItem(self.model.visit_label(v), v)
        self.visit_combo.addItem("A new visit", NEW_VISIT)
        counts = [sum(1 for e in self.model.entries if self.wiz.choices.photos[e.rel].visit == v) for v in visits]
        undated = self.undated_visits()
        self.summary.setText(
            f"{plural(len(self.model.entries), 'photo')} in {plural(len(visits), 'visit')}: " +
            "; ".join(f"{self.model.visit_label(v)} ({plural(c, 'photo')})" for v, c in zip(visits, counts)) + "."
            + (f" The camera recorded no date for visit {', '.join(str(v + 1) for v in undated)}: select one of "
               "its photos, check the date and press the button to set it before going on." if undated else ""))
        self.completeChanged.emit()

    def undated_visits(self) -> list[int]:
        """Visits dated only by file time (or not at all) that the nurse has not confirmed or set:
        a photo is never silently dated by when its file was saved."""
        if self.model is None:
            return []
        return sorted(v for v, (_day, source) in self.model.days.items() if source in ("file", ""))

    def _compact(self) -> None:
        """Number visits 0..n-1 in order, dropping emptied ones."""
        assert self.model is not None
        photos = [self.wiz.choices.photos[e.rel] for e in self.model.entries]
        order = {v: n for n, v in enumerate(sorted({p.visit for p in photos}))}
        for p in photos:
            p.visit = order[p.visit]

    def _selection_changed(self) -> None:
        rows = self.selected_rows()
        self.w(QWidget, "selectionBox").setTitle(
            f"For the {plural(len(rows), 'selected photo')}" if rows else "Select photos in the table first")
        if rows and self.model is not None:  # show the selected photos' choices (no change made)
            photos = [self.model.photo(r) for r in rows]
            for combo, field in ((self.visit_combo, "visit"), (self.lesion_combo, "lesion"),
                                 (self.kind_combo, "kind")):
                values = {getattr(p, field) for p in photos}
                if len(values) == 1:
                    combo.setCurrentIndex(max(0, combo.findData(values.pop())))
                else:  # photos of several visits are not "Visit 1": say so, change all only when chosen
                    combo.setPlaceholderText(f"Several ({len(values)}) — choose to change all")
                    combo.setCurrentIndex(-1)
            notes = {p.notes for p in photos}
            self.notes.setText(notes.pop() if len(notes) == 1 else "")
            visits = {p.visit for p in photos}
            one_visit = len(visits) == 1
            self.w(QPushButton, "setVisitDateButton").setEnabled(one_visit)
            if one_visit:
                day = self.model.days.get(photos[0].visit, ("", ""))[0]
                self.date_edit.setDate(QDate.fromString(day, Qt.DateFormat.ISODate) if day else QDate.currentDate())
            else:  # no made-up date ("1 Jan 2000") for photos of several visits
                self.date_edit.setSpecialValueText("Several visits")
                self.date_edit.setDate(self.date_edit.minimumDate())
            self.date_edit.setEnabled(one_visit)
        else:  # nothing selected: nothing to show, rather than "Visit 1" and "1 Jan 2000"
            for combo in (self.visit_combo, self.lesion_combo, self.kind_combo):
                combo.setPlaceholderText("Select photos first")
                combo.setCurrentIndex(-1)
            self.notes.clear()
            self.date_edit.setSpecialValueText("Select photos first")
            self.date_edit.setDate(self.date_edit.minimumDate())
            self.date_edit.setEnabled(False)
            self.w(QPushButton, "setVisitDateButton").setEnabled(False)

    # -- editing ---------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def _need_selection(self) -> list[int] | None:
        rows = self.selected_rows()
        if not rows:
            messages.info(self, "Select one or more photos in the table first (Ctrl+click or Shift+click for several).")
            return None
        return rows

    def apply(self, **fields: Any) -> None:
        rows = self._need_selection()
        if rows is None or self.model is None:
            return
        for row in rows:
            for name, value in fields.items():
                setattr(self.model.photo(row), name, value)
        self.model.all_changed()
        self._selection_changed()

    def apply_notes(self) -> None:
        self.apply(notes=self.notes.text().strip())

    def apply_visit(self, visit: int) -> None:
        rows = self._need_selection()
        if rows is None or self.model is None:
            return
        rels = [self.model.entries[r].rel for r in rows]
        if visit == NEW_VISIT:
            visit = max(self.model.dates, default=-1) + 1
        day, source = self.model.days.get(visit, ("", ""))
        for rel in rels:  # moved photos take their new visit's date, not the one they had
            self.wiz.choices.photos[rel].visit = visit
            self.wiz.choices.photos[rel].visit_date = day if source == "set" else ""
        self._refresh()
        self._reselect(rels)

    def set_visit_date(self, day: str) -> None:
        """The date of the selected photos' visits (all their photos), e.g. when the camera
        recorded none and the file's time is only when the photo was saved or forwarded."""
        rows = self._need_selection()
        if rows is None or self.model is None:
            return
        visits = {self.model.photo(r).visit for r in rows}
        rels = [self.model.entries[r].rel for r in rows]
        for e in self.model.entries:
            if self.wiz.choices.photos[e.rel].visit in visits:
                self.wiz.choices.photos[e.rel].visit_date = day
        self._refresh()
        self._reselect(rels)

    def _reselect(self, rels: list[str]) -> None:
        assert self.model is not None
        sel = self.table.selectionModel()
        for row, e in enumerate(self.model.entries):
            if e.rel in rels:
                sel.select(self.model.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def add_lesion(self) -> None:
        label = self.label_edit.text().strip()
        if not label:
            messages.info(self, "Give the new lesion a label first (e.g. 'L1' or 'mole on back').")
            return
        if label in self.lesion_names:
            messages.info(self, f"This patient already has a lesion labelled '{label}'. Choose it in the Lesion "
                                "list, or give the new lesion another label.")
            return
        if self._need_selection() is None:
            return
        site = self.site_combo.currentData()
        lat = self.laterality.currentData()
        if lat and site and not bodysites.BY_KEY[site].lateral and lat in ("left", "right"):
            messages.info(self, f"{bodysites.BY_KEY[site].label} has no left or right side; choose midline or none.")
            return
        self.wiz.choices.new_lesions[label] = NewLesion(label, site, self.site_text.text().strip(), lat)
        self._lesion_names()
        self.apply(lesion=label)
        self.label_edit.clear()
        self.site_text.clear()

    def isComplete(self) -> bool:  # noqa: N802
        return self.model is not None and bool(self.model.entries) and not self.undated_visits()

    def validatePage(self) -> bool:  # noqa: N802 - drop new lesions no photo uses
        undated = self.undated_visits()
        if undated:
            messages.info(self, f"The camera recorded no date for visit {', '.join(str(v + 1) for v in undated)}: "
                                "its date is only when the file was saved. Select one of its photos, check the "
                                "date and set it to go on.")
            return False
        used = {p.lesion for p in self.wiz.choices.photos.values() if p.include}
        for label in [k for k in self.wiz.choices.new_lesions if k not in used]:
            del self.wiz.choices.new_lesions[label]
        return True


def lesions_of(archive: Any, patient_id: int | None) -> list[records.Lesion]:
    return records.lesions(archive, patient_id) if patient_id is not None else []
