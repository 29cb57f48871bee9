"""Models of the patient list and of a patient's lesions (model/view, custom roles).

The patient list filters and sorts in the model itself rather than through a
QSortFilterProxyModel: with 50,000 patients a Python ``filterAcceptsRow`` costs ~140 ms per
keystroke and proxy sorting calls ``data()`` a million times, while filtering precomputed
lower-case keys in one list comprehension takes ~7 ms (measured; see bench/bench_gui.py).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from .. import nhi as nhi_mod
from ..archive import records
from .words import day_text

PatientRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2
LesionRole = Qt.ItemDataRole.UserRole + 3

Index = QModelIndex | QPersistentModelIndex


def _fmt_date(iso: str | None) -> str:
    return day_text(iso)


class PatientTableModel(QAbstractTableModel):
    """All patients in memory (ids, NHIs, names: never written anywhere), filtered as you type.

    The full list is kept in the current sort order, so a search is one pass over precomputed
    lower-case keys with no sorting; typing more letters filters the previous matches only.
    """

    COLUMNS = ("NHI", "Name", "DOB", "Photos")
    TOOLTIPS = ("National Health Index number", "Family name, given name", "Date of birth",
                "Photos in the archive")
    _SORT_KEYS = {0: lambda p: p.nhi, 1: lambda p: (p.family.lower(), p.given.lower(), p.nhi),
                  2: lambda p: (p.dob or "", p.nhi), 3: lambda p: (p.image_count, p.nhi)}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[records.Patient] = []
        self._keys: list[tuple[str, str]] = []  # (NHI, lower-case name forms), aligned with _all
        self._rows: list[records.Patient] = []
        self._row_idx: list[int] = []  # positions in _all of the rows shown
        self._search = ""
        self._sort: tuple[int, Qt.SortOrder] = (1, Qt.SortOrder.AscendingOrder)

    # -- data in ---------------------------------------------------------------------------
    def set_patients(self, patients: list[records.Patient]) -> None:
        self._all = list(patients)
        self._sort_all()
        self._filter(self._search, incremental=False)

    def clear(self) -> None:
        self._search = ""
        self.set_patients([])

    def set_search(self, text: str) -> None:
        text = text.strip()
        narrower = bool(self._search) and text.lower().startswith(self._search.lower())
        self._search = text
        self._filter(text, incremental=narrower)

    def matching(self, text: str) -> list[records.Patient]:
        """Patients whose NHI starts with, or whose name contains, ``text`` (like the core's search)."""
        return [self._all[i] for i in _match(self._keys, text)]

    def _filter(self, text: str, *, incremental: bool) -> None:
        if not text:
            idx: list[int] = list(range(len(self._all)))
        elif incremental:
            keys = self._keys
            idx = [self._row_idx[i] for i in _match([keys[j] for j in self._row_idx], text)]
        else:
            idx = _match(self._keys, text)
        self.beginResetModel()
        self._row_idx = idx
        self._rows = [self._all[i] for i in idx] if text else list(self._all)
        self.endResetModel()

    def _sort_all(self) -> None:
        column, order = self._sort
        self._all.sort(key=self._SORT_KEYS[column], reverse=order == Qt.SortOrder.DescendingOrder)
        self._keys = [(p.nhi, f"{p.family} {p.given}\n{p.given} {p.family}\n{p.family}, {p.given}".lower())
                      for p in self._all]

    # -- Qt model --------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return self.TOOLTIPS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            p = self._rows[index.row()]
            col = index.column()
            if col == 0:
                return p.nhi
            if col == 1:
                return p.display_name
            if col == 2:
                return _fmt_date(p.dob)
            return p.image_count
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == PatientRole:
            return self._rows[index.row()]
        if role == IdRole:
            return self._rows[index.row()].id
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if (column, order) == self._sort:
            return
        self._sort = (column, order)
        self._sort_all()
        self._filter(self._search, incremental=False)

    def patient_at(self, row: int) -> records.Patient:
        return self._rows[row]

    def row_of(self, patient_id: int) -> int:
        return next((i for i, p in enumerate(self._rows) if p.id == patient_id), -1)

    @property
    def total(self) -> int:
        return len(self._all)


def _match(keys: list[tuple[str, str]], text: str) -> list[int]:
    text = text.strip()
    low, code = text.lower(), nhi_mod.normalise(text)
    return [i for i, (n, names) in enumerate(keys) if n.startswith(code) or low in names]


class LesionTableModel(QAbstractTableModel):
    COLUMNS = ("Lesion", "Body site", "Photos", "First photo", "Last photo", "Diagnosis")
    ALL_PHOTOS = "All photos"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[records.Lesion | None] = []  # None = "all photos of the patient"
        self._patient_images = 0

    def set_lesions(self, lesions: list[records.Lesion], patient_images: int) -> None:
        self.beginResetModel()
        self._rows = [None, *lesions]
        self._patient_images = patient_images
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        lesion = self._rows[index.row()]
        col = index.column()
        if role == LesionRole:
            return lesion
        if role == IdRole:
            return lesion.id if lesion else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if lesion is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return {0: self.ALL_PHOTOS, 1: "Every photo of this patient", 2: self._patient_images}.get(col, "")
            if role == Qt.ItemDataRole.FontRole:
                from PySide6.QtGui import QFont
                f = QFont()
                f.setItalic(True)
                return f
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return (lesion.label, lesion.site_label, lesion.image_count, _fmt_date(lesion.first_photo),
                    _fmt_date(lesion.last_photo), lesion.diagnosis)[col]
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole of what a narrow column elides
            parts = [f"{lesion.label} · {lesion.site_label}", lesion.diagnosis, lesion.notes]
            return "\n".join(p for p in parts if p)
        return None

    def lesion_at(self, row: int) -> records.Lesion | None:
        return self._rows[row]
