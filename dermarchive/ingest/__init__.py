"""Import from a phone folder: scan → review → clean, store encrypted, verify (DESIGN §2, §5).

Public API (Qt-free; the import wizard and the CLI both use exactly this):

``scan(folder, archive=None, *, progress=None, cancelled=None) -> ImportPlan``
    Every file under ``folder`` as a :class:`PlanEntry` (``rel`` path, ``status`` one of
    ``new / already-imported / duplicate / skipped / rejected``, plain-language ``reason``,
    ``duplicate_of``, ``metadata``: :class:`PhotoMetadata` with format, width, height,
    orientation, taken_at + taken_at_source, device, has_location, identifying). No full
    decode, so it is cheap enough for a review table. ``plan.new_entries()``,
    ``plan.counts()``, ``plan.as_json()``. Pass the archive to mark already-imported files.
``preview_thumbnail(entry, size=320) -> bytes``
    An oriented JPEG made in memory, for the wizard's grid.
``suggest_visits(entries, gap_hours=4) -> list[list[PlanEntry]]``
    Capture sessions: a gap of more than ``gap_hours`` starts a new visit.
``ImportOptions`` / ``EntryAssignment`` and ``run_import(archive, plan, options, *,
progress=None, cancelled=None) -> ImportResult``
    Imports the plan's ``new`` entries for one patient: visits per suggested group (or one
    given ``visit_id``), lesion by label, site, kind, ``keep_location`` + reason. Per photo
    (``options.per_entry[rel] = EntryAssignment(...)``): include, kind (``consent-form``),
    lesion_label, notes, an existing ``visit_id`` or a ``visit_group`` key of the user's own
    grouping. The result has per-file ``outcomes`` (imported / already-imported / rejected /
    failed / cancelled, reason, image_id, verified), ``imported`` ids, ``verified`` paths and
    the new ``visits``. Decoding, hashing, cleaning and encryption run on a pool of
    threads (both cores); one writer commits the catalogue. Crash-safe and resumable:
    re-running the same folder imports each photo exactly once (a capture group continues in
    the visit its earlier photos went to). ``cancelled()`` stops taking new photos; the few in
    flight finish, the result says ``cancelled`` and lists the rest as ``cancelled``.
    ``options.verify_existing`` (default on) reads back already-imported photos so they count
    as verified for removal. Bad options raise InvalidInput before anything is written.
``remove_originals(archive, result) -> list[str]``
    Deletes only the source files whose stored copy was read back and verified (and that are
    unchanged since); audited as ``image.remove-original`` with ids and counts.

Modules: ``metadata`` (formats, EXIF/XMP/GPS reading), ``jpeg`` (segment-level lossless
cleaning, MPO), ``clean`` (what is stored for each format), ``thumbnails``, ``scan``, ``run``,
``commands`` (CLI ``import`` and ``images``).
"""

from .metadata import PhotoMetadata, UnreadablePhoto
from .run import (EntryAssignment, FileOutcome, ImportOptions, ImportResult, remove_originals,
                  run_import)
from .scan import ImportPlan, PlanEntry, preview_thumbnail, scan, suggest_visits

__all__ = ["ImportPlan", "PlanEntry", "PhotoMetadata", "UnreadablePhoto", "scan", "suggest_visits",
           "preview_thumbnail", "ImportOptions", "EntryAssignment", "ImportResult", "FileOutcome",
           "run_import", "remove_originals"]
