"""Run an import: the plan's new photos → cleaned, encrypted, verified, catalogued.

Work per photo (read, keyed fingerprint, clean, grid thumbnail, encrypt, write, read back and check)
runs on a thread pool sized to the machine's cores: Pillow's decoders, hashlib and AES-GCM work
outside the GIL. The screen-size preview is not made here (it cost more than half of an
import): :mod:`.previews` makes it on first view or in an idle job after the import; until then
``records.image_bytes(…, "preview")`` gives the original. At most ``workers + 2`` photos are in
flight, so memory does not grow with the folder. One writer thread is the import's catalogue
writer: it commits finished photos in small batches, each batch one transaction with its audit
entry, while the calling thread keeps the workers fed.

Crash safety (kill -9 at any moment): a blob file is durable and read back before its catalogue
row is committed (per batch: the workers write and read back pending files, the writer makes
them durable with one flush, renames them, makes the renames durable with one more, and then
commits; ``fsutil.sync_files``/``sync_folders`` hold the per-OS flush); a photo's rows (blobs, visit, image) commit
together with the original file's keyed fingerprint. Re-running the same folder therefore finds
every committed photo as already imported, and the orphan sweep at the next open removes blob
files of the photo that was cut off. Visits are reused on a re-run: a capture group that already
has imported photos continues in their visit.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .. import log
from ..archive import bodysites, records
from ..archive.blobs import BlobRef
from ..archive.header import now_iso
from ..archive.dicom_store import record_dermoscopy_defaults
from ..errors import DermArchiveError, InvalidInput, NotFound
from .clean import prepare
from .metadata import DECODE_ERRORS, PhotoMetadata, UnreadablePhoto, damaged, read_metadata, sniff
from .scan import ImportPlan, PlanEntry, read_with_stat, suggest_visits

Progress = Callable[[int, int, str], None]
IMPORT_KINDS = ("clinical", "dermoscopic", "consent-form", "other")
BATCH = 16
COMMIT_SECONDS = 1.0


@dataclass
class EntryAssignment:
    """Per-photo choices from the review step (all optional)."""

    include: bool = True
    kind: str | None = None           # e.g. "consent-form" for a photographed consent form
    lesion_label: str | None = None   # overrides the import's lesion
    notes: str = ""
    visit_id: int | None = None       # an existing visit of the patient for this photo
    visit_group: str | None = None    # photos sharing this key go into one new visit (overrides
                                      # the suggested grouping; dated by its earliest photo)
    visit_date: str | None = None     # YYYY-MM-DD: the user's date for the new visit this photo
                                      # goes into (no capture date, or only the file's time)


@dataclass
class ImportOptions:
    patient_id: int
    kind: str = "clinical"
    lesion_label: str | None = None   # found or created for the patient
    lesion_id: int | None = None
    site: str = ""                    # body site key (archive.bodysites) for a new lesion
    site_text: str = ""
    laterality: str = ""
    visit_id: int | None = None       # put every photo in this visit; else one visit per group
    gap_hours: float = 4
    clinician: str = ""
    keep_location: bool = False       # keep GPS coordinates (encrypted, in the catalogue only)
    location_reason: str = ""
    per_entry: dict[str, EntryAssignment] = field(default_factory=dict)  # by PlanEntry.rel
    workers: int | None = None
    # Read back the stored copies of the plan's already-imported photos, so their outcomes are
    # ``verified`` (what removing originals needs). Off saves reading them on large re-scans;
    # remove_originals() then checks them itself.
    verify_existing: bool = True

    def assignment(self, rel: str) -> EntryAssignment:
        return self.per_entry.get(rel) or EntryAssignment()


@dataclass
class FileOutcome:
    rel: str
    status: str                       # imported, already-imported, rejected, failed, cancelled
    reason: str = ""
    image_id: int | None = None
    verified: bool = False            # the stored copy was read back and matches

    def as_json(self) -> dict[str, Any]:
        return {"path": self.rel, "status": self.status, "reason": self.reason,
                "image_id": self.image_id, "verified": self.verified}


@dataclass
class ImportResult:
    folder: Path
    patient_id: int
    outcomes: list[FileOutcome] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    cancelled: bool = False
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False)  # rel → keyed HMAC
    # Byte-identical copies in the folder of photos this run covers (rel → keyed HMAC): removing
    # the originals removes them too once their photo's stored copy is verified.
    duplicates: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def imported(self) -> list[int]:
        return [o.image_id for o in self.outcomes if o.status == "imported" and o.image_id]

    @property
    def verified(self) -> list[str]:
        return [o.rel for o in self.outcomes if o.verified]

    def removable(self) -> list[str]:
        """Files :func:`remove_originals` would delete as things stand: verified photos and the
        folder's duplicates of them (before it re-checks each file and earlier runs' copies)."""
        ok = [o for o in self.outcomes if o.verified and o.image_id is not None and o.rel in self.fingerprints]
        verified = {self.fingerprints[o.rel] for o in ok}
        return [o.rel for o in ok] + [rel for rel, fp in self.duplicates.items() if fp in verified]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def as_json(self) -> dict[str, Any]:
        return {"imported": len(self.imported), "counts": self.counts(), "visits": self.visits,
                "cancelled": self.cancelled, "entries": [o.as_json() for o in self.outcomes]}


@dataclass
class _Prepared:
    entry: PlanEntry
    fingerprint: str
    meta: PhotoMetadata
    stored_format: str
    orientation: int
    ids: tuple[str, str, str | None]       # original, thumbnail, preview (made later: None)
    new_refs: list[BlobRef]                # rows to insert (files written by this run)


class _Known:
    """What the catalogue held when the run started, plus the blobs this run is writing.

    Workers consult these sets instead of the catalogue, so they never wait for the writer's
    commits; the writer re-checks the source fingerprint inside its transaction (the authority).
    """

    def __init__(self, archive: Any) -> None:
        self.lock = threading.Lock()
        self.stored = {r[0] for r in archive.catalogue.query("SELECT id FROM blob")}
        self.sources = {r[0]: r[1] for r in archive.catalogue.query(
            "SELECT source_hmac, min(id) FROM image WHERE source_hmac IS NOT NULL GROUP BY source_hmac")}
        # One condition for all in-flight writes (a lock or event per blob, created on worker
        # threads between large image buffers, pinned heap pages and made RSS grow per photo).
        self.changed = threading.Condition(self.lock)
        self.writing: set[str] = set()              # blob ids being written now
        self.written: dict[str, BlobRef] = {}       # blob id → its row, once durable and checked
        self.failed: set[str] = set()
        self.shared: set[str] = set()               # ids more than one photo of this run uses

    def claim(self, blob_id: str) -> bool:
        """True when this caller is the one to write ``blob_id`` (then it must call done())."""
        with self.lock:
            if blob_id in self.writing or blob_id in self.written or blob_id in self.failed:
                self.shared.add(blob_id)
                return False
            self.writing.add(blob_id)
            return True

    def done(self, blob_id: str, ref: BlobRef | None) -> None:
        with self.changed:
            self.writing.discard(blob_id)
            if ref is not None:
                self.written[blob_id] = ref
            else:
                self.failed.add(blob_id)
            self.changed.notify_all()

    def wait_for(self, blob_id: str) -> BlobRef | None:
        """The row of a blob another worker writes, once it is done (None if that failed)."""
        with self.changed:
            self.changed.wait_for(lambda: blob_id not in self.writing)
            return self.written.get(blob_id)


def _check_options(archive: Any, options: ImportOptions) -> None:
    records.get_patient(archive, options.patient_id)  # NotFound
    kinds = [options.kind] + [a.kind for a in options.per_entry.values() if a.kind]
    for kind in kinds:
        if kind not in IMPORT_KINDS:
            raise InvalidInput(f"Photo kind must be one of {', '.join(IMPORT_KINDS)} (got '{kind}').")
    if options.site and options.site not in bodysites.BY_KEY:
        raise InvalidInput(f"Unknown body site '{options.site}'. Choose a standard site and add detail as free text.")
    if options.laterality not in bodysites.LATERALITIES:
        raise InvalidInput("Laterality must be one of: left, right, bilateral, midline.")
    if options.keep_location and not options.location_reason.strip():
        raise InvalidInput("Keeping photo locations needs a reason (e.g. 'home visit: where the photo was taken matters').")
    for a in options.per_entry.values():
        if a.visit_date is not None:
            try:
                when = date.fromisoformat(a.visit_date)
            except ValueError:
                raise InvalidInput(f"A visit date must be a date like 2026-03-14 (got '{a.visit_date}').") from None
            if when > date.today():
                raise InvalidInput(f"The visit date {when:%d %b %Y} is in the future; photos cannot be from then.")
    if options.visit_id is not None:
        visit = records.get_visit(archive, options.visit_id)
        if visit.patient_id != options.patient_id:
            raise InvalidInput("That visit belongs to another patient.")
    for visit_id in {a.visit_id for a in options.per_entry.values() if a.visit_id is not None}:
        if records.get_visit(archive, visit_id).patient_id != options.patient_id:
            raise InvalidInput("A chosen visit belongs to another patient.")
    if options.lesion_id is not None:
        lesion = records.get_lesion(archive, options.lesion_id)
        if lesion.patient_id != options.patient_id:
            raise InvalidInput("That lesion belongs to another patient.")


def _store(archive: Any, data: bytes, known: _Known, new_refs: list[BlobRef]) -> str:
    """Encrypt and write ``data`` unless the archive (or this run) already has it; read it back."""
    blob_id = archive.blobs.blob_id(data)
    if blob_id in known.stored and archive.blobs.exists(blob_id):
        problem = archive.blobs.check(archive.blob_ref(blob_id))
    elif known.claim(blob_id):
        ref: BlobRef | None = None
        problem = "it could not be written"
        try:
            ref = archive.blobs.put(data, blob_id, sync=False)  # made durable with its batch
            problem = archive.blobs.check(ref)
        finally:
            known.done(blob_id, ref if ref is not None and not problem else None)
        new_refs.append(ref)
    else:
        # Another photo of this run is writing the same content (e.g. identical thumbnails):
        # wait for it, and carry its row too, whichever of the two photos commits first.
        # A worker holds at most one unfinished claim and never waits while holding it.
        shared = known.wait_for(blob_id)
        if shared is None:
            raise DermArchiveError("The same picture could not be stored for another photo; it was not imported.")
        new_refs.append(shared)
        return blob_id
    if problem:
        raise DermArchiveError(f"The stored copy failed its read-back check ({problem}); it was not imported.")
    return blob_id


def _prepare(archive: Any, entry: PlanEntry, known: _Known) -> _Prepared | FileOutcome:
    """Everything but the catalogue write (runs on the pool). Rejections are outcomes."""
    try:
        data, st = read_with_stat(entry.path)
    except OSError as exc:
        return FileOutcome(entry.rel, "rejected", f"it can no longer be read ({exc.strerror or 'read error'})")
    unchanged = entry.stat_key == (st.st_size, st.st_mtime_ns) and entry.fingerprint and entry.metadata
    # Unchanged since the scan (same size and modification time): its fingerprint and metadata
    # from the scan stand; otherwise everything is read again.
    fingerprint = entry.fingerprint if unchanged else archive.blobs.fingerprint(data)
    assert fingerprint is not None
    existing = known.sources.get(fingerprint)
    if existing is not None:
        return FileOutcome(entry.rel, "already-imported", f"this photo was imported before (image {existing})",
                           existing)
    fmt = sniff(data[:32])
    try:
        if fmt is None or entry.metadata is None:
            raise UnreadablePhoto("it changed since the folder was scanned and is no longer a photo")
        meta = entry.metadata if unchanged else read_metadata(data, fmt, st.st_mtime)
        assert meta is not None
        stored = prepare(data, meta, preview=False, thumb=entry.thumb if unchanged else None)
        entry.thumb = None  # stored now (or about to be refused): the plan need not hold it
    except UnreadablePhoto as exc:
        return FileOutcome(entry.rel, "rejected", str(exc))
    except DECODE_ERRORS as exc:  # from read_metadata on a file that changed since the scan
        return FileOutcome(entry.rel, "rejected", str(damaged(exc)))
    del data
    new_refs: list[BlobRef] = []
    ids = (_store(archive, stored.data, known, new_refs),
           _store(archive, stored.thumbs.thumb, known, new_refs),
           _store(archive, stored.thumbs.preview, known, new_refs) if stored.thumbs.preview else None)
    return _Prepared(entry, fingerprint, meta, stored.stored_format, stored.orientation, ids, new_refs)


class _Writer:
    """The one catalogue writer: visits, lesions, blob rows and image rows, in batches."""

    def __init__(self, archive: Any, plan: ImportPlan, options: ImportOptions, result: ImportResult) -> None:
        self.archive, self.options, self.result = archive, options, result
        self.group_of: dict[str, int | str] = {}
        self.visit_of_group: dict[int | str, int] = {}
        self.group_date: dict[int | str, str] = {}
        self.lesions: dict[str, int] = {}
        self.shared: set[str] = set()  # blob ids other photos of the run also use: never orphans
        photos = [e for e in plan.entries if e.status in ("new", "already-imported") and e.metadata]
        for n, group in enumerate(suggest_visits(photos, options.gap_hours)):
            first = next((e.metadata.taken_at for e in group if e.metadata and e.metadata.taken_at), None)
            self.group_date[n] = (first or now_iso())[:10]
            for e in group:
                self.group_of[e.rel] = n
            earlier = continued_visit(archive, options.patient_id, group)
            if earlier is not None:
                self.visit_of_group[n] = earlier
        for e in photos:  # groups the user made by hand
            key = options.assignment(e.rel).visit_group
            if key is not None and e.metadata is not None:
                self.group_of[e.rel] = f"user:{key}"
                when = (e.metadata.taken_at or now_iso())[:10]
                self.group_date[f"user:{key}"] = min(when, self.group_date.get(f"user:{key}", when))
        chosen: dict[int | str, str] = {}  # dates the user set stand over capture times
        for e in photos:
            when = options.assignment(e.rel).visit_date
            if when and e.rel in self.group_of:
                group = self.group_of[e.rel]
                chosen[group] = min(when, chosen.get(group, when))
        self.group_date.update(chosen)

    def _visit(self, tx: Any, rel: str) -> int:
        chosen = self.options.assignment(rel).visit_id
        if chosen is not None:
            return chosen
        if self.options.visit_id is not None:
            return self.options.visit_id
        group = self.group_of.get(rel, -1)
        if group not in self.visit_of_group:
            when = self.group_date.get(group, date.today().isoformat())
            self.visit_of_group[group] = records.add_visit(self.archive, self.options.patient_id, when,
                                                           clinician=self.options.clinician, tx=tx)
            self.result.visits.append(self.visit_of_group[group])
        return self.visit_of_group[group]

    def _lesion(self, tx: Any, rel: str) -> int | None:
        label = self.options.assignment(rel).lesion_label or self.options.lesion_label
        if not label:
            return self.options.lesion_id
        label = label.strip()
        if label not in self.lesions:
            row = tx.query_one("SELECT id FROM lesion WHERE patient_id = ? AND label = ?",
                               (self.options.patient_id, label))
            self.lesions[label] = row[0] if row else records.add_lesion(
                self.archive, self.options.patient_id, label, site=self.options.site,
                site_text=self.options.site_text, laterality=self.options.laterality, tx=tx)
        return self.lesions[label]

    def commit(self, batch: list[_Prepared]) -> list[FileOutcome]:
        outcomes: list[FileOutcome] = []
        orphans: list[BlobRef] = []
        opts = self.options
        # The batch's new files were written without a flush each: one flush makes them all
        # durable before any is moved into place (and one more the renames, in register_blobs).
        self.archive.blobs.sync_pending([r for p in batch for r in p.new_refs])
        with self.archive.transaction() as tx:
            ids, kept, had = [], 0, 0
            keep: list[_Prepared] = []
            for p in batch:
                existing = tx.scalar("SELECT id FROM image WHERE source_hmac = ? LIMIT 1", (p.fingerprint,))
                if existing is not None:  # imported meanwhile (another run): keep the first
                    orphans += [r for r in p.new_refs if r.id not in self.shared]
                    outcomes.append(FileOutcome(p.entry.rel, "already-imported",
                                                f"this photo was imported before (image {existing})", existing))
                    continue
                keep.append(p)
            # moved into place now, under the write lock, then their rows inserted
            self.archive.register_blobs(tx, [r for p in keep for r in p.new_refs])
            for p in keep:
                assign = opts.assignment(p.entry.rel)
                meta = p.meta
                location = meta.location if opts.keep_location else None
                image_id = records.insert_image(
                    self.archive, tx, visit_id=self._visit(tx, p.entry.rel), kind=assign.kind or opts.kind,
                    blob_id=p.ids[0], thumb_blob_id=p.ids[1], preview_blob_id=p.ids[2],
                    width=meta.width, height=meta.height, original_format=meta.format,
                    stored_format=p.stored_format, lesion_id=self._lesion(tx, p.entry.rel),
                    taken_at=meta.taken_at, taken_at_source=meta.taken_at_source,
                    device_make=meta.device_make, device_model=meta.device_model,
                    orientation=p.orientation, source_hmac=p.fingerprint, had_location=meta.has_location,
                    location=location, location_reason=opts.location_reason.strip() if location else None,
                    notes="; ".join(n for n in (assign.notes.strip(), *meta.notes) if n))
                ids.append(image_id)
                kept += location is not None
                had += meta.has_location
                outcomes.append(FileOutcome(p.entry.rel, "imported", "", image_id, verified=True))
                self.result.fingerprints[p.entry.rel] = p.fingerprint
            if ids:
                # The dermatoscope settings of the day go with new dermoscopic photos (DICOM needs
                # them, and a later change of instrument must not rewrite older photos).
                record_dermoscopy_defaults(self.archive, tx, ids)
                self.archive.record(tx, "image.import", {"patient": opts.patient_id, "images": ids},
                                    {"count": len(ids), "had_location": had, "location_kept": kept,
                                     **({"location_reason_given": True} if kept else {})})
        for ref in orphans:  # never in place: their files are still pending temp files
            self.archive.blobs.discard(ref)
        return outcomes


def continued_visit(archive: Any, patient_id: int, session: list[PlanEntry]) -> int | None:
    """The visit an already-imported photo of this capture session (and of this patient) is in:
    a re-run after an interruption continues that visit instead of starting another."""
    for e in session:
        if e.status == "already-imported" and e.existing_image_id:
            try:
                image = records.get_image(archive, e.existing_image_id)
            except NotFound:
                continue
            if image.patient_id == patient_id:
                return image.visit_id
    return None


def run_import(archive: Any, plan: ImportPlan, options: ImportOptions, *, progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None) -> ImportResult:
    """Import ``plan.new_entries()`` (minus excluded ones) for ``options.patient_id``."""
    _check_options(archive, options)
    if not plan.keyed:
        raise InvalidInput("This plan was scanned without the archive; scan again with the archive open.")
    if plan.new_entries() and not Path(plan.folder).is_dir():
        raise InvalidInput(f"The folder {plan.folder} is no longer there (was the phone or drive disconnected?). "
                           "Nothing was imported; reconnect it and read the folder again.")
    result = ImportResult(plan.folder, options.patient_id)
    result.duplicates = plan.duplicate_fingerprints()
    todo = [e for e in plan.new_entries() if options.assignment(e.rel).include]
    for e in plan.by_status("already-imported"):
        ok = bool(options.verify_existing and e.existing_image_id and _stored_intact(archive, e.existing_image_id))
        result.outcomes.append(FileOutcome(e.rel, "already-imported", e.reason, e.existing_image_id, verified=ok))
        if e.fingerprint:
            result.fingerprints[e.rel] = e.fingerprint
    writer = _Writer(archive, plan, options, result)
    known = _Known(archive)
    writer.shared = known.shared
    total, done = len(todo), 0
    # One thread more than cores: a worker waiting on fsync leaves its core to the others.
    workers = options.workers or (os.cpu_count() or 1) + 1
    window: deque[tuple[PlanEntry, Future[Any]]] = deque()
    ready: list[_Prepared] = []
    queue_ = iter(todo)
    stop = False

    last_commit = time.monotonic()
    # The writer runs on its own thread: while it flushes and commits a batch, this thread keeps
    # the workers fed. At most two batches wait for it (ids and rows only, no pixels).
    batches: queue.Queue[list[_Prepared] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []
    outcomes_lock = threading.Lock()

    def write_batches() -> None:
        while (batch := batches.get()) is not None:
            if failed:
                continue  # after a failure the rest is drained unwritten (pending files stay temp)
            try:
                written = writer.commit(batch)
            except BaseException as exc:  # noqa: BLE001 - raised again on the calling thread
                failed.append(exc)
                continue
            with outcomes_lock:
                result.outcomes.extend(written)

    def flush() -> None:
        nonlocal last_commit
        if failed:
            raise failed[0]
        if ready:
            batches.put(list(ready))
            ready.clear()
        last_commit = time.monotonic()

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import")
    writing = threading.Thread(target=write_batches, name="import-writer", daemon=True)
    writing.start()
    try:
        while True:
            while not stop and len(window) < workers + 2:
                entry = next(queue_, None)
                if entry is None:
                    break
                window.append((entry, pool.submit(_prepare, archive, entry, known)))
            if not window:
                break
            entry, future = window.popleft()
            try:
                got = future.result()
            except DermArchiveError as exc:
                got = FileOutcome(entry.rel, "failed", str(exc))
            if isinstance(got, _Prepared):
                ready.append(got)
            else:
                with outcomes_lock:
                    result.outcomes.append(got)
            done += 1
            # Commit in batches (each commit is an fsync), but at least every COMMIT_SECONDS so
            # progress is durable and a crash loses little work.
            if len(ready) >= BATCH or time.monotonic() - last_commit > COMMIT_SECONDS:
                flush()
            if progress:
                progress(done, total, "Importing photos")
            if not stop and cancelled is not None and cancelled():
                stop = True
        flush()
    finally:
        for _e, f in window:
            f.cancel()
        pool.shutdown(wait=True)
        batches.put(None)
        writing.join()
    if failed:
        raise failed[0]
    handled = {o.rel for o in result.outcomes}
    for e in todo:
        if e.rel not in handled:
            result.outcomes.append(FileOutcome(e.rel, "cancelled", "the import was cancelled before this photo"))
            result.cancelled = True
    log.ingest.info("import finished: %s", result.counts())
    return result


def _stored_intact(archive: Any, image_id: int) -> bool:
    """The image's stored copy and thumbnails read back and match their ids."""
    try:
        image = records.get_image(archive, image_id)
    except NotFound:
        return False
    return all(archive.blobs.check(archive.blob_ref(b)) is None
               for b in (image.blob_id, image.thumb_blob_id, image.preview_blob_id) if b)


