"""Models of the patient list and of a patient's lesions (model/view, custom roles).

The patient list filters and sorts in the model itself rather than through a
QSortFilterProxyModel: with 50,000 patients a Python ``filterAcceptsRow`` costs ~140 ms per
keystroke and proxy sorting calls ``data()`` a million times, while filtering precomputed
lower-case keys in one list comprehension takes ~7 ms (measured; see bench/bench_gui.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from .. import nhi as nhi_mod
from ..archive import records

PatientRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2
LesionRole = Qt.ItemDataRole.UserRole + 3

Index = QModelIndex | QPersistentModelIndex


def _fmt_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return date.fromisoformat(iso[:10]).strftime("%d %b %Y")
    except ValueError:
        return iso[:10]


class PatientTableModel(QAbstractTableModel):
    COLUMNS = ("NHI", "Name", "Date of birth", "Photos")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[records.Patient] = []
        self._keys: list[tuple[str, str]] = []  # (nhi, lower-case names) per patient in _all
        self._rows: list[records.Patient] = []
        self._search = ""
        self._sort: tuple[int, Qt.SortOrder] = (1, Qt.SortOrder.AscendingOrder)

    # -- data in ---------------------------------------------------------------------------
    def set_patients(self, patients: list[records.Patient]) -> None:
        self._all = list(patients)
        self._keys = [(p.nhi, f"{p.family} {p.given}\n{p.given} {p.family}\n{p.family}, {p.given}".lower())
                      for p in self._all]
        self._apply()

    def clear(self) -> None:
        self.set_patients([])

    def set_search(self, text: str) -> None:
        self._search = text.strip()
        self._apply()

    def matching(self, text: str) -> list[records.Patient]:
        """Patients whose NHI starts with, or whose name contains, ``text`` (like the core's search)."""
        text = text.strip()
        if not text:
            return list(self._all)
        low, code = text.lower(), nhi_mod.normalise(text)
        return [p for p, (n, names) in zip(self._all, self._keys, strict=True)
                if n.startswith(code) or low in names]

    def _apply(self) -> None:
        self.beginResetModel()
        self._rows = self.matching(self._search)
        self._sort_rows()
        self.endResetModel()

    # -- Qt model --------------------------------------------------------------------------
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
        p = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return p.nhi
            if col == 1:
                return p.display_name
            if col == 2:
                return _fmt_date(p.dob)
            return p.image_count
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == PatientRole:
            return p
        if role == IdRole:
            return p.id
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._sort_rows()
        self.layoutChanged.emit()

    def _sort_rows(self) -> None:
        column, order = self._sort
        key = {0: lambda p: p.nhi, 1: lambda p: (p.family.lower(), p.given.lower()),
               2: lambda p: p.dob or "", 3: lambda p: p.image_count}[column]
        self._rows.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)

    def patient_at(self, row: int) -> records.Patient:
        return self._rows[row]

    def row_of(self, patient_id: int) -> int:
        return next((i for i, p in enumerate(self._rows) if p.id == patient_id), -1)

    @property
    def total(self) -> int:
        return len(self._all)


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
        if role == Qt.ItemDataRole.ToolTipRole and lesion.notes:
            return lesion.notes
        return None

    def lesion_at(self, row: int) -> records.Lesion | None:
        return self._rows[row]
