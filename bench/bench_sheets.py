"""Benchmark (run by hand): what looking for consent sheets costs the import of ordinary photos.

    python bench/bench_sheets.py               # 40 photos of 4032×3024, 2 rounds
    python bench/bench_sheets.py --photos 80 --rounds 3

The same folder — one photographed consent sheet, then N ordinary 12 MP phone-size JPEGs (the
synthetic photos of bench_import.py, given an EXIF capture time and thumbnail as phones write)
— is imported twice per round into fresh archives, in alternating order:

* **ordinary**: ``scan`` + ``run_import`` for one patient (what ``import --patient`` does);
* **+ sheet search**: the same, plus looking at every photo for a code and sorting the day by
  sheet before the same ``run_import`` (the cost the 10 % target is about);
* **by sheet**: ``plan_clinic_day`` + ``import_clinic_day`` end to end (what ``import --by-sheet``
  does), for information.

Printed side by side, with the overhead of the sheet search; the target is at most 10 %.
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

    import io

    import piexif
    from PIL import Image

    src = photos(n)
    folder = where / "phone"
    folder.mkdir()
    for p in sorted(src.iterdir()):
        # As a phone writes them: a capture time and a 160-px EXIF thumbnail (inserted losslessly).
        with Image.open(p) as img:
            img.draft("RGB", (160, 120))
            small = img.convert("RGB")
            small.thumbnail((160, 160))
        thumb = io.BytesIO()
        small.save(thumb, "JPEG", quality=75)
        exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: b"2026:11:30 10:00:00"},
                            "1st": {piexif.ImageIFD.JPEGInterchangeFormat: 0,
                                    piexif.ImageIFD.JPEGInterchangeFormatLength: 0},
                            "thumbnail": thumb.getvalue()})
        out = io.BytesIO()
        piexif.insert(exif, p.read_bytes(), out)
        (folder / p.name).write_bytes(out.getvalue())
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


def with_search(archive_path: Path, folder: Path) -> tuple[float, int]:
    from dermarchive.archive import Archive, records
    from dermarchive.ingest import ImportOptions, run_import, scan
    from dermarchive.ingest.by_sheet import find_sightings, sort_by_sheet
    from dermarchive.sheets.issue import sheet_key
    from dermarchive.sheets.read import look

    with Archive.open(archive_path, "bench", "bench passphrase 42") as a:
        start = time.perf_counter()
        plan = scan(folder, a)
        key, archive_id = sheet_key(a), a.archive_id
        day = sort_by_sheet(plan, find_sightings(plan, lambda data: look(data, archive_id, key)))
        assert len(day.groups) == 1 and not day.waiting
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
        times: dict[str, list[float]] = {"ordinary": [], "+ sheet search": [], "by sheet": []}
        for r in range(args.rounds):
            order = [("ordinary", ordinary), ("+ sheet search", with_search), ("by sheet", by_sheet)]
            for name, job in order if r % 2 == 0 else order[::-1]:
                path = _archive(work, f"{name.replace(' ', '-').replace('+', 'plus')}-{r}")
                _sheet_photo(path, folder)  # each archive's own sheet (its code's MAC is per archive)
                seconds, n = job(path, folder)
                assert n == args.photos + 1, (name, n)
                times[name].append(seconds)
                print(f"round {r + 1}: {name:<14} {seconds:7.2f} s for {n} photos ({seconds / n * 1000:.0f} ms/photo)",
                      flush=True)
        from dermarchive.sheets.read import look

        from dermarchive.ingest.clean import prepare
        from dermarchive.ingest.metadata import read_metadata

        datas = [p.read_bytes() for p in sorted(folder.iterdir()) if "sheet" not in p.name][:10]
        start = time.perf_counter()
        for d in datas:
            assert look(d, "0" * 32, b"k" * 32) is None
        per = (time.perf_counter() - start) / len(datas) * 1000
        start = time.perf_counter()
        for d in datas:
            prepare(d, read_metadata(d, "JPEG"))
        clean = (time.perf_counter() - start) / len(datas) * 1000
        print(f"one ordinary 12 MP photo, one thread: looking for a code {per:.1f} ms   |   "
              f"cleaning + thumbnails alone (part of its import) {clean:.0f} ms")
        best = {k: min(v) for k, v in times.items()}
        overhead = (best["+ sheet search"] / best["ordinary"] - 1) * 100
        print(f"\nbest of {args.rounds}:  ordinary import {best['ordinary']:.2f} s   |   + sheet search "
              f"{best['+ sheet search']:.2f} s (overhead {overhead:+.1f} %, target ≤ 10 %)   |   "
              f"by sheet end to end {best['by sheet']:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
