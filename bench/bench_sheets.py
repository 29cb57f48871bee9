"""Benchmark (run by hand): what looking for consent sheets costs the import of ordinary photos.

    python bench/bench_sheets.py               # 40 photos of 4032×3024, 2 rounds
    python bench/bench_sheets.py --photos 80 --rounds 3

The same folder — one photographed consent sheet, then N ordinary 12 MP phone-size JPEGs (the
synthetic photos of bench_import.py) — is imported twice per round into fresh archives, in
alternating order:

* **ordinary**: ``scan`` + ``run_import`` for one patient (what ``import --patient`` does);
* **by sheet**: ``plan_clinic_day`` + ``import_clinic_day`` (what ``import --by-sheet`` does:
  every photo is also looked at for a code, the sheet is read).

Printed side by side, with the overhead; the target is at most 10 %.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def _folder(n: int, where: Path) -> Path:
    from bench_import import photos  # the same synthetic 12 MP photos as the import benchmark

    src = photos(n)
    folder = where / "phone"
    folder.mkdir()
    for p in sorted(src.iterdir()):
        (folder / p.name).symlink_to(p)
    return folder


def _archive(where: Path, name: str) -> Path:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records

    path = where / name
    with Archive.create(path, "bench", "bench passphrase 42", kdf=CHEAP_TEST_PARAMS) as a:
        records.add_patient(a, "ZZZ0016", "Bench", "Pat")
    return path


def _sheet_photo(archive_path: Path, folder: Path) -> None:
    """The sheet of this archive, photographed first (a capture time before every other photo)."""
    from dermarchive.archive import Archive
    from dermarchive.sheets.issue import print_sheet
    from tests.sheet_photos import Shot, fill, jpeg, photograph

    with Archive.open(archive_path, "bench", "bench passphrase 42") as a:
        pdf = print_sheet(a, "ZZZ0016")
    page = fill(pdf, ["clinical.documentation"], signed=True, seed=1)
    img = photograph(page, Shot(size=(4032, 3024), angle=92, seed=1))
    (folder / "IMG_0000_sheet.jpg").unlink(missing_ok=True)
    (folder / "IMG_0000_sheet.jpg").write_bytes(jpeg(img, taken_at="2000-01-01T08:00:00"))


def ordinary(archive_path: Path, folder: Path) -> tuple[float, int]:
    from dermarchive.archive import Archive, records
    from dermarchive.ingest import ImportOptions, run_import, scan

    with Archive.open(archive_path, "bench", "bench passphrase 42") as a:
        start = time.perf_counter()
        plan = scan(folder, a)
        result = run_import(a, plan, ImportOptions(records.patient_by_nhi(a, "ZZZ0016").id))
        return time.perf_counter() - start, len(result.imported)


def by_sheet(archive_path: Path, folder: Path) -> tuple[float, int]:
    from dermarchive.archive import Archive
    from dermarchive.workflows.clinic_day import import_clinic_day, plan_clinic_day

    with Archive.open(archive_path, "bench", "bench passphrase 42") as a:
        start = time.perf_counter()
        day = plan_clinic_day(a, folder)
        result = import_clinic_day(a, day)
        n = sum(1 for g in result.groups for o in g.result.outcomes if o.status == "imported")
        return time.perf_counter() - start, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sheets-"))
    try:
        folder = _folder(args.photos, work)
        times: dict[str, list[float]] = {"ordinary": [], "by sheet": []}
        for r in range(args.rounds):
            order = [("ordinary", ordinary), ("by sheet", by_sheet)]
            for name, job in order if r % 2 == 0 else order[::-1]:
                path = _archive(work, f"{name.replace(' ', '-')}-{r}")
                _sheet_photo(path, folder)  # each archive's own sheet (its code's MAC is per archive)
                seconds, n = job(path, folder)
                assert n == args.photos + 1, (name, n)
                times[name].append(seconds)
                print(f"round {r + 1}: {name:<9} {seconds:7.2f} s for {n} photos ({seconds / n * 1000:.0f} ms/photo)",
                      flush=True)
        from dermarchive.sheets.read import look

        names = sorted(p for p in folder.iterdir() if "sheet" not in p.name)[:10]
        start = time.perf_counter()
        for p in names:
            assert look(p.read_bytes(), "0" * 32, b"k" * 32) is None
        per = (time.perf_counter() - start) / len(names) * 1000
        print(f"looking for a code in one ordinary 12 MP photo: {per:.0f} ms on one thread")
        best = {k: min(v) for k, v in times.items()}
        overhead = (best["by sheet"] / best["ordinary"] - 1) * 100
        print(f"\nbest of {args.rounds}:  ordinary import {best['ordinary']:.2f} s   |   by sheet {best['by sheet']:.2f} s"
              f"   |   overhead {overhead:+.1f} % (target ≤ 10 %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
