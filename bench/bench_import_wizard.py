"""Benchmark (run by hand): what the import wizard adds on top of the import core.

    python bench/bench_import_wizard.py            # 48 photos
    python bench/bench_import_wizard.py --photos 96

Photos: real phone JPEGs from ../shared/corpus (iPhone 4S, iPhone 6, Jolla), each copy given its own
capture time with piexif so every file is distinct; six photos per day, so 48 make 8 visits.

* **Core, one call**: ``run_import`` of the whole folder (one visit per capture session).
* **Wizard adapter**: :func:`dermarchive.workflows.import_visit.carry_out` on the same photos,
  with two new lesions (different sites) spread over every visit, so the core runs once per new
  lesion; plus consent recorded for each new visit. The figure to watch is the overhead against
  one call.
* **Review grid**: the wizard on the offscreen platform, from the scanned plan to every grid
  thumbnail decoded (two at a time via ``run_job``; the wizard makes them as the grid shows them,
  here all of them, as if the nurse scrolled through), and the process's peak RSS.

Each import runs into a fresh archive (cheap Argon2 parameters: unlocking is not measured here).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DERMARCHIVE_CORPUS", REPO.parent / "shared" / "corpus"))
SOURCES = ("Apple iPhone 4S.jpg", "iphone_hdr_NO.jpg", "jolla.jpg")


def make_folder(dest: Path, count: int) -> None:
    import piexif

    dest.mkdir(parents=True)
    start = datetime(2026, 3, 2, 9, 0)
    for n in range(count):
        data = (CORPUS / SOURCES[n % len(SOURCES)]).read_bytes()
        exif = piexif.load(data)
        when = (start + timedelta(days=n // 6, minutes=10 * (n % 6))).strftime("%Y:%m:%d %H:%M:%S").encode()
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = when
        exif.pop("thumbnail", None)
        exif["1st"] = {}
        out = dest / f"IMG_{n:04d}.jpg"
        piexif.insert(piexif.dump(exif), data, str(out))


def fresh_archive(path: Path):  # type: ignore[no-untyped-def]
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records

    archive = Archive.create(path, "bench.nurse", "bench passphrase 42", kdf=CHEAP_TEST_PARAMS)
    patient = records.add_patient(archive, "ZZZ0016", "Bench", "Patient")
    return archive, patient.id


def bench_core(folder: Path, work: Path) -> tuple[float, int]:
    from dermarchive.ingest import ImportOptions, run_import, scan

    archive, pid = fresh_archive(work / "core")
    t = time.perf_counter()
    result = run_import(archive, scan(folder, archive), ImportOptions(pid))
    took = time.perf_counter() - t
    archive.close()
    return took, len(result.imported)


def bench_adapter(folder: Path, work: Path) -> tuple[float, int, int, int]:
    from dermarchive.workflows.import_visit import (ConsentChoice, ImportChoices, NewLesion, PhotoChoice,
                                                       import_slices, carry_out, group_by_time)
    from dermarchive.ingest import scan

    archive, pid = fresh_archive(work / "adapter")
    t = time.perf_counter()
    plan = scan(folder, archive)
    choices = ImportChoices(patient_id=pid, clinician="bench",
                            consent=ConsentChoice(method="verbal", obtained_by="bench"),
                            new_lesions={"L1": NewLesion("L1", "back"), "L2": NewLesion("L2", "forearm", "", "left")})
    for v, group in enumerate(group_by_time(plan.new_entries(), 4)):
        for n, e in enumerate(group):
            choices.photos[e.rel] = PhotoChoice(visit=v, lesion="L1" if n % 2 else "L2")
    slices = len(import_slices(plan, choices))
    outcome = carry_out(archive, plan, choices)
    took = time.perf_counter() - t
    archive.close()
    return took, outcome.count("imported"), slices, len(outcome.consent_recorded)


def bench_grid(folder: Path, work: Path) -> tuple[float, int]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from dermarchive.gui.import_wizard import ImportWizard
    from dermarchive.ingest import scan

    app = QApplication.instance() or QApplication(sys.argv)
    archive, _pid = fresh_archive(work / "grid")
    plan = scan(folder, archive)
    wizard = ImportWizard(archive)
    wizard.show()
    t = time.perf_counter()
    wizard.set_plan(plan)
    wizard.review.initializePage()
    for entry in plan.new_entries():  # as if the nurse scrolled through the whole grid
        wizard.review.want_thumb(entry)
    while len(wizard.thumbs) < len(plan.new_entries()) and time.perf_counter() - t < 600:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()
    took = time.perf_counter() - t
    count = len(wizard.thumbs)
    wizard.reject()
    archive.close()
    app.processEvents()
    return took, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dermarchive-bench-wizard-"))
    try:
        folder = work / "phone"
        make_folder(folder, args.photos)
        mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"{args.photos} real phone JPEGs, {mb:.0f} MB, {os.cpu_count()} cores")
        core, n1 = bench_core(folder, work)
        print(f"core run_import, one call:   {core:6.2f} s  ({n1 / core:5.1f} photos/s)")
        adapter, n2, slices, consents = bench_adapter(folder, work)
        print(f"wizard carry_out ({slices} calls): {adapter:6.2f} s  ({n2 / adapter:5.1f} photos/s; scan included; "
              f"consent for {consents} visits)  overhead {100 * (adapter / core - 1):+.0f}%")
        grid, thumbs = bench_grid(folder, work)
        print(f"review grid thumbnails:      {grid:6.2f} s  for {thumbs} photos ({1000 * grid / max(thumbs, 1):.0f} ms each)")
        print(f"peak RSS of this process:    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
