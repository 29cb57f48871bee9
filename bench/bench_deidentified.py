"""De-identified export benchmark (run by hand). Target: 12 phone photos (8–12 MP) exported in under
8 s on the 2-core box (≈0.6 s a photo), half of them with a blur and a crop, peak RSS under 600 MB.

    python bench/bench_deidentified.py [--photos 12] [--runs 2]

The photos are real phone JPEGs and HEICs from ../shared/corpus stored as the phone wrote them
(EXIF, XMP, GPS: the worst case for cleaning). Timed: the whole ``export_deidentified`` call — the
consent check, decrypting each blob, decoding, turning upright, redacting, re-encoding as
metadata-free JPEG q95 4:4:4 (two photos at a time, ``deidentified.WORKERS``), the sidecars, fsync +
rename of the folder, the audit entry. CPU time
(all threads) is printed beside the wall time with the load average, because the cores are shared.
Peak memory is the process's max RSS. Cheap Argon2 parameters are used for the unlock only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.consent.records import record_consent  # noqa: E402
from dermarchive.exports.deidentified import Redaction, export_deidentified  # noqa: E402

CORPUS = Path(os.environ.get("DERMARCHIVE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
PHOTOS = ("iphone_hdr_NO.jpg", "Apple iPhone 4S.jpg", "HMD_Nokia_8.3_5G.jpg", "jolla.jpg", "IMG_5195.HEIC",
          "pug.heic")
SIGNATURE = (CORPUS / "clipboard_target.png").read_bytes()  # any non-blank image will do for the bench


def build(folder: Path, count: int) -> tuple[Archive, int, list[int]]:
    archive = Archive.create(folder / "archive", "bench", "bench passphrase 1", kdf=CHEAP_TEST_PARAMS)
    patient = records.add_patient(archive, "ZZZ0016", "Bench", "Patient", "1970-01-01").id
    visit = records.add_visit(archive, patient, "2024-05-01")
    ids = []
    for n in range(count):
        name = PHOTOS[n % len(PHOTOS)]
        with archive.transaction() as tx:
            blob = archive.store_blob(tx, (CORPUS / name).read_bytes())
            ids.append(records.insert_image(archive, tx, visit_id=visit, kind="clinical", blob_id=blob, width=1,
                                            height=1, original_format=name.rsplit(".", 1)[1].upper(),
                                            stored_format="JPEG"))
    record_consent(archive, visit, scopes=["research"], method="written-signature", obtained_by="bench",
                   signature=SIGNATURE)
    return archive, patient, ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-deid-"))
    try:
        archive, patient, ids = build(work, args.photos)
        redactions = {i: [Redaction("blur", 0.3, 0.2, 0.2, 0.2), Redaction("crop", 0.1, 0.1, 0.8, 0.8)]
                      for i in ids[::2]}
        walls, cpus = [], []
        for run in range(args.runs):
            out = work / f"out-{run}"
            t0, c0 = time.perf_counter(), time.process_time()
            summary = export_deidentified(archive, patient, "research", out, redactions=redactions)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            size = sum(p.stat().st_size for p in out.iterdir())
            print(f"run {run + 1}: {summary['count']} photos ({summary['redacted']} redacted) in {walls[-1]:.2f} s "
                  f"wall, {cpus[-1]:.2f} s CPU, {size / 1e6:.1f} MB written")
        archive.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        per_photo = statistics.median(walls) / args.photos
        print(f"median {statistics.median(walls):.2f} s for {args.photos} photos = {per_photo:.2f} s a photo; "
              f"peak RSS {peak_mb:.0f} MB; load average {os.getloadavg()[0]:.2f}")
        print("target: < 8 s for 12 photos, < 600 MB:",
              "MET" if statistics.median(walls) * 12 / args.photos < 8 and peak_mb < 600 else "NOT MET")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
