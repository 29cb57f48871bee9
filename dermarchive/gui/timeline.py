"""A lesion's (or patient's) photos in date order, grouped under one header row per visit.

One QListView in wrapping flow: a visit header is an item as wide as the view, so it starts its
own line, and the photos of that visit follow as tiles. Tiles mark clinical, dermoscopic and
consent-form photos with a coloured tag, and carry badges over the picture: what its consent
allows at a glance ("Record only", "Clinical use", "Teaching OK") and "PACS" when a copy was sent to
the practice PACS. Thumbnails come lazily from the
:class:`~dermarchive.gui.thumbnails.ThumbnailLoader` while tiles are painted. A plain grey box
means "still loading"; a thumbnail whose stored copy is damaged gets a hatched red tile with a
broken-picture glyph and the word "Damaged", and its tooltip names the problem (never patient
data) and the remedy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt,
                            QTimer, Signal)
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPolygon
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ..archive import records
from .thumbnails import DAMAGED_ADVICE, THUMB_SIDE, ThumbFailure, ThumbnailLoader
from . import colours, photo_drag
from .words import day_text, plural

ImageRole = Qt.ItemDataRole.UserRole + 10
VisitRole = Qt.ItemDataRole.UserRole + 11
HeaderRole = Qt.ItemDataRole.UserRole + 12
BadgesRole = Qt.ItemDataRole.UserRole + 13  # list of (text, tooltip) over the thumbnail
ThumbStateRole = Qt.ItemDataRole.UserRole + 14  # "loading", "shown", "damaged" or "unavailable"
# What a thumbnail's arrival (or failure) changes. None of it changes a tile's size, so the view
# repaints those tiles without laying out the whole timeline again (TimelineView.dataChanged).
THUMBNAIL_ROLES = frozenset({Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DisplayRole,
                             Qt.ItemDataRole.AccessibleTextRole, ThumbStateRole})
_THUMBNAIL_ROLE_NUMBERS = frozenset(int(r) for r in THUMBNAIL_ROLES)

KIND_TAGS = {  # label, colour
    "clinical": ("Clinical", QColor("#2a7f62")),
    "dermoscopic": ("Dermoscopic", QColor("#6a4c93")),
    "consent-form": ("Consent form", QColor("#8a6d1f")),
    "other": ("Other", QColor("#5c6770")),
}
TILE = QSize(THUMB_SIDE + 16, THUMB_SIDE + 40)
HEADER_HEIGHT = 34
DAMAGED_RED = QColor("#a23b2a")

Index = QModelIndex | QPersistentModelIndex


SECONDARY = ("education", "publication", "research", "promotion")
BADGE_COLOURS = {"Record only": QColor("#6b7280"), "Clinical use": QColor("#1d6fa5"),
                 "Teaching OK": QColor("#2a7f62"), "PACS": QColor("#7c3aed")}


def consent_badge(allowed: frozenset[str]) -> tuple[str, str]:
    """One short badge for what the photo's consent allows, with the full list as its tooltip."""
    from ..consent.scopes import LABELS

    listed = ", ".join(LABELS[p] for p in LABELS if p in allowed) or "nothing"
    if any(p in allowed for p in SECONDARY):
        return "Teaching OK", f"Consent allows: {listed}"
    if allowed - {"clinical.documentation"}:
        return "Clinical use", f"Consent allows clinical use only: {listed}"
    return "Record only", "Only the patient's own clinical record (no or withdrawn consent)"


@dataclass(frozen=True)
class VisitHeader:
    visit: records.Visit
    photos: int
    consent: str  # e.g. "Written signature", "Withdrawn", "No consent recorded"


def failure_tip(failure: ThumbFailure) -> str:
    """The first lines of a tile's tooltip when its thumbnail is not shown."""
    if failure.damaged:
        return f"Damaged: the stored copy of this photo cannot be read ({failure.problem}).\n{DAMAGED_ADVICE}"
    return f"Thumbnail not available: {failure.problem}."


