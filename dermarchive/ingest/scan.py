"""Scan a phone folder into an :class:`ImportPlan`: every file with a status and, when it is not
imported, a plain-language reason.

Statuses: ``new`` (will be imported), ``already-imported`` (the same original file was imported
before: its keyed fingerprint is in the catalogue), ``duplicate`` (same bytes as another file of
this folder, named in ``duplicate_of``), ``skipped`` (not a photo: video, Live-Photo movie, edit
sidecar, text, trash, iCloud placeholder, hidden or system file) and ``rejected`` (looks like a
photo but cannot be used: empty, truncated/still syncing, corrupt, not what its name says,
decompression bomb, damaged EXIF, unsupported format).

Scanning reads each candidate once (fingerprint, structure walk, header and EXIF; no full decode)
on a small thread pool, so it is cheap enough to fill the wizard's review table. Memory is bounded
by the pool: only the files being looked at are in memory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import log
from ..errors import Cancelled, InvalidInput
from .clean import check
from .metadata import (DECODE_ERRORS, FULL_DECODE_CAP, PhotoMetadata, UnreadablePhoto, damaged,
                       gif_claimed_pixels, read_metadata, sniff)

Progress = Callable[[int, int, str], None]
CancelFlag = Callable[[], bool]

STATUSES = ("new", "already-imported", "duplicate", "skipped", "rejected")

PHOTO_EXT = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".mpo": "JPEG",
             ".heic": "HEIC", ".heif": "HEIC", ".hif": "HEIC", ".png": "PNG", ".tif": "TIFF",
             ".tiff": "TIFF", ".webp": "WEBP"}
VIDEO_EXT = {".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".webm", ".mts", ".m2ts"}
SIDECAR_EXT = {".aae": "an Apple Photos edit file (the photo itself is imported, without the edit)",
               ".xmp": "a metadata sidecar file", ".json": "a metadata file (e.g. from Google Photos)",
               ".thm": "a video thumbnail file"}
UNSUPPORTED_EXT = {".gif": "GIF", ".bmp": "BMP", ".avif": "AVIF", ".jxl": "JPEG XL", ".psd": "Photoshop",
                   ".svg": "SVG"}
# Camera RAW files, every maker's: one reason for all, with what to do (issue 14: .crw/.mrw/.x3f
# were "not a photo" while .cr2/.nef were "not supported").
RAW_EXT = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf",
           ".mrw", ".x3f", ".pef", ".ptx", ".srw", ".erf", ".kdc", ".dcr", ".dcs", ".k25", ".mos", ".mef",
           ".3fr", ".fff", ".iiq", ".rwl", ".raw", ".rwz", ".gpr", ".bay", ".cap", ".eip", ".ari", ".cs1"}
RAW_REASON = ("it is a camera RAW file, which DermArchive does not import; export it as JPEG from the "
              "camera or its photo software (or set the camera to save JPEG) and import that")
MAX_FILE_BYTES = 256_000_000  # a 200 MP JPEG is ~60 MB; anything this big is not a phone photo
# Thumbnails a keyed scan keeps for the import (about 15–30 KB a photo): past this many bytes the
# rest of a huge folder is decoded again at import, so a plan's memory stays bounded.
THUMBS_KEPT_BYTES = 32_000_000
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store", ".nomedia"}
FORMAT_WORDS = {"JPEG": "a JPEG", "HEIC": "an HEIC", "PNG": "a PNG", "TIFF": "a TIFF", "WEBP": "a WebP",
                "GIF": "a GIF", "BMP": "a BMP", "VIDEO": "a video", "AVIF": "an AVIF"}


@dataclass
class PlanEntry:
    """One file of the folder. ``metadata`` is set for photos that could be read."""

    path: Path                       # absolute
    rel: str                         # relative to the scanned folder, with '/'
    status: str
    reason: str = ""
    duplicate_of: str | None = None
    metadata: PhotoMetadata | None = None
    size: int = 0
    mtime: float | None = None
    fingerprint: str | None = field(default=None, repr=False)  # keyed HMAC of the bytes (SHA-256 without archive)
    existing_image_id: int | None = None                     # for already-imported
    stat_key: tuple[int, int] | None = field(default=None, repr=False)  # (size, mtime_ns) when read
    # The grid thumbnail the scan's check made (JPEG, keyed scans): the import stores it instead
    # of decoding the photo a second time, and drops it once used.
    thumb: bytes | None = field(default=None, repr=False)

    @property
    def is_photo(self) -> bool:
        return self.metadata is not None

    def as_json(self) -> dict[str, Any]:
        meta = self.metadata
        data: dict[str, Any] = {"path": self.rel, "status": self.status, "reason": self.reason,
                                "duplicate_of": self.duplicate_of, "size": self.size}
        if meta is not None:
            data.update(meta.as_json())
        else:
            data.update({"taken_at": None, "device": "", "orientation": None, "has_location": False})
        if self.existing_image_id is not None:
            data["existing_image_id"] = self.existing_image_id
        return data


@dataclass
class ImportPlan:
    folder: Path
    entries: list[PlanEntry]
    keyed: bool = False  # fingerprints are the archive's keyed HMACs

    def new_entries(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.status == "new"]

    def by_status(self, status: str) -> list[PlanEntry]:
        return [e for e in self.entries if e.status == status]

    def duplicate_fingerprints(self) -> dict[str, str]:
        """Copies of another file of this folder (rel → keyed fingerprint): removing originals
        takes them too once that file's stored copy is verified."""
        return {e.rel: e.fingerprint for e in self.by_status("duplicate") if e.fingerprint}

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for e in self.entries if e.status == s) for s in STATUSES}

    def entry(self, rel: str) -> PlanEntry:
        for e in self.entries:
            if e.rel == rel:
                return e
        raise KeyError(rel)

    def as_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "counts": self.counts(), "entries": [e.as_json() for e in self.entries]}


