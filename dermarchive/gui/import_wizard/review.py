"""Review: what the scan found — a thumbnail grid and a table over one model, badges for
location / duplicates / already imported, reasons for skipped and unusable files, include and
"consent form" marks, and a large preview of the photo clicked."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListView, QPushButton, QSplitter,
                               QStyledItemDelegate, QStyleOptionViewItem, QTableView, QTabWidget, QWidget)

from ...ingest import ImportPlan, PlanEntry
from .base import FormPage
from ...workflows.import_visit import ImportChoices, PhotoChoice
from .common import EntryTableModel, Index, PreviewQueue, plural, size_text, taken_text

GRID_SIDE = 150
STATUS_WORDS = {"new": "New", "already-imported": "Already imported", "duplicate": "Duplicate",
                "skipped": "Skipped", "rejected": "Cannot be used"}
STATUS_COLOURS = {"new": "#e3f1e4", "already-imported": "#e4ecf5", "duplicate": "#eeeeee",
                  "skipped": "#f1f1f1", "rejected": "#f8e0dc"}
LOCATION_COLOUR = "#fbe7c6"
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
BADGES_ROLE = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("File", "Status", "Why", "Taken", "Device", "Size", "Location", "Consent form")
C_FILE, C_STATUS, C_REASON, C_TAKEN, C_DEVICE, C_SIZE, C_LOCATION, C_CONSENT = range(len(COLUMNS))


class ReviewModel(EntryTableModel):
    COLUMNS = COLUMNS
    """Every file of the plan; new photos are checkable (include) and can be marked consent form."""

    def __init__(self, plan: ImportPlan, choices: ImportChoices, thumbs: dict[str, QPixmap],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.plan, self.choices = plan, choices
        order = {"new": 0, "already-imported": 1, "duplicate": 2, "rejected": 3, "skipped": 4}
        self.entries = sorted(plan.entries, key=lambda e: (order[e.status], e.rel))
        self.row_of = {e.rel: n for n, e in enumerate(self.entries)}
        self.thumbs = thumbs  # shared with the Organise page; in memory only
        for e in plan.new_entries():
            choices.photos.setdefault(e.rel, PhotoChoice())


    def photo(self, entry: PlanEntry) -> PhotoChoice | None:
        return self.choices.photos.get(entry.rel) if entry.status == "new" else None

    def status_text(self, e: PlanEntry) -> str:
        return STATUS_WORDS[e.status]

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        e = self.entries[index.row()]
        if e.status == "new" and index.column() in (C_FILE, C_CONSENT):
            base |= Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e, col = self.entries[index.row()], index.column()
        meta, photo = e.metadata, self.photo(e)
        if role == ENTRY_ROLE:
            return e
        if role == Qt.ItemDataRole.DisplayRole:
            return {C_FILE: e.rel, C_STATUS: self.status_text(e),
                    C_TAKEN: taken_text(e) if meta else "", C_DEVICE: meta.device if meta else "",
                    C_SIZE: size_text(e), C_LOCATION: ("Has location" if meta and meta.has_location else ""),
                    C_CONSENT: "", C_REASON: e.reason[:1].upper() + e.reason[1:]}.get(col)
        if role == Qt.ItemDataRole.CheckStateRole and photo is not None:
            if col == C_FILE:
                return Qt.CheckState.Checked if photo.include else Qt.CheckState.Unchecked
            if col == C_CONSENT:
                return Qt.CheckState.Checked if photo.kind == "consent-form" else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.BackgroundRole:
            if col == C_STATUS:
                return QBrush(QColor(STATUS_COLOURS[e.status]))
            if col == C_LOCATION and meta and meta.has_location:
                return QBrush(QColor(LOCATION_COLOUR))
        if role == Qt.ItemDataRole.DecorationRole and col == C_FILE and self.thumb(e) is not None:
            return self.thumbs[e.rel].scaled(QSize(32, 32), Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == C_LOCATION and meta and meta.has_location:
                return "This photo records where it was taken. The location is removed on import."
            if e.reason:
                return e.reason
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        photo = self.photo(self.entries[index.row()])
        if role != Qt.ItemDataRole.CheckStateRole or photo is None:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        if index.column() == C_FILE:
            photo.include = checked
        elif index.column() == C_CONSENT:
            photo.kind = "consent-form" if checked else "clinical"
        else:
            return False
        self.row_changed(index.row())
        return True

    def set_include(self, include: bool) -> None:
        for e in self.entries:
            photo = self.photo(e)
            if photo is not None:
                photo.include = include
        self.all_changed()

    def mark_consent_form(self, rows: list[int]) -> int:
        marked = 0
        for row in rows:
            photo = self.photo(self.entries[row])
            if photo is not None:
                photo.kind, photo.include = "consent-form", True
                marked += 1
                self.row_changed(row)
        return marked

    def set_thumb(self, rel: str, pix: QPixmap) -> None:
        self.thumbs[rel] = pix
        row = self.row_of.get(rel)
        if row is not None:
            self.row_changed(row)


class PhotoGridProxy(QSortFilterProxyModel):
    """The grid: photos only, the thumbnail large, a caption with the badges that matter."""

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        assert isinstance(model, ReviewModel)
        return model.entries[row].metadata is not None and model.entries[row].status in (
            "new", "already-imported", "duplicate")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        model = self.sourceModel()
        assert isinstance(model, ReviewModel)
        e: PlanEntry = super().data(index, ENTRY_ROLE)
        if role == Qt.ItemDataRole.DisplayRole:
            return taken_text(e).split(",")[0]
        if role == BADGES_ROLE:
            badges = []
            if e.status != "new":
                badges.append((STATUS_WORDS[e.status], "#3b5b7a"))
            if e.metadata and e.metadata.has_location:
                badges.append(("Location", "#a85b00"))
            photo = model.photo(e)
            if photo and photo.kind == "consent-form":
                badges.append(("Consent form", "#2e6b34"))
            return badges
        if role == Qt.ItemDataRole.DecorationRole:
            return model.thumb(e) or _placeholder()
        if role == Qt.ItemDataRole.BackgroundRole and e.status != "new":
            return QBrush(QColor(STATUS_COLOURS[e.status]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{e.rel}\n{e.reason}" if e.reason else e.rel
        return super().data(index, role)


MAX_BADGES = 3  # status, Location, Consent form


def badge_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
    font.setBold(True)
    return font


def badge_block_height(base: QFont) -> int:
    """Room kept under every caption for the badges, so a badge never covers the date."""
    return (QFontMetrics(badge_font(base)).height() + 4) * MAX_BADGES + 2


class BadgeDelegate(QStyledItemDelegate):
    """Paints the thumbnail and its caption in the upper part of the cell, the small coloured
    badges in the room kept below the caption (they used to be drawn over it)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + badge_block_height(option.font))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        block = badge_block_height(option.font)
        upper = QStyleOptionViewItem(option)
        upper.rect = option.rect.adjusted(0, 0, 0, -block)
        super().paint(painter, upper, index)
        badges = index.data(BADGES_ROLE) or []
        if not badges:
            return
        painter.save()
        painter.setFont(badge_font(option.font))
        metrics = painter.fontMetrics()
        y = upper.rect.bottom() + 4
        for text, colour in badges:
            width = metrics.horizontalAdvance(text) + 12
            box = QRect(option.rect.center().x() - width // 2, y, width, metrics.height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            y += metrics.height() + 4
        painter.restore()


_PLACEHOLDER: list[QPixmap] = []


def _placeholder() -> QPixmap:
    if not _PLACEHOLDER:
        pix = QPixmap(GRID_SIDE, GRID_SIDE)
        pix.fill(QColor("#e6ebef"))
        _PLACEHOLDER.append(pix)
    return _PLACEHOLDER[0]


class ReviewPage(FormPage):
    form_name = "import_wizard_review"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Check what was found",
                         "Choose the photos to import. Files that cannot be imported are listed with the reason.",
                         parent)
        self.summary = self.w(QLabel, "reviewSummary")
        self.grid = self.w(QListView, "photoGrid")
        self.table = self.w(QTableView, "fileTable")
        self.preview = self.w(QLabel, "previewLabel")
        self.caption = self.w(QLabel, "previewCaption")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(GRID_SIDE, GRID_SIDE))
        lines = self.grid.fontMetrics().lineSpacing()  # two caption lines, then the badges
        self.grid.setGridSize(QSize(GRID_SIDE + 30, GRID_SIDE + 2 * lines + badge_block_height(self.grid.font()) + 14))
        self.grid.setItemDelegate(BadgeDelegate(self.grid))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setWordWrap(True)
        self.grid.setUniformItemSizes(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.splitter = self.w(QSplitter, "reviewSplitter")
        self.splitter.setSizes([760, 300])
        self.w(QTabWidget, "reviewTabs").currentChanged.connect(self._tab_changed)
        self.w(QPushButton, "selectAllButton").clicked.connect(lambda: self.model and self.model.set_include(True))
        self.w(QPushButton, "selectNoneButton").clicked.connect(lambda: self.model and self.model.set_include(False))
        self.w(QPushButton, "markConsentButton").clicked.connect(self.mark_consent_form)
        self.grid.clicked.connect(lambda i: self.show_preview(self.proxy.mapToSource(i).row()))
        self.table.clicked.connect(lambda i: self.show_preview(i.row()))
        self.model: ReviewModel | None = None
        self.proxy = PhotoGridProxy(self)
        self.thumbs = PreviewQueue(GRID_SIDE, self)
        self.thumbs.ready.connect(self._thumb_ready)
        self.large = PreviewQueue(640, self, in_flight=1)
        self.large.ready.connect(self._large_ready)
        self.shown_rel: str | None = None

    def _tab_changed(self, tab: int) -> None:
        """"All files" is a wide table: the preview pane gives it room (and takes it back for the grid)."""
        total = sum(self.splitter.sizes())
        side = 220 if tab == 1 else 300
        self.splitter.setSizes([max(0, total - side), side])

    def initializePage(self) -> None:  # noqa: N802 - Qt's names
        plan = self.wiz.plan
        assert plan is not None
        if self.model is not None and self.model.plan is plan:
            return
        self.thumbs.stop()
        self.large.stop()
        self.model = ReviewModel(plan, self.wiz.choices, self.wiz.thumbs, self)
        self.model.dataChanged.connect(lambda *_: self._summarise())
        self.proxy.setSourceModel(self.model)
        self.grid.setModel(self.proxy)
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in ((C_FILE, 190), (C_STATUS, 110), (C_REASON, 260), (C_TAKEN, 150), (C_DEVICE, 130),
                           (C_SIZE, 130), (C_LOCATION, 100)):
            self.table.setColumnWidth(col, width)
        self.preview.setText("Click a photo to see it larger.")
        self.caption.clear()
        self.shown_rel = None
        self.model.want = self.want_thumb  # thumbnails are made as the grid or table shows them
        self._summarise()

    def _summarise(self) -> None:
        assert self.model is not None
        plan = self.model.plan
        counts = plan.counts()
        chosen = len(self.wiz.choices.included(plan))
        located = sum(1 for e in plan.new_entries() if e.metadata and e.metadata.has_location)
        parts = [f"<b>{plural(chosen, 'photo')} of {counts['new']} new will be imported.</b>"]
        if counts["already-imported"]:
            parts.append(f"{counts['already-imported']} already in the archive (not imported again).")
        if counts["duplicate"]:
            parts.append(f"{plural(counts['duplicate'], 'duplicate')} of other files here.")
        if counts["rejected"]:
            parts.append(f"<span style='color:#a23b2a'>{plural(counts['rejected'], 'file')} cannot be used</span> "
                         "(see All files).")
        if counts["skipped"]:
            parts.append(f"{plural(counts['skipped'], 'file')} skipped (not photos).")
        if located:
            parts.append(f"{plural(located, 'photo')} record where they were taken; locations are removed on import.")
        self.summary.setText(" ".join(parts))

    def want_thumb(self, entry: PlanEntry) -> None:
        if entry.rel not in self.wiz.thumbs and entry.rel not in self.thumbs.done:
            self.thumbs.request(entry, first=True)  # newest first: what is on screen now

    def _thumb_ready(self, rel: str, pix: QPixmap) -> None:
        if self.model is not None:
            self.model.set_thumb(rel, pix)

    def selected_rows(self) -> list[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.grid.selectionModel().selectedIndexes()}
        rows |= {i.row() for i in self.table.selectionModel().selectedRows()}
        return sorted(rows)

    def mark_consent_form(self) -> None:
        if self.model is None:
            return
        from .. import messages

        if not self.model.mark_consent_form(self.selected_rows()):
            messages.info(self, "Select the photo of the signed consent form first (click it in the grid).")

    def show_preview(self, row: int) -> None:
        assert self.model is not None
        e = self.model.entries[row]
        self.shown_rel = e.rel
        meta = e.metadata
        lines = [f"<b>{e.rel}</b>", self.model.status_text(e)]
        if meta is not None:
            lines += [taken_text(e), meta.device or "device not recorded", size_text(e)]
            if meta.has_location:
                lines.append(f"<span style='background:{LOCATION_COLOUR}'>Records where it was taken "
                             "(removed on import)</span>")
        if e.reason:
            lines.append(e.reason[:1].upper() + e.reason[1:] + ".")
        self.caption.setText("<br>".join(lines))
        if meta is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No preview: this file is not a usable photo.")
            return
        self.preview.setText("Loading preview…")
        self.large.done.clear()  # keep one large preview in memory, not one per click
        self.large.request(e, first=True)

    def _large_ready(self, rel: str, pix: QPixmap) -> None:
        if rel == self.shown_rel:
            self.preview.setPixmap(pix.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def validatePage(self) -> bool:  # noqa: N802
        from .. import messages

        if self.model is None or not self.wiz.choices.included(self.model.plan):
            messages.warning(self, "No photos are chosen for import. Tick at least one new photo, or "
                                   "choose another folder (Back).")
            return False
        return True

    def cleanupPage(self) -> None:  # noqa: N802 - going Back to the folder choice
        self.thumbs.stop()
        self.large.stop()