def nice_date(iso: str | None) -> str:
    return day_text(iso, "date unknown")


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
        self._ready_rows: set[int] = set()
        self.lesion_labels: dict[int, str] = {}  # lesion id → label, shown on tiles of "All photos"
        self.show_lesion = False
        self.scopes: dict[int, frozenset[str]] = {}  # image id → purposes its consent allows
        self.in_pacs: set[int] = set()
        self._flush = QTimer(self)  # thumbnails arriving together repaint together
        self._flush.setSingleShot(True)
        self._flush.setInterval(15)
        self._flush.timeout.connect(self._flush_ready)
        loader.loaded.connect(self._thumbnail_ready)

    def set_images(self, images: list[records.ImageRecord], visits: list[records.Visit],
                   consent_of_visit: dict[int, str], lesion_labels: dict[int, str] | None = None, *,
                   scopes: dict[int, frozenset[str]] | None = None, in_pacs: set[int] | None = None) -> None:
        """``images`` in capture order; headers are made for the visits that have any of them.

        With ``lesion_labels`` (the "All photos" view) each tile also names its lesion; ``scopes``
        (from the consent policy) and ``in_pacs`` give the badges."""
        self.scopes, self.in_pacs = scopes or {}, in_pacs or set()
        self.lesion_labels = lesion_labels or {}
        self.show_lesion = lesion_labels is not None
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
        self._rows, self._ready_rows = rows, set()
        self._row_of = {r.id: i for i, r in enumerate(rows) if isinstance(r, records.ImageRecord)}
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._row_of, self._ready_rows = [], {}, set()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if index.isValid() and isinstance(self._rows[index.row()], VisitHeader):
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:  # noqa: N802 - photos are dragged onto a lesion (photo_drag.py)
        return [photo_drag.IMAGE_IDS_MIME]

    def mimeData(self, indexes: Any) -> Any:  # noqa: N802
        return photo_drag.image_ids_mime([img.id for i in indexes
                                          if isinstance(img := self._rows[i.row()], records.ImageRecord)])

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
        if role == BadgesRole:
            return self.badges(row)
        if role == VisitRole:
            return row.visit_id
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(row)
        if role == ThumbStateRole:
            return self.thumb_state(row)
        failure = self.loader.failure(row.id)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            text = f"{KIND_TAGS[row.kind][0]} {nice_time(row.taken_at)}".strip()
            if failure is not None:
                text += ", damaged" if failure.damaged else ", thumbnail not available"
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(([failure_tip(failure), ""] if failure is not None else [])
                             + [f"{KIND_TAGS[row.kind][0]} photo, {nice_date(row.taken_at or row.visit_date)} "
                                f"{nice_time(row.taken_at)} ({row.width}×{row.height})"]
                             + [tip for _text, tip in self.badges(row)])
        return None

    def thumb_state(self, image: records.ImageRecord) -> str:
        """What the tile shows: "shown", "loading", "damaged" or "unavailable" (no request made)."""
        failure = self.loader.failure(image.id)
        if failure is not None:
            return "damaged" if failure.damaged else "unavailable"
        return "shown" if image.id in self.loader.cache else "loading"

    def badges(self, image: records.ImageRecord) -> list[tuple[str, str]]:
        out = []
        if image.id in self.scopes:
            out.append(consent_badge(self.scopes[image.id]))
        if image.id in self.in_pacs:
            out.append(("PACS", "A copy is in the practice PACS"))
        return out

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
            self._ready_rows.add(row)
            if not self._flush.isActive():
                self._flush.start()

    def _flush_ready(self) -> None:
        rows, self._ready_rows = self._ready_rows, set()
        rows = {r for r in rows if r < len(self._rows)}
        roles = list(THUMBNAIL_ROLES)
        if len(rows) > 64:  # a big batch (a lock, a folder of damaged files): one signal for all
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), roles)
            return
        # One signal per tile: the view then repaints just those tiles (a range repaints the whole
        # viewport, ~25 tiles, on each batch of arrivals) and tells a screen reader which changed.
        for row in sorted(rows):
            index = self.index(row)
            self.dataChanged.emit(index, index, roles)


