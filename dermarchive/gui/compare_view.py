"""Compare two photos of a lesion: side by side, or laid over each other (issue 17).

Modes: side by side (synchronised zoom and pan, :class:`~dermarchive.gui.viewer.CompareView`),
swipe (a divider dragged across: earlier photo left of it, later photo right), blink (the two
alternate), opacity (a slider fades the later photo over the earlier one) and difference (where
the two differ, brighter). "Align" lays the later photo onto the earlier one first
(:func:`dermarchive.workflows.compare.compare_images`, in a worker via ``run_job``) and says how
well that worked; when it fails, the plain pair stays and a message says why. Without alignment
the later photo is fitted into the earlier one's frame. Nothing here changes a stored photo.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QHBoxLayout, QLabel, QRadioButton, QSlider, QStackedWidget,
                               QVBoxLayout, QWidget)

from ..archive import records
from ..errors import Cancelled
from .jobs import run_job
from .viewer import CompareView, decode_for_view

MODES = ("side", "swipe", "blink", "opacity", "difference")
MODE_LABELS = {"side": "Side by side", "swipe": "Swipe", "blink": "Blink", "opacity": "Opacity",
               "difference": "Difference"}
DISPLAY_SIDE = 2400  # overlay pictures are kept at about screen size: full resolution adds nothing here
BLINK_MS = 700


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_array(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def display_pair(fixed: np.ndarray, moving: np.ndarray, aligned: bool) -> tuple[QImage, QImage]:
    """Worker thread: both pictures at display size in the earlier photo's frame.

    ``aligned``: ``moving`` is already warped into ``fixed``'s frame. Otherwise it is fitted (aspect
    kept, centred) into that frame: the plain pair."""
    import cv2

    h, w = fixed.shape[:2]
    f = min(1.0, DISPLAY_SIDE / max(w, h))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    a = cv2.resize(fixed, size, interpolation=cv2.INTER_AREA) if f < 1 else fixed
    if aligned:
        b = cv2.resize(moving, size, interpolation=cv2.INTER_AREA) if f < 1 else moving
    else:
        mh, mw = moving.shape[:2]
        g = min(size[0] / mw, size[1] / mh)
        inner = (max(1, round(mw * g)), max(1, round(mh * g)))
        b = np.zeros((size[1], size[0], 3), np.uint8)
        x0, y0 = (size[0] - inner[0]) // 2, (size[1] - inner[1]) // 2
        b[y0:y0 + inner[1], x0:x0 + inner[0]] = cv2.resize(moving, inner, interpolation=cv2.INTER_AREA)
    return to_qimage(a), to_qimage(b)


def difference_image(a: QImage, b: QImage) -> QImage:
    """|A − B| per pixel, stretched so a faint change is visible (black: no difference)."""
    x, y = to_array(a).astype(np.int16), to_array(b).astype(np.int16)
    d = np.abs(x - y).max(axis=2).astype(np.float32)
    valid = y.sum(axis=2) > 0  # outside the later photo: nothing to compare
    top = float(np.percentile(d[valid], 99.5)) if valid.any() else 1.0
    # a floor on the stretch: JPEG noise and resampling blur stay dark, a real change is bright
    out = np.clip(d * (255.0 / max(top, 48.0)), 0, 255).astype(np.uint8)
    out[~valid] = 0
    return to_qimage(np.repeat(out[..., None], 3, axis=2))


class OverlayCanvas(QWidget):
    """Both photos in one frame: swipe, blink, opacity or difference. Wheel zooms, drag pans
    (in swipe mode a drag near the divider moves the divider); 0 fits."""

    swipeChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overlayCanvas")
        self.setAccessibleName("Photos laid over each other")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 150)
        self.mode = "swipe"
        self.a: QImage | None = None
        self.b: QImage | None = None
        self._diff: QImage | None = None
        self.swipe = 0.5      # divider position, fraction of the picture's width
        self.opacity = 0.5    # of the later photo
        self.showing_later = False  # blink state
        self.zoom = 1.0       # 1 = fit
        self.pan = QPointF(0, 0)
        self._drag: tuple[str, QPointF] | None = None
        self.blink_timer = QTimer(self)
        self.blink_timer.setInterval(BLINK_MS)
        self.blink_timer.timeout.connect(self._blink)

    def set_pair(self, a: QImage | None, b: QImage | None) -> None:
        self.a, self.b, self._diff = a, b, None
        self.update()

    def clear(self) -> None:
        self.set_pair(None, None)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "blink":
            self.blink_timer.start()
        else:
            self.blink_timer.stop()
        self.update()

    def set_swipe(self, frac: float) -> None:
        self.swipe = min(1.0, max(0.0, frac))
        self.swipeChanged.emit(self.swipe)
        self.update()

    def set_opacity(self, value: float) -> None:
        self.opacity = min(1.0, max(0.0, value))
        self.update()

    def _blink(self) -> None:
        if not self.isVisible():  # the page was left in blink mode: nothing to repaint
            return
        self.showing_later = not self.showing_later
        self.update()

    def difference(self) -> QImage | None:
        if self._diff is None and self.a is not None and self.b is not None:
            self._diff = difference_image(self.a, self.b)
        return self._diff

    # -- geometry ------------------------------------------------------------------------------
    def picture_rect(self) -> QRectF:
        """Where the picture is drawn, in widget coordinates."""
        if self.a is None:
            return QRectF()
        w, h = self.a.width(), self.a.height()
        fit = min(self.width() / w, self.height() / h)
        s = fit * self.zoom
        cx = self.width() / 2 + self.pan.x()
        cy = self.height() / 2 + self.pan.y()
        return QRectF(cx - w * s / 2, cy - h * s / 2, w * s, h * s)

    def divider_x(self) -> float:
        r = self.picture_rect()
        return r.left() + r.width() * self.swipe

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 40))
        if self.a is None or self.b is None:
            p.setPen(QColor("white"))
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), "Loading the two photos…")
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        r = self.picture_rect()
        src = QRectF(0, 0, self.a.width(), self.a.height())
        if self.mode == "difference":
            diff = self.difference()
            if diff is not None:
                p.drawImage(r, diff, src)
        elif self.mode == "blink":
            p.drawImage(r, self.b if self.showing_later else self.a, src)
            self._label(p, "Later" if self.showing_later else "Earlier")
        elif self.mode == "opacity":
            p.drawImage(r, self.a, src)
            p.setOpacity(self.opacity)
            p.drawImage(r, self.b, src)
            p.setOpacity(1.0)
        else:  # swipe
            x = self.divider_x()
            p.save()
            p.setClipRect(QRectF(r.left(), r.top(), x - r.left(), r.height()))
            p.drawImage(r, self.a, src)
            p.setClipRect(QRectF(x, r.top(), r.right() - x, r.height()))
            p.drawImage(r, self.b, src)
            p.restore()
            p.setPen(QPen(QColor("white"), 2))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setBrush(QColor("white"))
            p.drawEllipse(QPointF(x, r.center().y()), 9, 9)

    def _label(self, p: QPainter, text: str) -> None:
        p.setPen(QColor("white"))
        box = QRectF(12, 12, 120, 28)
        p.fillRect(box, QColor(0, 0, 0, 170))
        p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)

    # -- interaction ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self.mode == "swipe" and abs(pos.x() - self.divider_x()) < 14:
            self._drag = ("divider", pos)
        else:
            self._drag = ("pan", pos)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None:
            return
        kind, last = self._drag
        pos = event.position()
        if kind == "divider":
            r = self.picture_rect()
            if r.width() > 0:
                self.set_swipe((pos.x() - r.left()) / r.width())
        else:
            self.pan += pos - last
            self.update()
        self._drag = (kind, pos)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25 ** steps, event.position())
        event.accept()

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        at = at if at is not None else QPointF(self.width() / 2, self.height() / 2)
        new = min(16.0, max(1.0, self.zoom * factor))
        factor = new / self.zoom
        centre = QPointF(self.width() / 2, self.height() / 2) + self.pan
        self.pan += (centre - at) * (factor - 1)
        self.zoom = new
        if new == 1.0:
            self.pan = QPointF(0, 0)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(0.8)
        elif key == Qt.Key.Key_0:
            self.zoom, self.pan = 1.0, QPointF(0, 0)
            self.update()
        else:
            super().keyPressEvent(event)


class LesionCompareView(QWidget):
    """The compare page: a mode bar, "Align", a slider (swipe divider or opacity), the quality
    line, and either the side-by-side panes or the overlay canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lesionCompareView")
        self.side = CompareView(self)
        self.left, self.right = self.side.left, self.side.right  # as CompareView, for callers
        self.canvas = OverlayCanvas(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.side)
        self.stack.addWidget(self.canvas)

        bar = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for i, mode in enumerate(MODES):
            button = QRadioButton(MODE_LABELS[mode], self)
            button.setObjectName(f"mode_{mode}")
            button.setAccessibleName(f"Compare mode: {MODE_LABELS[mode]}")
            self.mode_group.addButton(button, i)
            self.mode_buttons[mode] = button
            bar.addWidget(button)
        self.mode_buttons["side"].setChecked(True)
        self.mode_group.idToggled.connect(lambda i, on: on and self.set_mode(MODES[i]))
        bar.addSpacing(12)
        bar.addStretch(1)
        self.align_box = QCheckBox("&Align", self)
        self.align_box.setObjectName("alignCheck")
        self.align_box.setAccessibleName("Align the later photo onto the earlier one")
        self.align_box.setToolTip("Lay the later photo onto the earlier one: same place, size and angle. "
                                  "Only the view changes; the stored photos do not.")
        self.align_box.toggled.connect(self._align_toggled)
        bar.addWidget(self.align_box)
        self.slider_label = QLabel("Divider", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("overlaySlider")
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setMinimumWidth(160)
        self.slider_label.setBuddy(self.slider)
        self.slider.valueChanged.connect(self._slider_moved)
        self.canvas.swipeChanged.connect(self._swipe_moved)
        # the slider and the alignment's quality on a second row: the page fits a narrow viewer
        second = QHBoxLayout()
        second.addWidget(self.slider_label)
        second.addWidget(self.slider, 1)
        self.quality = QLabel(self)
        self.quality.setObjectName("alignQuality")
        self.quality.setWordWrap(True)
        self.quality.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        second.addWidget(self.quality, 2)
        layout.addLayout(second)
        layout.addWidget(self.stack, 1)

        self.archive: Any = None
        self.first: records.ImageRecord | None = None
        self.second: records.ImageRecord | None = None
        self.comparison: Any = None           # workflows.compare.Comparison once aligned
        self.aligned_ok: bool | None = None    # None: not tried
        self._plain: tuple[QImage, QImage] | None = None
        self._aligned: tuple[QImage, QImage] | None = None
        self._token = 0
        self._align_job: Any = None
        self.set_mode("side")

    # -- content -------------------------------------------------------------------------------
    def show_pair(self, archive: Any, first: records.ImageRecord, second: records.ImageRecord,
                  captions: tuple[str, str]) -> None:
        self.clear()
        self.archive, self.first, self.second = archive, first, second
        self.comparison, self.aligned_ok = None, None
        self.side.show_pair(archive, first, second, captions)
        self._load_plain()
        if self.align_box.isChecked():
            self._run_alignment()

    def clear(self) -> None:
        self._token += 1
        if self._align_job is not None:
            self._align_job.cancel()  # leaving the pair: stop aligning it
            self._align_job = None
        self.side.clear()
        self.canvas.clear()
        self._plain = self._aligned = None
        self.comparison = None
        self.quality.setText("")

    def _load_plain(self) -> None:
        token, archive, first, second = self._token, self.archive, self.first, self.second

        def work() -> tuple[QImage, QImage]:
            a = to_array(decode_for_view(archive, first))
            b = to_array(decode_for_view(archive, second))
            return display_pair(a, b, aligned=False)

        def done(pair: tuple[QImage, QImage]) -> None:
            if token == self._token:
                self._plain = pair
                self._show_canvas_pair()

        run_job(work, on_done=done, on_error=lambda exc: self._failed(token, exc))

    def _failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            self.quality.setText(f"The photos could not be loaded: {exc}")

    def _align_toggled(self, on: bool) -> None:
        if on and self.first is not None and self._aligned is None and self.aligned_ok is None:
            self._run_alignment()
        self._show_canvas_pair()

    def _run_alignment(self) -> None:
        from ..workflows.compare import compare_images

        token, archive = self._token, self.archive
        assert self.first is not None and self.second is not None
        first_id, second_id = self.first.id, self.second.id
        self.quality.setText("Aligning the later photo onto the earlier one…")

        def work(progress: Any, cancelled: Any) -> Any:
            result = compare_images(archive, first_id, second_id, progress=progress, cancelled=cancelled)
            pair = display_pair(result.fixed, result.aligned if result.aligned is not None else result.moving,
                                aligned=result.aligned is not None)
            result.fixed = result.moving = result.aligned = None  # only display copies are kept
            return result, pair

        def done(out: Any) -> None:
            if token != self._token:
                return
            result, pair = out
            self.comparison = result
            reg = result.registration
            self.aligned_ok = reg.ok
            if reg.ok:
                self._aligned = pair
                self.quality.setText(f"Aligned: {reg.inliers} matching points, median error "
                                     f"{reg.residual_px:.1f} px ({reg.refined or 'features'}).")
            else:
                self.quality.setText(f"Could not align these photos ({reg.reason}); showing the plain pair.")
            self._show_canvas_pair()

        def failed(exc: BaseException) -> None:
            if token == self._token:
                self.aligned_ok = None  # may be tried again
                self.quality.setText("Aligning was cancelled." if isinstance(exc, Cancelled) else
                                     f"Could not align these photos: {exc}")

        def progress(done_steps: int, total: int, message: str) -> None:
            if token == self._token and message:
                self.quality.setText(f"{message}…")

        self._align_job = run_job(work, on_done=done, on_error=failed, on_progress=progress, with_progress=True,
                                  show_dialog=False)

    def _show_canvas_pair(self) -> None:
        pair = self._aligned if (self.align_box.isChecked() and self._aligned is not None) else self._plain
        if pair is not None:
            self.canvas.set_pair(*pair)

    # -- modes ---------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        if not self.mode_buttons[mode].isChecked():
            self.mode_buttons[mode].setChecked(True)  # comes back here through the group
            return
        self.mode = mode
        self.stack.setCurrentWidget(self.side if mode == "side" else self.canvas)
        if mode != "side":
            self.canvas.set_mode(mode)
        else:
            self.canvas.set_mode("swipe")
            self.canvas.blink_timer.stop()
        uses_slider = mode in ("swipe", "opacity")
        self.slider.setVisible(uses_slider)
        self.slider_label.setVisible(uses_slider)
        if mode == "swipe":
            self.slider_label.setText("&Divider")
            self.slider.setAccessibleName("Swipe divider position")
            self.slider.setValue(round(self.canvas.swipe * 100))
        elif mode == "opacity":
            self.slider_label.setText("O&pacity")
            self.slider.setAccessibleName("Opacity of the later photo")
            self.slider.setValue(round(self.canvas.opacity * 100))

    def _slider_moved(self, value: int) -> None:
        if self.mode == "swipe":
            self.canvas.set_swipe(value / 100)
        elif self.mode == "opacity":
            self.canvas.set_opacity(value / 100)

    def _swipe_moved(self, frac: float) -> None:
        if self.mode == "swipe" and self.slider.value() != round(frac * 100):
            self.slider.blockSignals(True)
            self.slider.setValue(round(frac * 100))
            self.slider.blockSignals(False)