# -- classification by name -------------------------------------------------------------------
def _skip_reason(rel: str, photo_stems: set[str]) -> str | None:
    parts = rel.split("/")
    name = parts[-1]
    lower = name.lower()
    ext = os.path.splitext(lower)[1]
    if any(p.startswith(".") for p in parts[:-1]):
        return "it is in a hidden folder (phone caches and trash live there)"
    if lower.startswith(".trashed-"):
        return "it is in the phone's trash (deleted on the phone)"
    if lower.endswith(".icloud"):
        return "it is an iCloud placeholder: the photo is not downloaded to this computer yet"
    if lower in SYSTEM_NAMES:
        return "it is a system file, not a photo"
    if name.startswith("."):
        return "it is a hidden file"
    if ext in VIDEO_EXT:
        stem = "/".join(parts[:-1] + [os.path.splitext(name)[0].lower()])
        if stem in photo_stems:
            return "it is the movie part of a Live Photo (the still photo is imported)"
        return "it is a video; DermArchive imports photos only"
    if ext in SIDECAR_EXT:
        return f"it is {SIDECAR_EXT[ext]}"
    return None


def read_with_stat(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its stat taken from the same open file."""
    with open(path, "rb") as fh:
        return fh.read(), os.fstat(fh.fileno())


def _look(path: Path, rel: str, fingerprint: Callable[[bytes], str], keep_thumb: bool = False) -> PlanEntry:
    """Read one candidate file and decide what it is (runs on the pool)."""
    ext = os.path.splitext(rel.lower())[1]
    named = PHOTO_EXT.get(ext)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a pipe or device would block or never end
            return PlanEntry(path, rel, "skipped", "it is not a regular file")
        if named is None or info.st_size > MAX_FILE_BYTES:
            with open(path, "rb") as fh:  # not a photo by name, or huge: the head decides
                data, st = fh.read(4096), os.fstat(fh.fileno())
        else:
            data, st = read_with_stat(path)
    except OSError as exc:
        return PlanEntry(path, rel, "rejected", f"it cannot be read ({exc.strerror or 'read error'})")
    entry = PlanEntry(path, rel, "new", size=st.st_size, mtime=st.st_mtime,
                      stat_key=(st.st_size, st.st_mtime_ns))
    if named is not None and st.st_size > MAX_FILE_BYTES:
        entry.status = "rejected"
        entry.reason = f"it is {st.st_size // 1_000_000} MB, far larger than any phone photo"
        return entry
    if not data:
        entry.status, entry.reason = "rejected", ("it is empty (0 bytes): the phone or cloud folder may "
                                                  "still be syncing it")
        return entry
    actual = sniff(data[:32])
    if ext in RAW_EXT:
        entry.status, entry.reason = "rejected", RAW_REASON
        return entry
    if ext in UNSUPPORTED_EXT or actual in ("GIF", "BMP", "AVIF") and named is None:
        entry.status = "rejected"
        what = UNSUPPORTED_EXT.get(ext) or actual
        entry.reason = f"{what} files are not supported; save the photo as JPEG, HEIC or PNG"
        if actual == "GIF" and gif_claimed_pixels(data) > FULL_DECODE_CAP:
            entry.reason = (f"it claims {gif_claimed_pixels(data) / 1e9:.1f} gigapixels (a decompression bomb), "
                            "and GIF is not a photo format DermArchive imports")
        return entry
    if named is None:
        if actual in PHOTO_EXT.values():
            entry.status = "rejected"
            entry.reason = (f"it is {FORMAT_WORDS[actual]} picture but its name ends in '{ext or '(nothing)'}'; "
                            "rename it and scan again")
        else:
            entry.status = "skipped"
            entry.reason = f"it is not a photo ({ext or 'no'} file)"
        return entry
    if actual != named:
        entry.status = "rejected"
        found = FORMAT_WORDS.get(actual or "", "not a picture")
        entry.reason = (f"its name says {named} but it is {found}" +
                        (" file" if actual else " file (damaged, or not a photo)"))
        return entry
    try:
        entry.metadata = read_metadata(data, actual, st.st_mtime)
        # Every check the import runs, run now (issue 14: the plan said "new" for photos the
        # import then rejected): clean, rebuild metadata, decode; nothing is encoded.
        entry.thumb = check(data, entry.metadata, thumbnail=keep_thumb)
        if entry.metadata.notes:
            entry.reason = "; ".join(entry.metadata.notes)
    except UnreadablePhoto as exc:
        entry.metadata = None
        entry.status, entry.reason = "rejected", str(exc)
        return entry
    except DECODE_ERRORS as exc:  # whatever else a hostile file makes a parser raise
        entry.metadata = None
        entry.status, entry.reason = "rejected", str(damaged(exc))
        return entry
    entry.fingerprint = fingerprint(data)
    return entry


def scan(folder: Path | str, archive: Any = None, *, progress: Progress | None = None,
         cancelled: CancelFlag | None = None, workers: int | None = None) -> ImportPlan:
    """Every file under ``folder`` with its status; with ``archive``, marks already-imported files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInput(f"The folder {folder} does not exist or is not a folder.")
    rels: list[str] = []
    unreadable: dict[str, str] = {}  # rel + "/" → why the folder could not be listed

    def cannot_list(exc: OSError) -> None:
        where = Path(exc.filename or folder)
        if where == folder:
            raise InvalidInput(f"The folder {folder} cannot be read ({exc.strerror or 'read error'}). "
                               "Check that you may open it, or copy the photos to a folder you can.")
        rel = where.relative_to(folder).as_posix() + "/"
        unreadable[rel] = (f"this folder cannot be opened ({(exc.strerror or 'read error').lower()}), so any "
                           "photos in it were not scanned; copy them to a folder you can open")
        rels.append(rel)

    for root, dirs, files in os.walk(folder, onerror=cannot_list, followlinks=False):
        dirs.sort()
        base = Path(root).relative_to(folder)
        for name in sorted(files):
            rels.append((base / name).as_posix() if str(base) != "." else name)
    photo_stems = {os.path.splitext(r.lower())[0] for r in rels if os.path.splitext(r.lower())[1] in PHOTO_EXT}
    if archive is not None:
        fingerprint: Callable[[bytes], str] = archive.blobs.fingerprint
    else:
        import hashlib

        def fingerprint(data: bytes) -> str:
            return hashlib.sha256(data).hexdigest()

    entries: dict[str, PlanEntry] = {}
    todo = []
    for rel in rels:
        reason = _skip_reason(rel, photo_stems)
        if rel in unreadable and not reason:  # not silently left out: the user sees which folder and why
            entries[rel] = PlanEntry(folder / rel, rel, "rejected", unreadable[rel])
            continue
        if reason:
            entries[rel] = PlanEntry(folder / rel, rel, "skipped", reason)
        else:
            todo.append(rel)
    total, done = len(rels), len(rels) - len(todo)
    pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 2),
                              thread_name_prefix="scan")
    try:
        kept = 0
        for entry in pool.map(lambda r: _look(folder / r, r, fingerprint, archive is not None), todo):
            if cancelled is not None and cancelled():
                raise Cancelled("Scanning the folder")
            entries[entry.rel] = entry
            kept += len(entry.thumb or b"")
            if kept > THUMBS_KEPT_BYTES:  # a huge folder: the rest are decoded again at import
                entry.thumb = None
            done += 1
            if progress:
                progress(done, total, "Reading photos")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if not folder.is_dir():  # unplugged phone or drive, or a sync client that emptied it
        raise InvalidInput(f"The folder {folder} disappeared while it was being read (was the phone or drive "
                           "disconnected?). Nothing was imported; reconnect it and read the folder again.")
    ordered = [entries[r] for r in rels]
    _mark_duplicates(ordered, archive)
    plan = ImportPlan(folder, ordered, keyed=archive is not None)
    log.ingest.info("scanned a folder: %s", plan.counts())
    return plan


