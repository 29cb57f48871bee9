"""User removal (key rotation) at 100,000 images, beside a plain open of the same archive, and the
open-time cost of the audit anchor check — all in one run.

Run by hand:  python bench/bench_rotation.py [--images 100000]
The catalogue rows are made synthetically (patients, visits, images and three blob rows per image
with real wrapped keys); no blob files are written, since rotation never touches them. Argon2id
uses the cheap test parameters so that the figures show the archive's own work (a real unlock
adds the calibrated ~0.8 s to both the open and the removal).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive
from dermarchive.archive.header import now_iso
from dermarchive.archive.keys import wrap

USER, PASSPHRASE = "bench.admin", "bench passphrase 1"


def fill(archive: Archive, images: int) -> None:
    """``images`` image rows (about 20 per patient, 4 per visit) with their blob rows."""
    wrap_key = archive.master.subkey("blob-wrap")
    now = now_iso()
    with archive.transaction() as tx:
        patients = max(1, images // 20)
        tx.executemany("INSERT INTO patient (id, nhi, family, given, created_at) VALUES (?, ?, ?, ?, ?)",
                       ((p, f"ZZZ{p:07d}", "Bench", "Patient", now) for p in range(1, patients + 1)))
        visits = max(1, images // 4)
        tx.executemany("INSERT INTO visit (id, patient_id, date, created_at) VALUES (?, ?, ?, ?)",
                       ((v, 1 + (v - 1) % patients, "2026-01-01", now) for v in range(1, visits + 1)))

        def blob_rows():
            for _ in range(images * 3):
                blob_id = os.urandom(32).hex()
                yield (blob_id, wrap(wrap_key, os.urandom(32), blob_id.encode()), 3_000_000, 3, now)

        tx.executemany("INSERT INTO blob (id, wrapped_key, size, chunks, created_at) VALUES (?, ?, ?, ?, ?)",
                       blob_rows())
        ids = [r[0] for r in tx.query("SELECT id FROM blob ORDER BY rowid")]
        tx.executemany(
            "INSERT INTO image (visit_id, kind, imported_at, width, height, original_format, stored_format, "
            "blob_id, thumb_blob_id, preview_blob_id) VALUES (?, 'clinical', ?, 4000, 3000, 'JPEG', 'JPEG', ?, ?, ?)",
            ((1 + i % visits, now, ids[3 * i], ids[3 * i + 1], ids[3 * i + 2]) for i in range(images)))
        for i in range(images):  # one audit entry per imported photo, as a real import writes
            archive.audit.append(tx, USER, "image.import", {"image": i + 1})


def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--opens", type=int, default=7)
    ap.add_argument("--blob-files", action="store_true",
                    help="also place an (empty) file per blob row and time the full blob-folder listing "
                         "that every open did before issue 15 (orphan sweep)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "archive"
        a = Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS)
        t = time.perf_counter()
        fill(a, args.images)
        print(f"made {args.images:,} images ({3 * args.images:,} blob rows) in {time.perf_counter() - t:.1f} s; "
              f"catalogue {os.path.getsize(path / 'catalogue.db') / 1e6:.0f} MB")
        if args.blob_files:
            t = time.perf_counter()
            for (blob_id,) in a.catalogue.query("SELECT id FROM blob"):
                target = a.blobs.path(blob_id)
                target.parent.mkdir(exist_ok=True)
                target.touch()
            print(f"placed {3 * args.images:,} blob files in {time.perf_counter() - t:.1f} s")
        for n in range(args.opens):
            a.add_user(f"dr.leaving{n}", "clinician", "leaving passphrase 1", kdf=CHEAP_TEST_PARAMS)
        a.close()

        open_close = timed(lambda: Archive.open(path, USER, PASSPHRASE).close(), args.opens)
        print(f"reference: plain open + close                  {open_close * 1000:8.1f} ms (median of {args.opens})")
        real_anchor = Archive.anchor_audit
        Archive.anchor_audit = lambda self: None  # type: ignore[method-assign]
        unanchored = timed(lambda: Archive.open(path, USER, PASSPHRASE).close(), args.opens)
        Archive.anchor_audit = real_anchor  # type: ignore[method-assign]
        print(f"  the same without writing the anchor          {unanchored * 1000:8.1f} ms: header writes at open "
              f"and close cost {1000 * (open_close - unanchored):.1f} ms")

        if args.blob_files:
            probe = Archive.open(path, USER, PASSPHRASE)
            listing = timed(lambda: sum(1 for _ in probe.blobs.stored_ids()), 3)
            probe.close()
            print(f"before: each open listed every blob file       {listing * 1000:8.1f} ms (median of 3; "
                  "now only blobs/tmp/ and quarantine/ are listed)")

        from dermarchive.archive.anchor import check_anchor
        b = Archive.open(path, USER, PASSPHRASE)
        check = timed(lambda: check_anchor(b.header, b.master, b.catalogue), 1000)
        anchor_write = timed(b.anchor_audit, 1)  # already anchored: a no-op
        b.close()
        print(f"anchor check at open (lookup + HMAC)           {check * 1e6:8.1f} µs (median of 1000) "
              f"= {100 * check / open_close:.3f} % of the open")
        print(f"  anchor already current: no header write       {anchor_write * 1e6:8.1f} µs")

        rotations = []
        for n in range(min(3, args.opens)):
            c = Archive.open(path, USER, PASSPHRASE)
            t = time.perf_counter()
            c.remove_user(f"dr.leaving{n}")
            rotations.append(time.perf_counter() - t)
            c.close()
        rotation = statistics.median(rotations)
        print(f"remove user (new key, re-key catalogue)        {rotation * 1000:8.1f} ms (median of {len(rotations)}) "
              f"= {rotation / open_close:.1f}× a plain open")
        d = Archive.open(path, USER, PASSPHRASE)
        print(f"after: key epoch {d.master.epoch}, {d.catalogue.scalar('SELECT count(*) FROM image'):,} images, "
              f"users {', '.join(u.name for u in d.users())[:60]}…")
        d.close()


if __name__ == "__main__":
    main()
