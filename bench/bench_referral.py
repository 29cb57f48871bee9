"""Referral PDF benchmark (run by hand). Target: 12 phone-size photos → PDF in under 1.5 s and
under 5 MB.

    python bench/bench_referral.py [--photos 12] [--runs 3]

The photos are real phone photos from ../shared/corpus: iPhone 6, iPhone 4S, Nokia 8.3 and
Jolla JPEGs (8–9 MP, with their EXIF), and iPhone 11/13 and Nokia HEICs (8–16 MP) stored the way
the importer stores HEIC (JPEG q95 4:4:4 with the ICC profile). Each copy gets a small distinct patch so that
all photos differ (reportlab would otherwise embed identical pictures once). They are stored
encrypted in a fresh archive and given referral consent.

Timed: the whole ``build_referral`` call (consent check, decrypting each blob, decoding, orienting,
downsampling and re-encoding each photo, laying out the letter, writing it atomically with fsync,
and the audit entry), cold (no photo cache) each run; also once with an AES-256 password. CPU
time (all threads) is printed beside the wall time, with the load average, because the 2 cores
may be shared. Peak memory is the process's max RSS. Cheap Argon2 parameters are used for the
unlock only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.archive.header import now_iso  # noqa: E402
from dermarchive.exports import referral  # noqa: E402

CORPUS = Path(os.environ.get("DERMARCHIVE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
JPEGS = ("iphone_hdr_NO.jpg", "Apple iPhone 4S.jpg", "HMD_Nokia_8.3_5G.jpg", "jolla.jpg")
HEICS = ("IMG_5195.HEIC", "iphone_13_pro_max.HEIC", "pug.heic", "HMD_Nokia_8.3_5G_hdr.heif")


def phone_photo(name: str, n: int) -> bytes:
    """The corpus photo as the archive would store it, with a patch that makes copy ``n`` unique."""
    with Image.open(CORPUS / name) as img:
        info = dict(img.info)
        pic = img.convert("RGB")
    pic.paste((n * 20 % 256, 90, 200 - n * 10 % 200), (40 + n * 30, 40, 100 + n * 30, 100))
    out = io.BytesIO()
    if img.format == "JPEG":
        pic.save(out, "JPEG", quality=92, exif=info.get("exif", b""))
    else:  # HEIC → JPEG as ingest/clean.py stores it
        pic.save(out, "JPEG", quality=95, subsampling=0, icc_profile=info.get("icc_profile"))
    return out.getvalue()


def seed(archive: Archive, files: list[str]) -> tuple[int, list[int], int]:
    patient = records.add_patient(archive, "ZZZ0016", "Bench", "Patient", "1970-01-01")
    visit = records.add_visit(archive, patient.id, "2025-03-12")
    lesion = records.add_lesion(archive, patient.id, "L1", site="back")
    ids, stored = [], 0
    with archive.transaction() as tx:
        for n, name in enumerate(files):
            data = phone_photo(name, n)
            stored += len(data)
            with Image.open(io.BytesIO(data)) as img:
                w, h, fmt = img.width, img.height, img.format
            blob = archive.store_blob(tx, data)
            ids.append(records.insert_image(archive, tx, visit_id=visit, lesion_id=lesion, kind="clinical",
                                            blob_id=blob, width=w, height=h, original_format=fmt,
                                            stored_format=fmt))
        tx.execute("INSERT INTO consent (visit_id, version, scopes, method, obtained_by, obtained_at, recorded_at) "
                   "VALUES (?, 1, ?, 'written-signature', 'bench', ?, ?)",
                   (visit, json.dumps(["clinical.referral"]), now_iso(), now_iso()))
    return patient.id, ids, stored


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from pillow_heif import register_heif_opener

    register_heif_opener()
    pool = JPEGS + HEICS
    files = [pool[i % len(pool)] for i in range(args.photos)]
    megapixels = 0.0
    for name in files:
        with Image.open(CORPUS / name) as img:
            megapixels += img.width * img.height / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="bench-referral-"))
    try:
        archive = Archive.create(tmp / "archive", "bench", "correct horse 42", kdf=CHEAP_TEST_PARAMS)
        referral.set_letterhead(archive, name="Bench Skin Clinic", address="1 Test St", phone="09 000 0000")
        pid, ids, stored = seed(archive, files)
        print(f"{len(ids)} distinct phone photos, {megapixels:.0f} MP in all, {stored / 1e6:.1f} MB stored")
        fields = dict(to="Dermatology Service", question="Please assess.", history="Bench run.", urgency="soon")
        times, cpu = [], []
        for run in range(args.runs):
            out = tmp / f"referral-{run}.pdf"
            t0, c0 = time.perf_counter(), time.process_time()
            summary = referral.build_referral(archive, pid, image_ids=ids, out=out, **fields)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        locked = referral.build_referral(archive, pid, image_ids=ids, out=tmp / "locked.pdf",
                                         pdf_password="bench-password", **fields)
        t_locked = time.perf_counter() - t0
        t0 = time.perf_counter()
        referral.preview_referral(archive, pid, image_ids=ids, **fields)
        t_preview = time.perf_counter() - t0
        cache: dict[int, referral.Photo] = {}
        referral.preview_referral(archive, pid, image_ids=ids, photo_cache=cache, **fields)
        t0 = time.perf_counter()
        referral.preview_referral(archive, pid, image_ids=ids, photo_cache=cache, **fields)
        t_cached = time.perf_counter() - t0
        archive.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        best, median = min(times), statistics.median(times)
        size = summary["bytes"] / 1e6
        print(f"build_referral: best {best:.2f} s, median {median:.2f} s over {args.runs} runs "
              f"(target < 1.5 s: {'OK' if median < 1.5 else 'MISSED'}); CPU time median "
              f"{statistics.median(cpu):.2f} s on {referral.PHOTO_WORKERS} photo worker(s), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"PDF: {size:.2f} MB, {summary['pages']} pages (target < 5 MB: {'OK' if size < 5 else 'MISSED'})")
        print(f"with AES-256 password: {t_locked:.2f} s, {locked['bytes'] / 1e6:.2f} MB")
        print(f"dialog preview (page 1 PNG): cold {t_preview:.2f} s, with the dialog's photo cache {t_cached:.2f} s")
        print(f"peak RSS: {rss:.0f} MB")
        return 0 if median < 1.5 and size < 5 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