def _mark_duplicates(entries: list[PlanEntry], archive: Any) -> None:
    from ..archive.records import source_already_imported

    first: dict[str, PlanEntry] = {}
    for e in entries:
        if e.status != "new" or not e.fingerprint:
            continue
        if e.fingerprint in first:
            e.status, e.duplicate_of = "duplicate", first[e.fingerprint].rel
            e.reason = f"it has the same content as {e.duplicate_of}"
            continue
        first[e.fingerprint] = e
        if archive is not None:
            existing = source_already_imported(archive, e.fingerprint)
            if existing is not None:
                e.status, e.existing_image_id = "already-imported", existing
                e.reason = f"this photo was imported before (image {existing})"


# -- visits -----------------------------------------------------------------------------------
def wall_time(entry: PlanEntry) -> datetime | None:
    """Capture time as the phone's wall clock (offsets dropped), for grouping and sorting."""
    meta = entry.metadata
    if meta is None or not meta.taken_at:
        return None
    try:
        return datetime.fromisoformat(meta.taken_at).replace(tzinfo=None)
    except ValueError:
        return None


def suggest_visits(entries: list[PlanEntry], gap_hours: float = 4) -> list[list[PlanEntry]]:
    """Group photos into capture sessions: a gap of more than ``gap_hours`` starts a new visit.

    Photos without any time go together in a last group."""
    timed = sorted((e for e in entries if wall_time(e) is not None), key=lambda e: (wall_time(e), e.rel))
    groups: list[list[PlanEntry]] = []
    last: datetime | None = None
    for e in timed:
        when = wall_time(e)
        assert when is not None
        if last is None or when - last > timedelta(hours=gap_hours):
            groups.append([])
        groups[-1].append(e)
        last = when
    untimed = [e for e in entries if wall_time(e) is None]
    if untimed:
        groups.append(untimed)
    return groups


def preview_thumbnail(entry: PlanEntry, size: int = 320) -> bytes:
    """A JPEG (in memory, oriented, no metadata) of the entry's photo for the wizard's grid."""
    from .thumbnails import render_jpeg

    if entry.metadata is None:
        raise InvalidInput("Only photos that can be read have a preview.")
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"The photo can no longer be read ({exc.strerror}).") from None
    return render_jpeg(data, entry.metadata.format, size)
