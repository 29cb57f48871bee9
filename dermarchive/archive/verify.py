"""``dermarchive verify``: the archive checked end to end.

SQLCipher integrity and foreign keys; every blob row has its file, which decrypts, has its
recorded length and matches its id; every image row has its blobs; the header's key slots and
the users table agree both ways; the audit chain is whole and matches its anchor in the header.
Blob files without a row are moved to ``quarantine/`` (never deleted) and reported, as are files
already there. Returns one line per problem naming the image, user or audit entry.
"""

from __future__ import annotations

from collections.abc import Callable

from .archive import Archive
from .blobs import blob_ref_from_row
from .header import Header
from .parallel import ordered_map

Progress = Callable[[int, int, str], None]


def verify(archive: Archive, progress: Progress | None = None,
           cancelled: Callable[[], bool] = lambda: False) -> list[str]:
    problems = list(archive.catalogue.integrity_problems())
    refs = [blob_ref_from_row(r) for r in archive.catalogue.query("SELECT * FROM blob ORDER BY id")]
    users_of: dict[str, list[str]] = {}
    for r in archive.catalogue.query("SELECT id, blob_id, thumb_blob_id, preview_blob_id FROM image"):
        for what, col in (("original", "blob_id"), ("thumbnail", "thumb_blob_id"), ("preview", "preview_blob_id")):
            if r[col]:
                users_of.setdefault(r[col], []).append(f"image {r['id']} ({what})")
    for r in archive.catalogue.query("SELECT id, signature_blob_id FROM consent WHERE signature_blob_id IS NOT NULL"):
        users_of.setdefault(r["signature_blob_id"], []).append(f"consent {r['id']} (signature)")
    known = {ref.id for ref in refs}
    for blob_id, users in users_of.items():
        if blob_id not in known:
            problems += [f"{u}: its stored data has no catalogue row" for u in users]
    total, n = len(refs), 0
    archive.master  # noqa: B018 - raises ArchiveLocked when closed, before any thread starts
    # One query above for every row; the decrypt-and-check runs on every core (AES-GCM and HMAC
    # release the GIL), a bounded window of blobs in flight, results in id order.
    checked = ordered_map(lambda ref: (ref, archive.blobs.check(ref)), refs, cancelled=cancelled)
    for n, (ref, problem) in enumerate(checked, 1):
        if problem:
            owners = users_of.get(ref.id, [f"blob {ref.id[:12]}…"])
            problems += [f"{o}: stored data is damaged: {problem}" for o in owners]
        if progress:
            progress(n, total, "Checking stored images")
    if n < total:
        problems.append("verify: cancelled before every blob was checked")
    problems += _quarantine_strays(archive, known)
    problems += slot_problems(archive)
    if archive.anchor_problem:
        problems.append(f"audit log: {archive.anchor_problem}")
    problems += archive.audit.verify(archive.catalogue)
    if archive.writable:
        archive.log_event("verify", {}, {"problems": len(problems), "blobs": total})
    return problems


def _quarantine_strays(archive: Archive, known: set[str]) -> list[str]:
    """Move blob files without a row to quarantine/ (inside a write transaction, so no other
    process is between placing a file and committing its row); report them and those already there."""
    stray = [b for b in archive.blobs.stored_ids() if b not in known]
    moved = 0
    if stray and archive.writable:
        with archive.transaction() as tx:
            for blob_id in stray:
                if tx.scalar("SELECT 1 FROM blob WHERE id = ?", (blob_id,)) is None:
                    archive.blobs.quarantine(blob_id)
                    moved += 1
    problems = []
    if stray and not moved:
        problems.append(f"blobs: {len(stray)} stored file(s) have no catalogue row (the archive is "
                        "read-only, so they were left where they are)")
    waiting = archive.blobs.quarantined()
    if waiting:
        problems.append(f"blobs: {len(waiting)} stored file(s) have no catalogue row and are kept in "
                        f"{archive.path / 'quarantine'}{f' ({moved} moved there now)' if moved else ''}; "
                        "restoring a newer catalogue or backup puts them back")
    for tmp in archive.blobs.stray_temp_files():
        tmp.unlink(missing_ok=True)  # half-written files from versions before blobs/tmp/
    return problems


def slot_problems(archive: Archive) -> list[str]:
    """The header's key slots and the users table, compared both ways."""
    problems = []
    header = Header.load(archive.path)  # as on disk now: another process may have changed it
    slots = {s.user.casefold(): s for s in header.slots}
    rows = {r["name"].casefold(): r for r in
            archive.catalogue.query("SELECT name, slot_id FROM user WHERE active = 1")}
    for key in sorted(rows.keys() - slots.keys()):
        problems.append(f"users: '{rows[key]['name']}' is a user of the catalogue but has no key slot in "
                        "archive.json (they cannot unlock; an admin can reset their passphrase)")
    for key in sorted(slots.keys() - rows.keys()):
        problems.append(f"users: archive.json has a key slot for '{slots[key].user}', who is not a user "
                        "of the catalogue (removed, or the slot was added by hand)")
    for key in sorted(slots.keys() & rows.keys()):
        if slots[key].slot_id != rows[key]["slot_id"]:
            problems.append(f"users: the key slot of '{slots[key].user}' in archive.json is not the one "
                            "the catalogue recorded")
    return problems
