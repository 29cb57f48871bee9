"""Lazy thumbnails: decrypted in worker threads into a bounded in-memory cache.

Views ask :meth:`ThumbnailLoader.get` while painting; a miss queues the image (newest request
first, so what is on screen now wins over what scrolled past) and the view repaints when
:attr:`ThumbnailLoader.loaded` fires. Decryption and JPEG decoding run in the loader's own
QThreadPool; only the finished QImage crosses to the GUI thread, where it becomes a QPixmap.
Nothing is written to disk. :meth:`ThumbnailLoader.clear` (on lock) drops every pixmap and
forgets queued work; results of work already running are discarded by generation number.

A thumbnail that cannot be read is remembered in :attr:`ThumbnailLoader.failed` (image id →
:class:`ThumbFailure`) and never requested again until the next lock, so scrolling past it does
not retry. When the cause is a damaged stored copy (``BlobIntegrityError``: missing, truncated or
altered file) the failure says so, and :data:`damage` (the session's record of damaged photos,
also fed by the viewer) tells the side panel. Problems are the blob store's plain phrases
("its file is missing", "chunk 1 of 1 fails authentication"): never patient data.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PIL import Image
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from .. import log
from ..archive import records
from ..errors import ArchiveLocked, BlobIntegrityError, NotFound
from ..ingest.picture import decode_upright

THUMB_SIDE = 144

def damaged_advice(several: bool = False) -> str:
    """What to do about damaged stored copies (of one photo, or of ``several``)."""
    return ("Ask the practice's DermArchive administrator to run Verify (dermarchive verify) "
            f"and restore {'them' if several else 'it'} from the backup.")


DAMAGED_ADVICE = damaged_advice()


def damaged_message(problem: str) -> str:
    """The plain sentence shown wherever a photo's stored copy turned out to be damaged."""
    return f"The stored copy of this photo is damaged ({problem}). {DAMAGED_ADVICE}"


def damage_problem(exc: BaseException) -> str | None:
    """The plain problem when ``exc`` means a stored copy is damaged or gone, else None."""
    if isinstance(exc, BlobIntegrityError):
        return exc.problem
    if isinstance(exc, NotFound):
        return "its stored data is no longer in the catalogue"
    return None


@dataclass(frozen=True)
class ThumbFailure:
    """Why a thumbnail is not shown: ``damaged`` when the stored copy itself is at fault."""

    problem: str
    damaged: bool


class DamageLog(QObject):
    """Photos found damaged this session, per open archive: image id → {part: problem}.

    Parts are "photo" (the original), "screen copy" (the preview) and "thumbnail". Held weakly
    per archive object, so unlocking (a new Archive) starts afresh. ``found(image_id)`` fires
    when something new is noted, so panels showing that photo can say so at once.
    """

    found = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._by_archive: weakref.WeakKeyDictionary[Any, dict[int, dict[str, str]]] = weakref.WeakKeyDictionary()

    def note(self, archive: Any, image_id: int, part: str, problem: str) -> None:
        if archive is None:
            return
        parts = self._by_archive.setdefault(archive, {}).setdefault(image_id, {})
        if parts.get(part) != problem:
            parts[part] = problem
            log.gui.warning("image %s: stored %s is damaged", image_id, part)
            self.found.emit(image_id)

    def problems(self, archive: Any, image_id: int) -> dict[str, str]:
        if archive is None:
            return {}
        return dict(self._by_archive.get(archive, {}).get(image_id, {}))

    def count(self, archive: Any) -> int:
        return len(self._by_archive.get(archive, {})) if archive is not None else 0


damage = DamageLog()


