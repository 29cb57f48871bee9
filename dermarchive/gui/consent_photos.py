"""A visit's or an export's photos in a QListWidget, with thumbnails loaded in the background.

Shared by the consent editor (pick the consent-form photo), the withdrawal dialog ("essential for
care" checkboxes) and the export dialog (choose the photo to redact). Thumbnails come from the
shared :class:`~dermarchive.gui.thumbnails.ThumbnailLoader` (decrypted in memory, never on disk).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ..archive import records
from .thumbnails import ThumbnailLoader

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole
KIND_LABELS = {"clinical": "Clinical", "dermoscopic": "Dermoscopic", "consent-form": "Consent form",
               "other": "Other"}


def photo_caption(image: records.ImageRecord) -> str:
    when = records.parse_iso(image.taken_at)
    day = when.date() if when else date.fromisoformat(image.visit_date)
    return f"{KIND_LABELS.get(image.kind, image.kind)} · {day.day} {day:%b %Y}\nphoto {image.id}"


class PhotoList(QObject):
    """Fills ``widget`` with one item per image; icons appear as thumbnails finish loading."""

    def __init__(self, widget: QListWidget, archive: Any, images: list[records.ImageRecord],
                 *, checkable: bool = False, checked: set[int] | None = None) -> None:
        super().__init__(widget)
        self.widget = widget
        self.images = {i.id: i for i in images}
        self.items: dict[int, QListWidgetItem] = {}
        self.loader = ThumbnailLoader(archive, threads=1, cache_bytes=24 * 1024 * 1024, parent=self)
        self.loader.loaded.connect(self._loaded)
        icons_above = widget.viewMode() == QListWidget.ViewMode.IconMode
        align = (Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop if icons_above
                 else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for image in images:
            item = QListWidgetItem(photo_caption(image))
            item.setData(IMAGE_ID_ROLE, image.id)
            item.setTextAlignment(align)
            if checkable:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if image.id in (checked or set())
                                   else Qt.CheckState.Unchecked)
            widget.addItem(item)
            self.items[image.id] = item
            pix = self.loader.get(image)
            if pix is not None:
                item.setIcon(QIcon(pix))

    def _loaded(self, image_id: int) -> None:
        item, image = self.items.get(image_id), self.images.get(image_id)
        if item is not None and image is not None:
            pix = self.loader.cache.get(image_id)
            if pix is not None:
                item.setIcon(QIcon(pix))

    def checked_ids(self) -> set[int]:
        return {i for i, item in self.items.items() if item.checkState() == Qt.CheckState.Checked}

    def current_id(self) -> int | None:
        item = self.widget.currentItem()
        return None if item is None else int(item.data(IMAGE_ID_ROLE))

    def select(self, image_id: int | None) -> None:
        item = self.items.get(image_id) if image_id is not None else None
        if item is not None:
            self.widget.setCurrentItem(item)

    def stop(self) -> None:
        """Forget decrypted thumbnails and wait for the loader's worker (dialog closing)."""
        self.loader.clear()
        self.loader.pool.waitForDone(3000)
