"""``dermarchive verify``: the archive checked end to end.

SQLCipher integrity and foreign keys; every blob row has its file, which decrypts, has its
recorded length and matches its id; every image row has its blobs; no stray blob files; the
audit chain is whole. Returns one line per problem naming the image or audit entry.
"""

from __future__ import annotations

from collections.abc import Callable

from .archive import Archive

Progress = Callable[[int, int, str], None]


def verify(archive: Archive, progress: Progress | None = None,
           cancelled: Callable[[], bool] = lambda: False) -> list[str]:
    problems = list(archive.catalogue.integrity_problems())
    rows = archive.catalogue.query("SELECT id FROM blob ORDER BY id")
    users_of: dict[str, list[str]] = {}
    for r in archive.catalogue.query("SELECT id, blob_id, thumb_blob_id, preview_blob_id FROM image"):
        for what, col in (("original", "blob_id"), ("thumbnail", "thumb_blob_id"), ("preview", "preview_blob_id")):
            if r[col]:
                users_of.setdefault(r[col], []).append(f"image {r['id']} ({what})")
    for r in archive.catalogue.query("SELECT id, signature_blob_id FROM consent WHERE signature_blob_id IS NOT NULL"):
        users_of.setdefault(r["signature_blob_id"], []).append(f"consent {r['id']} (signature)")
    known = {r["id"] for r in rows}
    for blob_id, users in users_of.items():
        if blob_id not in known:
            problems += [f"{u}: its stored data has no catalogue row" for u in users]
    total = len(rows)
    for n, r in enumerate(rows, 1):
        if cancelled():
            problems.append("verify: cancelled before every blob was checked")
            break
        problem = archive.blobs.check(archive.blob_ref(r["id"]))
        if problem:
            owners = users_of.get(r["id"], [f"blob {r['id'][:12]}…"])
            problems += [f"{o}: stored data is damaged: {problem}" for o in owners]
        if progress:
            progress(n, total, "Checking stored images")
    stray = [b for b in archive.blobs.stored_ids() if b not in known]
    if stray:
        problems.append(f"blobs: {len(stray)} stored file(s) have no catalogue row")
    problems += archive.audit.verify(archive.catalogue)
    archive.log_event("verify", {}, {"problems": len(problems), "blobs": total})
    return problems
