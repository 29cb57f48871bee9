"""``dermarchive verify`` against ``backup verify`` with a passphrase over the same bytes (run by hand).

Target (issue 19): verify reads at the speed backup verify does or better, on both cores.

    python bench/bench_verify.py [--photos 300] [--repeat 3] [--dir DIR]

Builds a phone-shaped archive (three blobs per photo, see bench_backup.py), backs it up, then times
(median of --repeat, alternating) ``archive.verify.verify`` over the archive and
``backup.restore.verify_backup(dest, passphrase=…)`` over its backup: both decrypt and check every
blob. To measure another checkout with the same script, put it first on PYTHONPATH
(``DERMARCHIVE_CODE=/tmp/speed-before python bench/bench_verify.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, os.environ.get("DERMARCHIVE_CODE") or str(Path(__file__).resolve().parents[1]))

import dermarchive  # noqa: E402  (before bench_backup, which puts this checkout on sys.path)
from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.archive.verify import verify  # noqa: E402
from dermarchive.backup import create as bk  # noqa: E402
from dermarchive.backup.restore import verify_backup  # noqa: E402

import bench_backup  # noqa: E402, I001


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shape", choices=("phone", "small"), default="phone",
                    help="phone: 3 blobs per photo (default); small: one ~110 KB blob (per-blob cost weighs more)")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=args.dir))
    os.environ.setdefault("DERMARCHIVE_STATE_DIR", str(root / "state"))
    print(f"code: {Path(dermarchive.__file__).parent.parent}")
    try:
        archive = Archive.create(root / "archive", "bench", "bench passphrase 1", kdf=CHEAP_TEST_PARAMS)
        patient = records.add_patient(archive, "ZZZ0016", "Bench", "Mark")
        visit = records.add_visit(archive, patient.id, "2026-01-01")
        size = bench_backup.add_photos(archive, visit, 0, args.photos, args.shape)
        bk.backup(archive, root / "backup", create=True)
        blobs = archive.catalogue.scalar("SELECT count(*) FROM blob")
        print(f"archive ({args.shape}): {args.photos} photos, {blobs} blobs, {size / 1e6:.0f} MB")
        t_verify, t_backup = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            problems = verify(archive)
            t_verify.append(time.perf_counter() - start)
            start = time.perf_counter()
            check = verify_backup(root / "backup", passphrase="bench passphrase 1")
            t_backup.append(time.perf_counter() - start)
        archive.close()
        v, b = statistics.median(t_verify), statistics.median(t_backup)
        for name, t, runs in (("verify", v, t_verify), ("backup verify with passphrase", b, t_backup)):
            print(f"{name + ':':<32}{t:6.2f} s  {size / t / 1e6:6.0f} MB/s  runs {', '.join(f'{r:.2f}' for r in runs)}")
        ok = not problems and check.ok and v <= b
        print(f"verify / backup verify = {v / b:.2f}  (target <= 1.00)  {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
