"""A signature pad: the patient signs with a mouse, a finger (touch screen) or a tablet pen.

Strokes are kept as point lists (pen pressure widens the line), so Undo/Redo/Clear are exact.
:meth:`SignaturePad.to_png` renders the strokes as dark ink on a transparent background into PNG
bytes in memory; the core stores them as an encrypted blob. Nothing is written to disk here.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen,
                           QTabletEvent, QTouchEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import colours

INK = QColor("#14213d")
Point = tuple[float, float, float]  # x, y (fractions of the pad) and pressure 0–1


class SignaturePad(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signaturePad")
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents, True)
        self.setMinimumSize(QSize(360, 140))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Sign here with the mouse, a finger or a pen.")
        self.setAccessibleName("Signature pad")
        self.keyboard_route = ""
        self.strokes: list[list[Point]] = []
        self._redo: list[list[Point]] = []
        self._drawing = False

    def set_keyboard_route(self, text: str) -> None:
        """Name the way to record consent without drawing (keyboard only, no pen): shown in the
        empty pad, and spoken by screen readers as the pad's description."""
        self.keyboard_route = text
        self.setAccessibleDescription(text)
        self.setToolTip(f"Sign here with the mouse, a finger or a pen. {text}")
        self.update()

    # -- state --------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return not any(len(s) > 1 for s in self.strokes)

    def clear(self) -> None:
        if self.strokes:
            self._redo = list(reversed(self.strokes))
            self.strokes = []
            self._changed()

    def undo(self) -> None:
        if self.strokes:
            self._redo.append(self.strokes.pop())
            self._changed()

    def redo(self) -> None:
        if self._redo:
            self.strokes.append(self._redo.pop())
            self._changed()

    def can_undo(self) -> bool:
        return bool(self.strokes)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def _changed(self) -> None:
        self.update()
        self.changed.emit()

    # -- input --------------------------------------------------------------------------------
    def _point(self, pos: QPointF, pressure: float = 0.5) -> Point:
        w, h = max(self.width(), 1), max(self.height(), 1)
        return (min(max(pos.x() / w, 0.0), 1.0), min(max(pos.y() / h, 0.0), 1.0), pressure)

    def _begin(self, pos: QPointF, pressure: float = 0.5) -> None:
        self._drawing = True
        self._redo.clear()
        self.strokes.append([self._point(pos, pressure)])
        self.update()

    def _extend(self, pos: QPointF, pressure: float = 0.5) -> None:
        if self._drawing and self.strokes:
            self.strokes[-1].append(self._point(pos, pressure))
            self.update()

    def _end(self) -> None:
        if self._drawing:
            self._drawing = False
            if self.strokes and len(self.strokes[-1]) == 1:  # a tap: a dot
                x, y, p = self.strokes[-1][0]
                self.strokes[-1].append((x + 0.001, y, p))
            self._changed()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's names
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._extend(event.position())
            self._end()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self._begin(event.position(), event.pressure())
        elif kind == QTabletEvent.Type.TabletMove:
            self._extend(event.position(), event.pressure())
        elif kind == QTabletEvent.Type.TabletRelease:
            self._end()
        event.accept()  # no synthesised mouse events: the pen is drawn once

    def event(self, event: object) -> bool:
        if isinstance(event, QTouchEvent):
            points = event.points()
            if points:
                pos = points[0].position()
                kind = event.type()
                if kind == QTouchEvent.Type.TouchBegin:
                    self._begin(pos)
                elif kind == QTouchEvent.Type.TouchUpdate:
                    self._extend(pos)
                else:
                    self._end()
            event.accept()
            return True
        return super().event(event)  # type: ignore[arg-type]

    # -- drawing --------------------------------------------------------------------------------
    def _paint_strokes(self, painter: QPainter, width: float, height: float, scale: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for stroke in self.strokes:
            for (x0, y0, p0), (x1, y1, p1) in zip(stroke, stroke[1:]):
                pen = QPen(INK, scale * (1.6 + 2.4 * (p0 + p1) / 2), Qt.PenStyle.SolidLine,
                           Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
                painter.setPen(pen)
                painter.drawLine(QPointF(x0 * width, y0 * height), QPointF(x1 * width, y1 * height))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor("#ffffff"))
        painter.setPen(QPen(QColor(colours.PAD_BORDER), 1))
        painter.drawRoundedRect(rect, 4, 4)
        baseline = self.height() * 0.75
        painter.setPen(QPen(QColor(colours.PAD_BORDER), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(24, baseline), QPointF(self.width() - 24, baseline))
        painter.setPen(QColor(colours.MUTED))
        painter.drawText(QPointF(10, baseline + 5), "×")
        if not self.strokes:
            painter.setPen(QColor(colours.HINT))
            painter.drawText(self.rect().adjusted(0, 0, 0, -int(self.height() * 0.3)),
                             Qt.AlignmentFlag.AlignCenter, "Patient signs here")
            if self.keyboard_route:  # the way without a mouse, finger or pen, in words
                painter.drawText(self.rect().adjusted(8, int(baseline) + 6, -8, -2),
                                 Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.keyboard_route)
        self._paint_strokes(painter, self.width(), self.height(), 1.0)
        painter.end()

    def to_png(self, width: int = 900) -> bytes:
        """The signature as PNG bytes (ink on transparent), at the pad's aspect ratio."""
        height = max(1, round(width * self.height() / max(self.width(), 1)))
        image = QImage(width, height, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        self._paint_strokes(painter, width, height, width / max(self.width(), 1))
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())

