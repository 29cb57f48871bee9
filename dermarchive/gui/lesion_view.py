"""A lesion's photos over time (issue 17): clinical and dermoscopic strips, oldest or newest first,
"First vs latest" in one click, the interval between photos in words, a grid of two to four photos,
←/→ to step and "n of N".

The page holds three views of one lesion: the strips, the two-photo compare
(:class:`~dermarchive.gui.compare_view.LesionCompareView`, with overlay modes and alignment) and a
grid of up to four photos. Esc (or "Back to the strips") returns to the strips.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QListView,
                               QListWidget, QListWidgetItem, QPushButton, QScrollArea, QStackedWidget, QVBoxLayout,
                               QWidget)

from ..archive import records
from ..workflows.compare import interval_days, interval_text
from .compare_view import LesionCompareView
from .jobs import run_job
from .thumbnails import ThumbnailLoader
from .timeline import nice_date
from .viewer import PhotoPane

ROWS = (("clinical", "Clinical"), ("dermoscopic", "Dermoscopic"))
THUMB = 150
ImageRole = Qt.ItemDataRole.UserRole + 1


def _icon(pix: QPixmap) -> QIcon:
    """The photo as it is, also when selected (Qt would tint a selected icon: a photo's colour
    matters here); the selection shows in the caption and frame."""
    icon = QIcon(pix)
    icon.addPixmap(pix, QIcon.Mode.Selected)
    return icon


class PhotoStrip(QListWidget):
    """One row of a lesion's photos (one kind), left to right in the chosen order."""

    def __init__(self, kind: str, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"strip_{kind}")
        self.setAccessibleName(f"{label} photos of the lesion")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        # a fixed cell: a tile keeps its size whether its thumbnail has arrived or not
        line = self.fontMetrics().height()
        self.setGridSize(QSize(THUMB + 24, THUMB + 2 * line + 16))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 2 * line + 40)

    def images(self) -> list[records.ImageRecord]:
        return [self.item(i).data(ImageRole) for i in range(self.count())]

    def selected(self) -> list[records.ImageRecord]:
        rows = sorted(self.row(i) for i in self.selectedItems())
        return [self.item(r).data(ImageRole) for r in rows]


