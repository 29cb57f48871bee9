"""Dragging photos from the timeline onto a lesion of the lesion list files them under it.

The timeline's model puts the dragged photos' ids in :data:`IMAGE_IDS_MIME`; :class:`LesionDropTarget`
watches the lesion list and, on a drop onto a lesion, hands the ids and the lesion to a callback
(the main window opens "Move to lesion" with both filled in, so the move still has its reason).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QTableView

IMAGE_IDS_MIME = "application/x-dermarchive-image-ids"


def image_ids_mime(image_ids: list[int]) -> QMimeData:
    data = QMimeData()
    data.setData(IMAGE_IDS_MIME, json.dumps(image_ids).encode())
    return data


def image_ids_of(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(IMAGE_IDS_MIME):
        return []
    try:
        ids = json.loads(bytes(mime.data(IMAGE_IDS_MIME).data()).decode())
    except ValueError:
        return []
    return [i for i in ids if isinstance(i, int)]


class LesionDropTarget(QObject):
    """Accepts dragged photos on a row of ``table`` whose lesion ``lesion_at(row)`` returns."""

    def __init__(self, table: QTableView, lesion_at: Callable[[int], int | None],
                 dropped: Callable[[list[int], int], None]) -> None:
        super().__init__(table)
        self.table, self.lesion_at, self.dropped = table, lesion_at, dropped
        table.setAcceptDrops(True)
        table.viewport().setAcceptDrops(True)
        table.viewport().installEventFilter(self)

    def _lesion_under(self, event: QDropEvent) -> int | None:
        index = self.table.indexAt(event.position().toPoint())
        return self.lesion_at(index.row()) if index.isValid() else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, (QDragEnterEvent, QDragMoveEvent))
            ok = bool(image_ids_of(event.mimeData())) and (
                event.type() == QEvent.Type.DragEnter or self._lesion_under(event) is not None)
            event.setAccepted(ok)
            if ok:
                event.acceptProposedAction()
            return True
        if event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            ids, lesion = image_ids_of(event.mimeData()), self._lesion_under(event)
            if ids and lesion is not None:
                event.acceptProposedAction()
                self.dropped(ids, lesion)
            return True
        return super().eventFilter(watched, event)