class TimelineDelegate(QStyledItemDelegate):
    """Paints tiles and visit headers. Fonts, tag widths and sizes are worked out once per font
    (and a header's size once per width): painting runs for every visible tile on every scroll
    step, and a layout asks the size of every row, 2,000 photos' worth, from Python."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view
        self._fonts: tuple[QFont, QFont, QFont, dict[str, int], int] | None = None
        self._tile: QSize | None = None
        self._header_sizes: dict[tuple[Any, ...], QSize] = {}

    def _font_setup(self, base: QFont) -> tuple[QFont, QFont, dict[str, int], int]:
        if self._fonts is None or self._fonts[0] != base:  # QFont == is cheap; key() built a string each time
            small = QFont(base)
            small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
            bold = QFont(base)
            bold.setBold(True)
            bold.setPointSizeF(bold.pointSizeF() * 1.08)
            fm = QFontMetrics(small)
            widths = {kind: fm.horizontalAdvance(label) + 12 for kind, (label, _c) in KIND_TAGS.items()}
            self._fonts = (QFont(base), small, bold, widths, fm.height() + 4)
            self._tile = None
            self._header_sizes.clear()
        return self._fonts[1], self._fonts[2], self._fonts[3], self._fonts[4]

    @staticmethod
    def header_texts(header: VisitHeader) -> tuple[str, str]:
        who = f" · {header.visit.clinician}" if header.visit.clinician else ""
        return (f"Visit {nice_date(header.visit.date)}",
                f"{plural(header.photos, 'photo')}{who} · Consent: {header.consent}")

    def header_wraps(self, header: VisitHeader, font: QFont, width: int) -> bool:
        """Large text or a narrow window: the details go on a second line instead of being cut."""
        _small, bold, _w, _h = self._font_setup(font)
        title, detail = self.header_texts(header)
        return QFontMetrics(bold).horizontalAdvance(title) + 16 + QFontMetrics(font).horizontalAdvance(detail) + 8 \
            > width

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        item = index.model().item(index.row())
        font = option.font
        if isinstance(item, VisitHeader):
            self._font_setup(font)  # a new font empties the cache
            width = max(TILE.width(), self.view.viewport().width() - 2 * self.view.spacing() - 4)
            key = (item.visit.id, item.visit.date, item.visit.clinician, item.photos, item.consent, width)
            size = self._header_sizes.get(key)
            if size is None:
                if len(self._header_sizes) > 4096:  # many widths while resizing: start again
                    self._header_sizes.clear()
                lines = QFontMetrics(font).lineSpacing()
                height = max(HEADER_HEIGHT, lines + 14)
                size = QSize(width, height + lines if self.header_wraps(item, font, width) else height)
                self._header_sizes[key] = size
            return size
        return self.tile_size(font)

    def tile_size(self, font: QFont) -> QSize:
        """A tile wide and tall enough for the widest kind tag beside "L12 · 09:05" at this text
        size (at 14 pt the fixed tile cut the caption to ":06")."""
        small, _bold, tag_widths, tag_height = self._font_setup(font)
        if self._tile is None:
            caption = QFontMetrics(small).horizontalAdvance("L12 · 00:00")
            self._tile = QSize(max(TILE.width(), max(tag_widths.values()) + caption + 26),
                               max(TILE.height(), THUMB_SIDE + tag_height + 26))
        return self._tile

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model: TimelineModel = index.model()
        item = model.item(index.row())
        header = item if isinstance(item, VisitHeader) else None
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect
        small, bold, tag_widths, tag_height = self._font_setup(option.font)
        if header is not None:
            painter.setPen(QColor(colours.SEPARATOR))
            painter.drawLine(rect.left(), rect.bottom() - 2, rect.right(), rect.bottom() - 2)
            title, detail = self.header_texts(header)
            wraps = self.header_wraps(header, option.font, rect.width())
            line = QFontMetrics(option.font).lineSpacing()
            first = rect.adjusted(4, 0, 0, -4 - (line if wraps else 0))
            painter.setFont(bold)
            painter.setPen(pal.color(QPalette.ColorRole.Text))
            painter.drawText(first, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
            width = painter.fontMetrics().horizontalAdvance(title)
            painter.setFont(option.font)
            painter.setPen(QColor(colours.MUTED))
            where = (QRect(rect.left() + 4, first.bottom() - 2, rect.width() - 8, line + 2) if wraps
                     else rect.adjusted(16 + width, 0, 0, -4))
            elided = painter.fontMetrics().elidedText(detail, Qt.TextElideMode.ElideRight, where.width())
            painter.drawText(where, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)
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
        failure = model.loader.failure(image.id) if pix is None else None
        if pix is not None and not pix.isNull():
            size = pix.deviceIndependentSize().toSize().scaled(thumb_area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(thumb_area.center())
            painter.drawPixmap(target, pix)
        elif failure is not None:
            self._paint_failed(painter, bold, thumb_area, failure)
        else:  # still loading
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#eef1f4"))
            painter.drawRoundedRect(thumb_area, 4, 4)
        self._paint_badges(painter, small, model.badges(image), thumb_area)
        kind = image.kind if image.kind in KIND_TAGS else "other"
        label, colour = KIND_TAGS[kind]
        painter.setFont(small)
        tag = QRect(tile.left() + 6, thumb_area.bottom() + 6, tag_widths[kind], tag_height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(tag, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        lesion = model.lesion_labels.get(image.lesion_id or -1, "")
        caption = f"{lesion} · {nice_time(image.taken_at)}" if lesion and model.show_lesion else nice_time(image.taken_at)
        painter.drawText(QRect(tag.right() + 4, tag.top(), tile.right() - tag.right() - 8, tag.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, caption)
        painter.restore()


    @staticmethod
    def _paint_failed(painter: QPainter, font: QFont, area: QRect, failure: ThumbFailure) -> None:
        """A hatched tile with a broken-picture glyph and "Damaged" (or "Not available")."""
        ink = DAMAGED_RED if failure.damaged else QColor("#5c6770")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#fbecea") if failure.damaged else QColor("#eef1f4"))
        painter.drawRoundedRect(area, 4, 4)
        painter.setBrush(QBrush(QColor("#ecc3bc") if failure.damaged else QColor("#d5dde3"),
                                Qt.BrushStyle.BDiagPattern))
        painter.drawRoundedRect(area, 4, 4)
        pen = QPen(ink, 1.5, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(area.adjusted(1, 1, -1, -1), 4, 4)
        # Broken picture: a frame with a little mountain, split by a jagged crack.
        c = area.center()
        frame = QRect(c.x() - 26, c.y() - 34, 52, 40)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("white"))
        painter.drawRect(frame)
        painter.setPen(QPen(ink, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(frame)
        painter.setBrush(QColor(ink.red(), ink.green(), ink.blue(), 90))
        painter.drawPolygon(QPolygon([QPoint(frame.left() + 4, frame.bottom() - 3),
                                      QPoint(frame.left() + 18, frame.top() + 16),
                                      QPoint(frame.left() + 28, frame.bottom() - 10),
                                      QPoint(frame.right() - 12, frame.top() + 22),
                                      QPoint(frame.right() - 3, frame.bottom() - 3)]))
        crack_x = frame.center().x() + 2
        crack = [QPoint(crack_x + dx, frame.top() - 3 + dy) for dx, dy in
                 ((2, 0), (-5, 9), (4, 17), (-4, 26), (3, 35), (-2, 46))]
        painter.setPen(QPen(QColor("white"), 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        painter.drawPolyline(QPolygon(crack))
        painter.setPen(QPen(ink, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawPolyline(QPolygon(crack))
        # The word, on a light pill so it reads over the hatching.
        painter.setFont(font)
        word = "Damaged" if failure.damaged else "Not available"
        fm = painter.fontMetrics()
        pill = QRect(0, 0, fm.horizontalAdvance(word) + 14, fm.height() + 4)
        pill.moveCenter(QPoint(c.x(), frame.bottom() + 8 + pill.height() // 2))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.drawRoundedRect(pill, 4, 4)
        painter.setPen(ink)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, word)

    @staticmethod
    def _paint_badges(painter: QPainter, font: QFont, badges: list[tuple[str, str]], area: QRect) -> None:
        """Small pills in the thumbnail's top-right corner, right to left."""
        painter.setFont(font)
        fm = painter.fontMetrics()
        right, top = area.right() - 3, area.top() + 3
        for text, _tip in badges:
            width = fm.horizontalAdvance(text) + 10
            pill = QRect(right - width, top, width, fm.height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BADGE_COLOURS.get(text, QColor("#5c6770")))
            painter.drawRoundedRect(pill, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
            right = pill.left() - 3


class TimelineView(QListView):
    """Emits ``imageActivated(ImageRecord)`` on double-click or Enter."""

    imageActivated = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineView")
        self.setAccessibleName("Photos by visit, oldest first")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setSpacing(4)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(TimelineDelegate(self))
        self.activated.connect(self._activated)

    def dataChanged(self, top_left: Index, bottom_right: Index, roles: Any = ()) -> None:  # noqa: N802 - Qt's name
        """A thumbnail arrived (or failed): repaint those tiles, without the full layout that
        QListView does on every dataChanged (2,000 size hints from Python: 20-50 ms, on each
        batch of arriving thumbnails, made scrolling stutter)."""
        if roles and {int(r) for r in roles} <= _THUMBNAIL_ROLE_NUMBERS:
            QAbstractItemView.dataChanged(self, top_left, bottom_right, roles)
        else:
            super().dataChanged(top_left, bottom_right, roles)

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