class GridCompare(QWidget):
    """Two to four photos in a grid, each captioned with its date and the interval from the first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gridCompare")
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.panes: list[PhotoPane] = []

    def show_images(self, archive: Any, images: list[records.ImageRecord], captions: list[str]) -> None:
        self.clear()
        columns = 2
        for i, (image, caption) in enumerate(zip(images, captions)):
            pane = PhotoPane(self)
            pane.setObjectName(f"gridPane{i}")
            self.grid.addWidget(pane, i // columns, i % columns)
            self.panes.append(pane)
            pane.show_image(archive, image, caption)

    def clear(self) -> None:
        for pane in self.panes:
            pane.clear()
            self.grid.removeWidget(pane)
            pane.deleteLater()
        self.panes = []


class LesionView(QWidget):
    """The lesion's history. ``openRequested(image)`` asks the window to show one photo."""

    openRequested = Signal(object)
    backRequested = Signal()
    currentImageChanged = Signal(object)  # the photo under the cursor of a strip (for the side panel)

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lesionView")
        self.loader = loader
        self.archive: Any = None
        self.lesion: records.Lesion | None = None
        self.all_images: list[records.ImageRecord] = []  # oldest first
        self.newest_first = False

        self.title = QLabel(self)
        self.title.setObjectName("lesionTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.position = QLabel(self)
        self.position.setObjectName("lesionPosition")
        self.position.setAccessibleName("Which photo of the lesion is selected")
        self.order = QComboBox(self)
        self.order.setObjectName("lesionOrder")
        self.order.addItems(["Oldest first", "Newest first"])
        self.order.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.order.setAccessibleName("Order of the photos")
        self.order.currentIndexChanged.connect(lambda i: self.set_newest_first(i == 1))
        self.first_latest = QPushButton("&First vs latest", self)
        self.first_latest.setObjectName("firstVsLatest")
        self.first_latest.setAccessibleName("Compare the first and the latest photo of the lesion")
        self.first_latest.clicked.connect(self.compare_first_latest)
        self.compare_button = QPushButton("&Compare selected", self)
        self.compare_button.setObjectName("compareSelected")
        self.compare_button.setAccessibleName("Compare the selected photos (two to four)")
        self.compare_button.setToolTip("Select two to four photos (Ctrl+click), then compare them")
        self.compare_button.clicked.connect(self.compare_selected)
        self.back_button = QPushButton("Back to the &strips", self)
        self.back_button.setObjectName("backToStrips")
        self.back_button.clicked.connect(self.show_strips)

        # two rows, so the page fits beside the patient list and the side panel at 1280 × 720
        head = QVBoxLayout()
        top, tools = QHBoxLayout(), QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.position)
        top.addWidget(self.back_button)
        for w in (self.order, self.first_latest, self.compare_button):
            tools.addWidget(w)
        tools.addStretch(1)
        head.addLayout(top)
        head.addLayout(tools)

        strips_page = QWidget(self)
        strips_layout = QVBoxLayout(strips_page)
        strips_layout.setContentsMargins(0, 0, 0, 0)
        self.strips: dict[str, PhotoStrip] = {}
        self.row_labels: dict[str, QLabel] = {}
        for kind, label in ROWS:
            title = QLabel(label, strips_page)
            title.setObjectName(f"stripLabel_{kind}")
            strip = PhotoStrip(kind, label, strips_page)
            title.setBuddy(strip)
            strip.itemActivated.connect(lambda item: self.openRequested.emit(item.data(ImageRole)))
            strip.currentItemChanged.connect(self._current_changed)
            strip.itemSelectionChanged.connect(self._update_buttons)
            strips_layout.addWidget(title)
            strips_layout.addWidget(strip)
            self.strips[kind] = strip
            self.row_labels[kind] = title
        self.empty = QLabel("This lesion has no photos yet.", strips_page)
        self.empty.setObjectName("lesionEmpty")
        strips_layout.addWidget(self.empty)
        strips_layout.addStretch(1)

        self.compare = LesionCompareView(self)
        self.grid = GridCompare(self)
        self.pages = QStackedWidget(self)
        # scrolls rather than making the window taller than the screen (large text, 720 px)
        strips_scroll = QScrollArea(self)
        strips_scroll.setObjectName("stripsScroll")
        strips_scroll.setWidgetResizable(True)
        strips_scroll.setFrameShape(QFrame.Shape.NoFrame)
        strips_scroll.setWidget(strips_page)
        self.pages.addWidget(strips_scroll)
        self.pages.addWidget(self.compare)
        self.pages.addWidget(self.grid)
        self.strips_page = strips_scroll

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(head)
        layout.addWidget(self.pages, 1)
        # The strips' tiles by image id: the loader is shared with the timeline, so each thumbnail
        # it loads anywhere arrives here and must cost a lookup, not a walk over every tile.
        self._tiles: dict[int, list[QListWidgetItem]] = {}
        loader.loaded.connect(self._thumbnail_ready)
        self._update_buttons()

    # -- content -------------------------------------------------------------------------------
    def show_lesion(self, archive: Any, lesion: records.Lesion) -> None:
        """Load the lesion's photos (worker) and show the strips."""
        self.archive, self.lesion = archive, lesion
        self.title.setText(f"{lesion.label} · {lesion.site_label}")
        self.show_strips()

        def done(images: list[records.ImageRecord]) -> None:
            if self.lesion is lesion:
                self.set_images(images)

        run_job(lambda: records.images(archive, lesion_id=lesion.id), on_done=done)

    def set_images(self, images: list[records.ImageRecord]) -> None:
        self.all_images = sorted((i for i in images if i.kind in dict(ROWS)), key=lambda i: i.sort_key)
        self._fill()

    def set_newest_first(self, newest: bool) -> None:
        if newest != self.newest_first:
            self.newest_first = newest
            self.order.setCurrentIndex(1 if newest else 0)
            self._fill()

    def _fill(self) -> None:
        first = self.all_images[0] if self.all_images else None
        self._tiles = {}
        for kind, strip in self.strips.items():
            strip.clear()
            shown = [i for i in self.all_images if i.kind == kind]
            if self.newest_first:
                shown.reverse()
            for image in shown:
                item = QListWidgetItem(self._tile_text(image, first))
                item.setData(ImageRole, image)
                item.setToolTip(self._tile_text(image, first).replace("\n", " · "))
                self._tiles.setdefault(image.id, []).append(item)
                pix = self.loader.get(image)
                if pix is not None:
                    item.setIcon(_icon(pix))
                else:
                    self.loader.request(image)
                strip.addItem(item)
            strip.setVisible(bool(shown))
            self.row_labels[kind].setVisible(bool(shown))
        self.empty.setVisible(not self.all_images)
        target = next((s for s in self.strips.values() if s.count()), None)
        if target is not None:
            target.setCurrentRow(0)
            target.setFocus()
        self._update_position()
        self._update_buttons()

    def _tile_text(self, image: records.ImageRecord, first: records.ImageRecord | None) -> str:
        when = nice_date(image.taken_at or image.visit_date)
        if first is None or first.id == image.id:
            return f"{when}\nfirst photo"
        return f"{when}\n{interval_text(interval_days(first, image))}"

    def _thumbnail_ready(self, image_id: int) -> None:
        for item in self._tiles.get(image_id, ()):
            pix = self.loader.get(item.data(ImageRole))
            if pix is not None:
                item.setIcon(_icon(pix))

    # -- state ---------------------------------------------------------------------------------
    def current_strip(self) -> PhotoStrip | None:
        focused = next((s for s in self.strips.values() if s.hasFocus()), None)
        return focused or next((s for s in self.strips.values() if s.currentItem() is not None), None)

    def current_image(self) -> records.ImageRecord | None:
        strip = self.current_strip()
        item = strip.currentItem() if strip else None
        return item.data(ImageRole) if item else None

    def selected_images(self) -> list[records.ImageRecord]:
        chosen = [i for s in self.strips.values() for i in s.selected()]
        return sorted(chosen, key=lambda i: i.sort_key)

    def _current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        self._update_position()
        if current is not None:
            self.currentImageChanged.emit(current.data(ImageRole))

    def _update_position(self) -> None:
        strip = self.current_strip()
        if strip is None or strip.currentItem() is None:
            self.position.setText("")
            return
        n, total = strip.currentRow() + 1, strip.count()
        self.position.setText(f"{n} of {total}")

    def _update_buttons(self) -> None:
        self.first_latest.setEnabled(len(self._first_and_latest()) == 2)
        self.compare_button.setEnabled(2 <= len(self.selected_images()) <= 4)

    def step(self, delta: int) -> None:
        """←/→: the next or previous photo in the current strip."""
        strip = self.current_strip()
        if strip is None or not strip.count():
            return
        row = min(strip.count() - 1, max(0, strip.currentRow() + delta))
        strip.setCurrentRow(row)
        strip.scrollToItem(strip.currentItem())
        self._update_position()

    # -- compare -------------------------------------------------------------------------------
    def _first_and_latest(self) -> list[records.ImageRecord]:
        """First and latest photo of one kind: the current row's kind, else clinical, else dermoscopic."""
        strip = self.current_strip()
        kinds = ([strip.kind] if strip else []) + [k for k, _l in ROWS]
        for kind in kinds:
            shown = [i for i in self.all_images if i.kind == kind]
            if len(shown) >= 2:
                return [shown[0], shown[-1]]
        return []

    def compare_first_latest(self) -> None:
        pair = self._first_and_latest()
        if len(pair) == 2:
            self.compare_images(pair)

    def compare_selected(self) -> None:
        chosen = self.selected_images()
        if 2 <= len(chosen) <= 4:
            self.compare_images(chosen)

    def compare_images(self, images: list[records.ImageRecord]) -> None:
        images = sorted(images, key=lambda i: i.sort_key)
        first = images[0]
        captions = [self._caption(i, first) for i in images]
        if len(images) == 2:
            self.pages.setCurrentWidget(self.compare)
            self.compare.show_pair(self.archive, images[0], images[1], (captions[0], captions[1]))
        else:
            self.pages.setCurrentWidget(self.grid)
            self.grid.show_images(self.archive, images, captions)
        self._update_buttons()

    def _caption(self, image: records.ImageRecord, first: records.ImageRecord) -> str:
        when = nice_date(image.taken_at or image.visit_date)
        kind = "Dermoscopy" if image.kind == "dermoscopic" else "Clinical"
        if image.id == first.id:
            return f"{when} · {kind}"
        return f"{when} · {kind} · {interval_text(interval_days(first, image))}"

    def show_strips(self) -> None:
        self.compare.clear()
        self.grid.clear()
        self.pages.setCurrentWidget(self.strips_page)
        strip = self.current_strip()
        if strip is not None:
            strip.setFocus()

    def clear(self) -> None:
        """Drop every decoded photo (lock)."""
        self.compare.clear()
        self.grid.clear()
        self._tiles = {}
        for strip in self.strips.values():
            strip.clear()
        self.all_images = []
        self.lesion = None

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self.pages.currentWidget() is not self.strips_page:
            self.show_strips()
        elif event.key() == Qt.Key.Key_Escape:
            self.backRequested.emit()
        else:
            super().keyPressEvent(event)