class PixmapCache:
    """LRU of QPixmaps bounded by bytes (width × height × 4)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[int, QPixmap] = OrderedDict()

    def get(self, key: int) -> QPixmap | None:
        pix = self._items.get(key)
        if pix is not None:
            self._items.move_to_end(key)
        return pix

    def put(self, key: int, pix: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= _cost(old)
        self._items[key] = pix
        self.bytes += _cost(pix)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _k, dropped = self._items.popitem(last=False)
            self.bytes -= _cost(dropped)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items


def _cost(pix: QPixmap) -> int:
    return pix.width() * pix.height() * 4


class _Signals(QObject):
    done = Signal(int, int, QImage, object)  # generation, image id, image, ThumbFailure or None


class _Work(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:  # worker thread: no widgets, no pixmaps
        while True:
            item = self.loader._next()
            if item is None:
                return
            generation, archive, image = item
            qimg, failure = QImage(), None
            try:
                qimg = _decode(records.image_bytes(archive, image, "thumb"), self.loader.pixel_side)
                if qimg.isNull():
                    failure = ThumbFailure("the thumbnail picture cannot be decoded", True)
            except Exception as exc:  # noqa: BLE001 - locked meanwhile, or a damaged blob: show a placeholder
                problem = damage_problem(exc)
                if problem is not None:
                    failure = ThumbFailure(problem, True)
                elif isinstance(exc, ArchiveLocked):
                    failure = ThumbFailure("the archive was locked", False)
                else:
                    failure = ThumbFailure(f"it could not be read ({type(exc).__name__})", False)
                log.gui.info("thumbnail of image %s not loaded (%s)", image.id, type(exc).__name__)
            self.loader._signals.done.emit(generation, image.id, qimg, failure)


# Decoders for stored pictures (DESIGN §2: Pillow opens an allow-list; stored copies are JPEG, MPO
# or PNG, and older imports may hold TIFF or WebP).
DECODED_FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "WEBP")


# The size policy (ingest.picture): the viewer shows at most this many pixels (more than any
# screen; a 200 MP photo is draft-decoded at 1/2 scale instead of taking ~1.4 GB as a QImage).
VIEW_MAX_PIXELS = 50_000_000


def decode_image(data: bytes, max_side: int | None = None, *, orient: bool = True,
                 orientation: int = 1) -> QImage:
    """Decode stored bytes to a QImage, upright (the one orientation rule of
    ``ingest.picture``; ``orientation`` is the catalogue's value; not applied when ``orient`` is
    False), at most ``max_side`` (else :data:`VIEW_MAX_PIXELS`).

    Worker threads must not use Qt's image readers: QImageReader on a QBuffer made in Python calls
    back into Python (for the buffer's virtual methods) while holding Qt's plugin-loader lock, and
    another thread holding the GIL while waiting for that lock deadlocks both. Pillow decodes
    without the GIL and without Qt; the pixels are copied into a QImage that owns them.
    Raises ``ValueError`` (``PictureError``) for data that is not a decodable picture.
    """
    decoded = decode_upright(data, recorded=orientation, max_side=max_side,
                             max_pixels=None if max_side else VIEW_MAX_PIXELS,
                             formats=DECODED_FORMATS, orient=orient)
    return _to_qimage(decoded.image)


def _to_qimage(img: Image.Image) -> QImage:
    alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if img.mode != ("RGBA" if alpha else "RGB"):
        img = img.convert("RGBA" if alpha else "RGB")
    fmt = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888
    pixels = img.tobytes()
    # Converting makes a copy that owns its pixels, in the format QPixmap uses as it is, so the GUI
    # thread's QPixmap.fromImage is free (it cost ~25 ms for a 12 MP photo in RGB888).
    native = QImage.Format.Format_ARGB32_Premultiplied if alpha else QImage.Format.Format_RGB32
    return QImage(pixels, img.width, img.height, img.width * (4 if alpha else 3), fmt).convertToFormat(native)


def _decode(data: bytes, side: int = THUMB_SIDE) -> QImage:
    """Decode at tile size (JPEG decoders scale while decoding, which is cheaper than after)."""
    try:
        return decode_image(data, side, orient=False)  # thumbnails are stored upright, without EXIF
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return QImage()  # null: "the thumbnail picture cannot be decoded"


class ThumbnailLoader(QObject):
    """Requests thumbnails by image id; emits ``loaded(image_id)`` when one is in the cache."""

    loaded = Signal(int)

    def __init__(self, archive: Any = None, *, cache_bytes: int = 96 * 1024 * 1024, threads: int = 1,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.cache = PixmapCache(cache_bytes)
        self.failed: dict[int, ThumbFailure] = {}  # never requested again until clear()
        self.attempts: Counter[int] = Counter()  # image id → times queued for decoding
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, Any] = OrderedDict()  # newest last; popped from the end
        self._in_flight: set[int] = set()
        self._workers = 0
        self._generation = 0
        self._signals = _Signals()
        # Sharp tiles on high-DPI screens: decode at device pixels, paint at logical size.
        screen = QGuiApplication.primaryScreen()
        self.pixel_ratio = screen.devicePixelRatio() if screen is not None else 1.0
        self.pixel_side = int(round(THUMB_SIDE * self.pixel_ratio))
        self._signals.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)

    # -- GUI thread ------------------------------------------------------------------------
    def get(self, image: records.ImageRecord) -> QPixmap | None:
        """The cached pixmap, or None after queueing it (unless it failed before)."""
        pix = self.cache.get(image.id)
        if pix is None and image.id not in self.failed and self.archive is not None:
            self.request(image)
        return pix

    def failure(self, image_id: int) -> ThumbFailure | None:
        """Why this thumbnail is not shown (it will not be tried again), or None."""
        return self.failed.get(image_id)

    def request(self, image: records.ImageRecord) -> None:
        with self._lock:
            if image.id in self._in_flight:
                return
            if image.id not in self._pending:
                self.attempts[image.id] += 1
            self._pending.pop(image.id, None)
            self._pending[image.id] = (self.archive, image)
            start = self._workers < self.pool.maxThreadCount()
            if start:
                self._workers += 1
        if start:
            self.pool.start(_Work(self))

    def forget_pending(self) -> None:
        """Drop queued requests (the view changed); running ones finish into the cache."""
        with self._lock:
            self._pending.clear()

    def clear(self) -> None:
        """Lock: forget the archive, queued work and every decrypted pixmap."""
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._in_flight.clear()
        self.archive = None
        self.cache.clear()
        self.failed.clear()
        self.attempts.clear()

    def set_archive(self, archive: Any) -> None:
        self.clear()
        self.archive = archive

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._in_flight)

    def _on_done(self, generation: int, image_id: int, qimg: QImage, failure: ThumbFailure | None) -> None:
        with self._lock:
            self._in_flight.discard(image_id)
            if generation != self._generation:
                return
        if failure is not None:  # the worker names every failure, a null image included
            self.failed[image_id] = failure
            if failure.damaged:
                damage.note(self.archive, image_id, "thumbnail", failure.problem)
        else:
            pix = QPixmap.fromImage(qimg)
            pix.setDevicePixelRatio(self.pixel_ratio)
            self.cache.put(image_id, pix)
        self.loaded.emit(image_id)

    # -- worker threads --------------------------------------------------------------------
    def _next(self) -> tuple[int, Any, records.ImageRecord] | None:
        with self._lock:
            if not self._pending:
                self._workers -= 1
                return None
            image_id, (archive, image) = self._pending.popitem(last=True)
            self._in_flight.add(image_id)
            return self._generation, archive, image
