"""Photo viewer (fit, zoom with wheel and keys, 100 %, pan, rotate the view) and compare mode.

The stored original is decrypted in a worker (``records.view_image``, which audits the view) and
decoded there with EXIF orientation applied; only the QImage reaches the GUI thread. Rotation
turns the view, never the stored photo. :meth:`ImageView.clear` drops the decoded pixels (lock).
A photo whose stored copy is damaged (``BlobIntegrityError``) is not shown at all: the caption and
the empty view say so in plain words, with the remedy, and the session's damage record
(:data:`~dermarchive.gui.thumbnails.damage`) tells the side panels.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QHBoxLayout,
                               QLabel, QVBoxLayout, QWidget)

from ..archive import records
from ..ingest import previews
from .jobs import run_job
from .thumbnails import DECODED_FORMATS, damage, damage_problem, damaged_message, decode_image

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 16.0


def decode_for_view(archive: Any, image: records.ImageRecord) -> QImage:
    """Worker thread: decrypt (audited) and decode with orientation applied.

    The original when it is a format decoded here (JPEG, PNG…), else the screen-size preview.
    """
    which = "original" if image.stored_format.upper() in DECODED_FORMATS else "preview"
    data = records.view_image(archive, image, which)
    try:
        return decode_image(data, orientation=image.orientation)  # Pillow, not QImageReader, off the GUI thread (see decode_image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        from ..errors import BlobIntegrityError
        raise BlobIntegrityError(image.blob_id, "the photo could not be decoded") from None


def reduced_note(image: records.ImageRecord, shown: QImage) -> str:
    """The caption's note when the viewer shows a photo smaller than it is stored (the size policy
    decodes a photo over 100 MP at a reduced scale, or a format not decoded here as its
    screen-size preview); empty when it is shown whole."""
    stored, seen = max(image.width, image.height), max(shown.width(), shown.height())
    if not stored or seen >= stored:
        return ""
    return f"shown reduced to {shown.width()} × {shown.height()} px (stored {image.width} × {image.height} px)"


class ImageView(QGraphicsView):
    """One photo. Keys: + / − zoom, 0 fit, 1 100 %, R / Shift+R rotate the view; drag to pan."""

    zoomChanged = Signal(float)  # current scale factor (1.0 = 100 %)
    rotationChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setAccessibleName("Photo")
        self.setAccessibleDescription("Plus and minus zoom, 0 fits, 1 shows 100 %, R rotates the view, arrows pan")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._rotation = 0
        self._fit = True
        self.image: records.ImageRecord | None = None
        self.message = ""  # shown in the empty view (e.g. why the photo cannot be shown)

    # -- content ---------------------------------------------------------------------------
    def set_image(self, qimg: QImage, image: records.ImageRecord | None = None) -> None:
        self.image = image
        self.set_message("")
        self._item.setPixmap(QPixmap.fromImage(qimg))
        self._scene.setSceneRect(self._item.boundingRect())
        self._rotation = 0
        self.fit()

    def clear(self) -> None:
        self._item.setPixmap(QPixmap())
        self.image = None
        self.set_message("")

    def set_message(self, text: str) -> None:
        self.message = text
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        super().drawForeground(painter, rect)
        if not self.message or self.has_image():
            return
        painter.save()
        painter.resetTransform()  # viewport coordinates
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        painter.setPen(QColor("white"))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.message)
        painter.restore()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    # -- zoom / rotate ---------------------------------------------------------------------
    def scale_factor(self) -> float:
        t = self.transform()
        return float((t.m11() ** 2 + t.m12() ** 2) ** 0.5)

    def rotation(self) -> int:
        return self._rotation

    def _apply(self, scale: float) -> None:
        scale = max(MIN_ZOOM, min(MAX_ZOOM, scale))
        self.setTransform(QTransform().rotate(self._rotation).scale(scale, scale))
        self.zoomChanged.emit(scale)

    def fit(self) -> None:
        self._fit = True
        if not self.has_image():
            return
        self.setTransform(QTransform().rotate(self._rotation))
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.scale_factor())

    def actual_size(self) -> None:
        self._fit = False
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self._apply(1.0)

    def set_zoom(self, scale: float) -> None:
        self._fit = False
        self._apply(scale)

    def zoom_by(self, factor: float, *, under_mouse: bool = False) -> None:
        """Zoom around the view's centre (keys, buttons) or the mouse pointer (wheel)."""
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse if under_mouse
                                     else QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.set_zoom(self.scale_factor() * factor)

    def rotate_view(self, degrees: int = 90) -> None:
        self._rotation = (self._rotation + degrees) % 360
        if self._fit:
            self.fit()
        else:
            self._apply(self.scale_factor())
        self.rotationChanged.emit(self._rotation)

    # -- events ----------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps, under_mouse=True)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        elif key == Qt.Key.Key_R:
            self.rotate_view(-90 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 90)
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()