def remove_originals(archive: Any, result: ImportResult) -> list[str]:
    """Delete the source files whose stored copy was verified, and only if they are unchanged.

    Photos imported in this run were read back before they were catalogued; photos an earlier
    run imported (``already-imported``) are read back and checked here first.

    Byte-identical copies of such a photo elsewhere in the folder (``duplicate`` in the plan) go
    too: their content is what was stored and verified.

    Returns the removed paths (relative to the folder). Audited as ``image.remove-original``
    with image ids and counts only (never file names)."""
    removed: list[str] = []
    image_ids: list[int] = []
    stored: dict[str, int] = {}  # keyed fingerprint → image id, for verified stored copies
    for outcome in result.outcomes:
        fingerprint = result.fingerprints.get(outcome.rel)
        if fingerprint is None or outcome.image_id is None:
            continue
        if outcome.status == "already-imported" and not outcome.verified:
            outcome.verified = _stored_intact(archive, outcome.image_id)  # imported by an earlier run
        if not outcome.verified:
            continue
        stored[fingerprint] = outcome.image_id
        if _remove_if_unchanged(archive, result.folder / outcome.rel, fingerprint):
            removed.append(outcome.rel)
            image_ids.append(outcome.image_id)
    copies = 0
    for rel, fingerprint in result.duplicates.items():  # the same photo saved twice on the phone
        if fingerprint in stored and _remove_if_unchanged(archive, result.folder / rel, fingerprint):
            removed.append(rel)
            copies += 1
    if removed:
        details = {"count": len(removed), **({"duplicates": copies} if copies else {})}
        archive.log_event("image.remove-original", {"patient": result.patient_id, "images": image_ids}, details)
    return removed


def _remove_if_unchanged(archive: Any, path: Path, fingerprint: str) -> bool:
    try:
        if archive.blobs.fingerprint(path.read_bytes()) != fingerprint:
            return False  # changed since it was imported: not the file we stored
        path.unlink()
    except OSError:
        return False
    return True
