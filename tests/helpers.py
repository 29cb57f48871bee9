"""Small helpers for core tests: store a real corpus photo as an image row, snapshot a folder,
require a peer tool."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from dermarchive.archive import Archive, records
from dermarchive.ingest.thumbnails import make_thumbnails_from_bytes


def store_photo(archive: Archive, patient_id: int, photo: Path, *, visit_date: str = "2026-03-01",
                kind: str = "clinical", lesion_id: int | None = None) -> int:
    """Store a real photo file's bytes (as they are) with thumbnails; returns the image id."""
    data = photo.read_bytes()
    thumbs = make_thumbnails_from_bytes(data)
    visit_id = records.add_visit(archive, patient_id, visit_date)
    with archive.transaction() as tx:
        blob = archive.store_blob(tx, data)
        thumb = archive.store_blob(tx, thumbs.thumb)
        preview = archive.store_blob(tx, thumbs.preview)
        return records.insert_image(archive, tx, visit_id=visit_id, kind=kind, blob_id=blob, width=1,
                                    height=1, original_format="JPEG", stored_format="JPEG",
                                    lesion_id=lesion_id, thumb_blob_id=thumb, preview_blob_id=preview)


def folder_state(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file below ``folder`` with its SHA-256 and mtime (ns)."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def require_tool(command: str, install: str) -> None:
    """A test that needs a system tool (a peer judge such as dciodvfy, or jpegtran) skips with the
    reason where it is absent, so the README's test command passes on a fresh machine; in CI
    (``CI`` set, where .ci/setup-*.sh installed it) its absence is a failure, never a skip."""
    if shutil.which(command) is not None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{command} is required in CI (.ci/setup-*.sh installs it: {install})")
    pytest.skip(f"{command} is not installed ({install})")
