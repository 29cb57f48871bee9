"""The redaction tool: draw rectangles on a photo to blur (faces, tattoos, jewellery) or to crop.

Rectangles are kept as :class:`dermarchive.exports.deidentified.Redaction` (fractions of the
upright picture), so what is drawn on the screen-size preview applies exactly to the full-size
export. "Show result" displays the picture the core makes from them (same code as the export).
The archive's original is never changed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..exports.deidentified import Redaction

BLUR_COLOUR = QColor(200, 40, 40)
CROP_COLOUR = QColor(30, 110, 200)
MIN_DRAG_PX = 6


class RedactionCanvas(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("redactionCanvas")
        self.setMinimumSize(QSize(420, 320))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.mode = "blur"
        self.redactions: list[Redaction] = []
        self.picture: QPixmap | None = None
        self.result: QPixmap | None = None  # shown instead of the picture while previewing
        self.message = "Choose a photo on the left."
        self._drag: tuple[QPointF, QPointF] | None = None

    # -- state ----------------------------------------------------------------------------------
    def set_picture(self, jpeg: bytes | None, redactions: list[Redaction] | None = None) -> None:
        self.picture = None
        if jpeg:
            pix = QPixmap()
            pix.loadFromData(jpeg)
            self.picture = pix
        self.redactions = list(redactions or [])
        self.result = None
        self.update()

    def set_message(self, text: str) -> None:
        self.picture, self.result, self.message = None, None, text
        self.update()

    def set_result(self, jpeg: bytes | None) -> None:
        self.result = None
        if jpeg:
            pix = QPixmap()
            pix.loadFromData(jpeg)
            self.result = pix
        self.setCursor(Qt.CursorShape.ArrowCursor if self.result else Qt.CursorShape.CrossCursor)
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def undo(self) -> None:
        if self.redactions:
            self.redactions.pop()
            self.changed.emit()
            self.update()

    def clear(self) -> None:
        if self.redactions:
            self.redactions = []
            self.changed.emit()
            self.update()

    # -- geometry ---------------------------------------------------------------------------------
    def picture_rect(self) -> QRectF:
        """Where the picture is drawn: scaled to fit, centred."""
        shown = self.result or self.picture
        if shown is None or shown.isNull():
            return QRectF()
        room = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        scale = min(room.width() / shown.width(), room.height() / shown.height())
        w, h = shown.width() * scale, shown.height() * scale
        return QRectF(room.x() + (room.width() - w) / 2, room.y() + (room.height() - h) / 2, w, h)

    def _to_fraction(self, a: QPointF, b: QPointF) -> Redaction | None:
        pic = self.picture_rect()
        if pic.isEmpty():
            return None
        rect = QRectF(a, b).normalized().intersected(pic)
        if rect.width() < MIN_DRAG_PX or rect.height() < MIN_DRAG_PX:
            return None
        return Redaction(self.mode, (rect.x() - pic.x()) / pic.width(), (rect.y() - pic.y()) / pic.height(),
                         min(rect.width() / pic.width(), 1.0), min(rect.height() / pic.height(), 1.0))

    def _to_widget(self, r: Redaction) -> QRectF:
        pic = self.picture_rect()
        return QRectF(pic.x() + r.x * pic.width(), pic.y() + r.y * pic.height(), r.w * pic.width(),
                      r.h * pic.height())

    # -- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's names
        if event.button() == Qt.MouseButton.LeftButton and self.picture is not None and self.result is None:
            self._drag = (event.position(), event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = (self._drag[0], event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        added = self._to_fraction(self._drag[0], event.position())
        self._drag = None
        if added is not None:
            if added.kind == "crop":  # one crop per photo: a new one replaces the old
                self.redactions = [r for r in self.redactions if r.kind != "crop"]
            self.redactions.append(added)
            self.changed.emit()
        self.update()

    # -- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#3a3f44"))
        shown = self.result or self.picture
        if shown is None:
            painter.setPen(QColor("#e6eef4"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            painter.end()
            return
        pic = self.picture_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(pic.toRect(), shown)
        if self.result is None:
            for r in self.redactions:
                self._paint_redaction(painter, self._to_widget(r), r.kind)
            if self._drag is not None:
                self._paint_redaction(painter, QRectF(*self._drag).normalized().intersected(pic), self.mode)
        painter.end()

    def _paint_redaction(self, painter: QPainter, rect: QRectF, kind: str) -> None:
        if kind == "crop":
            outside = QColor(0, 0, 0, 130)
            pic = self.picture_rect()
            for part in (QRectF(pic.left(), pic.top(), pic.width(), rect.top() - pic.top()),
                         QRectF(pic.left(), rect.bottom(), pic.width(), pic.bottom() - rect.bottom()),
                         QRectF(pic.left(), rect.top(), rect.left() - pic.left(), rect.height()),
                         QRectF(rect.right(), rect.top(), pic.right() - rect.right(), rect.height())):
                if part.width() > 0 and part.height() > 0:
                    painter.fillRect(part, outside)
            painter.setPen(QPen(CROP_COLOUR.lighter(150), 2, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            label = "Crop"
        else:
            fill = QColor(BLUR_COLOUR)
            fill.setAlpha(90)
            painter.setBrush(QBrush(fill, Qt.BrushStyle.SolidPattern))
            painter.setPen(QPen(BLUR_COLOUR.lighter(130), 2))
            label = "Blur"
        painter.drawRect(rect)
        painter.setPen(QColor("white"))
        painter.drawText(rect.adjusted(4, 2, -2, -2), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, label)
