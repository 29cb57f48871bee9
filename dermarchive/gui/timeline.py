"""A lesion's (or patient's) photos in date order, grouped under one header row per visit.

One QListView in wrapping flow: a visit header is an item as wide as the view, so it starts its
own line, and the photos of that visit follow as tiles. Tiles mark clinical, dermoscopic and
consent-form photos with a coloured tag. Thumbnails come lazily from the
:class:`~dermarchive.gui.thumbnails.ThumbnailLoader` while tiles are painted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ..archive import records
from .thumbnails import THUMB_SIDE, ThumbnailLoader

ImageRole = Qt.ItemDataRole.UserRole + 10
VisitRole = Qt.ItemDataRole.UserRole + 11
HeaderRole = Qt.ItemDataRole.UserRole + 12

KIND_TAGS = {  # label, colour
    "clinical": ("Clinical", QColor("#2a7f62")),
    "dermoscopic": ("Dermoscopic", QColor("#6a4c93")),
    "consent-form": ("Consent form", QColor("#8a6d1f")),
    "other": ("Other", QColor("#5c6770")),
}
TILE = QSize(THUMB_SIDE + 16, THUMB_SIDE + 40)
HEADER_HEIGHT = 34

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class VisitHeader:
    visit: records.Visit
    photos: int
    consent: str  # e.g. "Written signature", "Withdrawn", "No consent recorded"


def nice_date(iso: str | None) -> str:
    if not iso:
        return "date unknown"
    try:
        return date.fromisoformat(iso[:10]).strftime("%a %d %b %Y")
    except ValueError:
        return iso[:10]


def nice_time(iso: str | None) -> str:
    if not iso or len(iso) < 16:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M")
    except ValueError:
        return ""


class TimelineModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self._rows: list[VisitHeader | records.ImageRecord] = []
        self._row_of: dict[int, int] = {}
        loader.loaded.connect(self._thumbnail_ready)

    def set_images(self, images: list[records.ImageRecord], visits: list[records.Visit],
                   consent_of_visit: dict[int, str]) -> None:
        """``images`` in capture order; headers are made for the visits that have any of them."""
        by_visit: dict[int, list[records.ImageRecord]] = {}
        for img in images:
            by_visit.setdefault(img.visit_id, []).append(img)
        rows: list[VisitHeader | records.ImageRecord] = []
        for visit in sorted(visits, key=lambda v: (v.date, v.id)):
            shown = by_visit.get(visit.id)
            if shown:
                rows.append(VisitHeader(visit, len(shown), consent_of_visit.get(visit.id, "No consent recorded")))
                rows += shown
        self.beginResetModel()
        self._rows = rows
        self._row_of = {r.id: i for i, r in enumerate(rows) if isinstance(r, records.ImageRecord)}
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._row_of = [], {}
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if index.isValid() and isinstance(self._rows[index.row()], VisitHeader):
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == HeaderRole:
            return row if isinstance(row, VisitHeader) else None
        if isinstance(row, VisitHeader):
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return f"Visit {nice_date(row.visit.date)}"
            if role == VisitRole:
                return row.visit
            return None
        if role == ImageRole:
            return row
        if role == VisitRole:
            return row.visit_id
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(row)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{KIND_TAGS[row.kind][0]} {nice_time(row.taken_at)}".strip()
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{KIND_TAGS[row.kind][0]} photo, {nice_date(row.taken_at or row.visit_date)} " \
                   f"{nice_time(row.taken_at)} ({row.width}×{row.height})"
        return None

    def item(self, row: int) -> VisitHeader | records.ImageRecord:
        """The row's header or photo, straight from Python (no QVariant round trip: PySide6 on
        Python 3.11 loses a reference to None each time ``index.data()`` returns nothing, which
        crashes the interpreter after enough calls)."""
        return self._rows[row]

    def image_rows(self) -> list[int]:
        return sorted(self._row_of.values())

    def row_of_image(self, image_id: int) -> int:
        return self._row_of.get(image_id, -1)

    def images(self) -> list[records.ImageRecord]:
        return [r for r in self._rows if isinstance(r, records.ImageRecord)]

    def _thumbnail_ready(self, image_id: int) -> None:
        row = self._row_of.get(image_id)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class TimelineDelegate(QStyledItemDelegate):
    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        if isinstance(index.model().item(index.row()), VisitHeader):
            return QSize(max(TILE.width(), self.view.viewport().width() - 2 * self.view.spacing() - 4),
                         HEADER_HEIGHT)
        return TILE

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model: TimelineModel = index.model()
        item = model.item(index.row())
        header = item if isinstance(item, VisitHeader) else None
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect
        if header is not None:
            bold = QFont(option.font)
            bold.setBold(True)
            bold.setPointSizeF(bold.pointSizeF() * 1.08)
            painter.setPen(QColor("#c9d3da"))
            painter.drawLine(rect.left(), rect.bottom() - 2, rect.right(), rect.bottom() - 2)
            painter.setFont(bold)
            painter.setPen(pal.color(QPalette.ColorRole.Text))
            title = f"Visit {nice_date(header.visit.date)}"
            painter.drawText(rect.adjusted(4, 0, 0, -4), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             title)
            width = painter.fontMetrics().horizontalAdvance(title)
            painter.setFont(option.font)
            painter.setPen(QColor("#5c6770"))
            who = f" · {header.visit.clinician}" if header.visit.clinician else ""
            detail = f"{header.photos} photo{'s' if header.photos != 1 else ''}{who} · Consent: {header.consent}"
            painter.drawText(rect.adjusted(16 + width, 0, 0, -4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, detail)
            painter.restore()
            return
        image = item
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        tile = rect.adjusted(2, 2, -2, -2)
        painter.setPen(QColor("#2f6f9f") if selected else QColor("#d5dde3"))
        painter.setBrush(QColor("#dcebf7") if selected else pal.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(tile, 6, 6)
        thumb_area = QRect(tile.left() + 6, tile.top() + 6, tile.width() - 12, THUMB_SIDE)
        pix = model.loader.get(image)
        if pix is not None and not pix.isNull():
            size = pix.deviceIndependentSize().toSize().scaled(thumb_area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(thumb_area.center())
            painter.drawPixmap(target, pix)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#eef1f4"))
            painter.drawRoundedRect(thumb_area, 4, 4)
        label, colour = KIND_TAGS.get(image.kind, KIND_TAGS["other"])
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        fm = painter.fontMetrics()
        tag = QRect(tile.left() + 6, thumb_area.bottom() + 6, fm.horizontalAdvance(label) + 12, fm.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(tag, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(QRect(tag.right() + 6, tag.top(), tile.right() - tag.right() - 10, tag.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, nice_time(image.taken_at))
        painter.restore()


class TimelineView(QListView):
    """Emits ``imageActivated(ImageRecord)`` on double-click or Enter."""

    imageActivated = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineView")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setSpacing(4)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(TimelineDelegate(self))
        self.activated.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        item = self.model().item(index.row())
        if isinstance(item, records.ImageRecord):
            self.imageActivated.emit(item)

    def selected_images(self) -> list[records.ImageRecord]:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        model = self.model()
        return [img for r in rows if isinstance(img := model.item(r), records.ImageRecord)]

    def visible_image_rows(self) -> list[int]:
        """Rows of photo tiles currently inside the viewport (for tests and the benchmark)."""
        model = self.model()
        area = self.viewport().rect()
        out = []
        for row in range(model.rowCount()):
            rect = self.visualRect(model.index(row, 0))
            if isinstance(model.item(row), records.ImageRecord) and rect.intersects(area):
                out.append(row)
            elif out and rect.top() > area.bottom():
                break
        return out