class PhotoPane(QWidget):
    """An ImageView with a caption (date, kind, lesion) above it; loads its photo in a worker."""

    loaded = Signal(object)  # the ImageRecord shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self)
        self.caption.setObjectName("photoCaption")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)  # an error that stops a photo showing can be a sentence
        self.view = ImageView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        self._want: int | None = None
        self.wanted: records.ImageRecord | None = None  # the photo being loaded or shown

    def show_image(self, archive: Any, image: records.ImageRecord, caption: str) -> None:
        self._want = image.id
        self.wanted = image
        self.caption.setText(f"{caption} — loading…")

        def done(qimg: QImage) -> None:
            if self._want != image.id:
                return
            note = reduced_note(image, qimg)
            self.caption.setText(f"{caption} — {note}" if note else caption)
            self.view.set_image(qimg, image)
            self.loaded.emit(image)
            if image.preview_blob_id is None and getattr(archive, "writable", False):
                # First view of a photo imported without its screen preview: make and keep it
                # (encrypted, recorded once: make_preview re-reads the row) after it is shown.
                run_job(previews.make_preview, archive, image.id, on_done=lambda _id: None,
                        on_error=lambda _exc: None)  # the original stands in; verify names damage

        def failed(exc: BaseException) -> None:
            problem = damage_problem(exc)
            if problem is not None:
                blob_id = getattr(exc, "blob_id", None)
                part = "screen copy" if blob_id and blob_id != image.blob_id else "photo"
                damage.note(archive, image.id, part, problem)
            if self._want != image.id:
                return
            if problem is not None:  # damage.note above logged it
                text, short = damaged_message(problem), "stored copy damaged"
            else:
                text = short = f"This photo could not be shown: {exc}"
            self.caption.setText(f"{caption} — {short}")  # the sentence itself is in the view
            self.view.clear()  # never leave the previous photo on screen under this one's caption
            self.view.set_message(text)

        run_job(decode_for_view, archive, image, on_done=done, on_error=failed)

    def clear(self) -> None:
        self._want = None
        self.wanted = None
        self.caption.clear()
        self.view.clear()


class CompareView(QWidget):
    """Two photos side by side; zoom, pan and rotation of one follow the other."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.left, self.right = PhotoPane(self), PhotoPane(self)
        self.left.setObjectName("compareLeft")
        self.right.setObjectName("compareRight")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.left)
        layout.addWidget(self.right)
        self._syncing = False
        for a, b in ((self.left.view, self.right.view), (self.right.view, self.left.view)):
            a.zoomChanged.connect(lambda _s, a=a, b=b: self._sync(a, b))
            a.rotationChanged.connect(lambda _r, a=a, b=b: self._sync(a, b))
            a.horizontalScrollBar().valueChanged.connect(lambda _v, a=a, b=b: self._sync_scroll(a, b))
            a.verticalScrollBar().valueChanged.connect(lambda _v, a=a, b=b: self._sync_scroll(a, b))

    def _sync(self, src: ImageView, dst: ImageView) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            dst._rotation = src.rotation()
            if src._fit:
                dst.fit()
            else:
                dst.set_zoom(src.scale_factor())
            self._sync_scroll(src, dst, force=True)
        finally:
            self._syncing = False

    def _sync_scroll(self, src: ImageView, dst: ImageView, force: bool = False) -> None:
        if self._syncing and not force:
            return
        was, self._syncing = self._syncing, True
        try:
            for s, d in ((src.horizontalScrollBar(), dst.horizontalScrollBar()),
                         (src.verticalScrollBar(), dst.verticalScrollBar())):
                span = s.maximum() - s.minimum()
                frac = (s.value() - s.minimum()) / span if span else 0.5
                d.setValue(round(d.minimum() + frac * (d.maximum() - d.minimum())))
        finally:
            self._syncing = was

    def show_pair(self, archive: Any, first: records.ImageRecord, second: records.ImageRecord,
                  captions: tuple[str, str]) -> None:
        self.left.show_image(archive, first, captions[0])
        self.right.show_image(archive, second, captions[1])

    def clear(self) -> None:
        self.left.clear()
        self.right.clear()

    def centre_point(self, view: ImageView) -> QPointF:
        return view.mapToScene(view.viewport().rect().center())
