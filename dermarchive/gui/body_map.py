"""The body map (issue 17): front and back figures with a pin per lesion.

Choose a lesion, click where it is: the pin is placed and the lesion's coded body site and
laterality are set from the region under the click (:func:`dermarchive.archive.bodymap.place_pin`,
in a worker). Clicking a pin, or choosing a lesion in the list and pressing Enter, opens the
lesion. The figures are the project's SVGs in ``resources/bodymap/``; the geometry that says which
site a point lies on is Qt-free (:mod:`dermarchive.archive.bodymap`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPen
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)
from shiboken6 import isValid

from ..archive import bodymap, bodysites, records
from ..workflows.changes import Changes
from .forms import resource_path
from .jobs import run_job
PIN_RADIUS = 8
LesionRole = Qt.ItemDataRole.UserRole + 1


class BodyFigures(QWidget):
    """Both figures side by side, with pins. ``clicked(view, x, y)`` in fractions of the figure box;
    ``pinClicked(lesion_id)`` when a click lands on a pin."""

    clicked = Signal(str, float, float)
    pinClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bodyFigures")
        self.setAccessibleName("Body map: front and back figures with lesion pins")
        self.setMinimumSize(360, 400)
        self.renderers = {v: QSvgRenderer(str(resource_path("bodymap", f"{v}.svg")), self) for v in bodymap.VIEWS}
        self.pins: dict[int, bodymap.Pin] = {}
        self.labels: dict[int, str] = {}
        self.highlight: int | None = None

    def set_pins(self, pins: dict[int, bodymap.Pin], labels: dict[int, str]) -> None:
        self.pins, self.labels = pins, labels
        self.update()

    def figure_rect(self, view: str) -> QRectF:
        """Where a figure is drawn (aspect kept), in widget coordinates."""
        half = self.width() / 2
        caption = self.fontMetrics().height() + 8
        avail_h = self.height() - caption - 8
        scale = min((half - 16) / bodymap.WIDTH, avail_h / bodymap.HEIGHT)
        w, h = bodymap.WIDTH * scale, bodymap.HEIGHT * scale
        left = (0 if view == "front" else half) + (half - w) / 2
        return QRectF(left, caption, w, h)

    def pin_position(self, pin: bodymap.Pin) -> QPointF:
        r = self.figure_rect(pin.view)
        return QPointF(r.left() + pin.x * r.width(), r.top() + pin.y * r.height())

    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        p.setPen(QColor("#222222"))
        for view, caption in (("front", "Front"), ("back", "Back")):
            r = self.figure_rect(view)
            p.drawText(QRectF(r.left() - 40, 2, r.width() + 80, r.top() - 4),
                       int(Qt.AlignmentFlag.AlignCenter), caption)
            self.renderers[view].render(p, r)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        for lesion_id, pin in self.pins.items():
            c = self.pin_position(pin)
            on = lesion_id == self.highlight
            p.setPen(QPen(QColor("white"), 2))
            p.setBrush(QColor("#0b57d0") if on else QColor("#b3261e"))
            p.drawEllipse(c, PIN_RADIUS + (2 if on else 0), PIN_RADIUS + (2 if on else 0))
            p.setPen(QColor("#111111"))
            p.drawText(c + QPointF(PIN_RADIUS + 3, 4), self.labels.get(lesion_id, ""))

    def pin_at(self, pos: QPointF) -> int | None:
        for lesion_id, pin in self.pins.items():
            d = self.pin_position(pin) - pos
            if d.x() ** 2 + d.y() ** 2 <= (PIN_RADIUS + 3) ** 2:
                return lesion_id
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        hit = self.pin_at(pos)
        if hit is not None:
            self.pinClicked.emit(hit)
            return
        for view in bodymap.VIEWS:
            r = self.figure_rect(view)
            if r.contains(pos):
                self.clicked.emit(view, (pos.x() - r.left()) / r.width(), (pos.y() - r.top()) / r.height())
                return


class BodyMapDialog(QDialog):
    """A patient's body map: the lesion list beside the figures. ``openLesion(lesion_id)``."""

    openLesion = Signal(int)
    changed = Signal()

    def __init__(self, archive: Any, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bodyMapDialog")
        self.setWindowTitle("Body map")
        self.archive, self.patient_id = archive, patient_id
        self.changes = Changes()  # what the window re-reads when this closes: the patient's page once a pin moved
        self.lesions: dict[int, records.Lesion] = {}
        self.figures = BodyFigures(self)
        self.list = QListWidget(self)
        self.list.setObjectName("bodyMapLesions")
        self.list.setAccessibleName("Lesions: choose one, then click where it is on the figure; Enter opens it")
        self.list.setMinimumWidth(200)
        self.list.itemActivated.connect(lambda item: self._open(item.data(LesionRole)))
        self.list.currentItemChanged.connect(self._current_changed)
        self.hint = QLabel("Choose a lesion, then click where it is on the figure. Click a pin to open its lesion.",
                           self)
        self.hint.setObjectName("bodyMapHint")
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        # Without a mouse: choose the region from a list; the pin goes to its middle.
        self.region_box = QComboBox(self)
        self.region_box.setObjectName("bodyMapRegion")
        self.region_box.setAccessibleName("Body region for the chosen lesion's pin")
        for i, region in enumerate(bodymap.REGIONS):
            self.region_box.addItem(f"{bodysites.label(region.site, '', region.laterality)} ({region.view})", i)
        self.place_button = QPushButton("&Place pin", self)
        self.place_button.setObjectName("bodyMapPlace")
        self.place_button.clicked.connect(self.place_in_region)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        side = QVBoxLayout()
        side.addWidget(QLabel("&Lesions", self, buddy=self.list))
        side.addWidget(self.list, 1)
        side.addWidget(QLabel("&Region", self, buddy=self.region_box))
        side.addWidget(self.region_box)
        side.addWidget(self.place_button)
        body = QHBoxLayout()
        body.addLayout(side)
        body.addWidget(self.figures, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        self.figures.clicked.connect(self.place)
        self.figures.pinClicked.connect(self._open)
        self.resize(760, 620)
        self.reload()

    def reload(self) -> None:
        archive, patient_id = self.archive, self.patient_id

        def load() -> tuple[list[records.Lesion], dict[int, bodymap.Pin]]:
            return records.lesions(archive, patient_id), bodymap.pins(archive, patient_id)

        run_job(load, on_done=self._loaded, parent=self)

    def _loaded(self, data: tuple[list[records.Lesion], dict[int, bodymap.Pin]]) -> None:
        if not isValid(self.list):  # closed (and deleted) before the lesions were read
            return
        lesions, pins = data
        current = self.current_lesion_id()
        self.lesions = {l.id: l for l in lesions}
        self.list.blockSignals(True)
        self.list.clear()
        for lesion in lesions:
            mark = "" if lesion.id in pins else " (no pin yet)"
            item = QListWidgetItem(f"{lesion.label} · {lesion.site_label}{mark}")
            item.setData(LesionRole, lesion.id)
            self.list.addItem(item)
            if lesion.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.figures.set_pins(pins, {l.id: l.label for l in lesions})
        self._current_changed()

    def current_lesion_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(LesionRole) if item else None

    def _current_changed(self, *_: Any) -> None:
        self.figures.highlight = self.current_lesion_id()
        self.figures.update()

    def place(self, view: str, x: float, y: float) -> None:
        lesion_id = self.current_lesion_id()
        if lesion_id is None:
            return
        region = bodymap.site_at(view, x, y)
        if region is None:
            self.hint.setText("That point is not on the figure: click on the body where the lesion is.")
            return
        archive = self.archive

        def done(placed: bodymap.Region) -> None:
            self.hint.setText(f"Pin placed: {bodysites.label(placed.site, '', placed.laterality)}.")
            self.changes = Changes.of_patient(self.patient_id)
            self.changed.emit()
            self.reload()

        run_job(bodymap.place_pin, archive, lesion_id, view, x, y, on_done=done, parent=self)

    def place_in_region(self) -> None:
        region = bodymap.REGIONS[self.region_box.currentData()]
        self.place(region.view, *bodymap.centre(region))

    def _open(self, lesion_id: int) -> None:
        self.openLesion.emit(lesion_id)
