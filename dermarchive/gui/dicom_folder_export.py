"""File ▸ Export DICOM to folder/USB…: the patient's photos (or the selected ones) as DICOM files
with a DICOMDIR, written into a new folder inside the one chosen (a USB stick's root is rarely
empty), in a worker with progress and cancel. The DICOM export itself is
:func:`dermarchive.dicom.export.export_dicom` (the ``dicom`` command uses it too)."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from ..dicom.export import export_dicom
from . import messages
from .jobs import Job, run_job
from .words import plural


def target_folder(chosen: Path, nhi: str, day: date | None = None) -> Path:
    """A new folder inside ``chosen``: 'DICOM ZZZ0016 2026-12-03', numbered if that exists."""
    base = f"DICOM {nhi} {(day or date.today()).isoformat()}"
    out, n = chosen / base, 2
    while out.exists():
        out, n = chosen / f"{base} ({n})", n + 1
    return out


def export_to_folder(parent: QWidget, archive: Any, patient: Any, image_ids: list[int] | None) -> Job | None:
    start = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    chosen = QFileDialog.getExistingDirectory(parent, "Export DICOM to folder or USB stick", start)
    if not chosen:
        return None
    out = target_folder(Path(chosen), patient.nhi)

    def done(summary: dict[str, Any]) -> None:
        messages.info(parent, f"Exported {plural(summary['count'], 'photo')} as DICOM, with a DICOMDIR, to {out}.")

    return run_job(partial(export_dicom, image_ids=image_ids), archive, patient.id, out, parent=parent,
                   title="Exporting DICOM…", with_progress=True, on_done=done,
                   on_error=lambda exc: messages.show_error(parent, exc))
