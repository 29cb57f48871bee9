"""Benchmark (run by hand): import of phone-size JPEGs against a one-core floor, and peak memory.

    python bench/bench_import.py                 # 120 photos, plus 600 for the memory comparison
    python bench/bench_import.py --sizes 120     # just the timing

Photos: synthetic 4032×3024 JPEGs of about 4 MB (smooth colour field + texture + sensor-like
noise, each one distinct), generated once into a cache folder under the system temp folder
(synthetic, never patient data). Beyond the first 120, photos are lossless jpegtran flips and
rotations of those (distinct content, same size and decoding cost).

* **Floor** (one core, same run): for every photo read + SHA-256 + draft-decoded 320-px thumbnail +
  AES-256-GCM of the file + plain write. Nothing else.
* **Import**: ``Archive.open`` with the archive's real calibrated Argon2id (unlock included) + scan +
  ``run_import`` (clean, keyed fingerprints, grid thumbnail, encrypt, durable writes with one
  flush per batch, read-back verification, catalogue) + close, on all cores. The screen preview
  is not part of an import any more (issue 19): it is made on first view or by an idle job.
* **Previews later** (first size only, printed apart, not in the ratio): that idle job,
  ``make_missing_previews`` on one core (as the app runs it) over the photos just imported.
* **Peak memory**: each measurement runs in its own child process; its max RSS is reported, for
  120 and for 600 photos.

Prints one line per figure and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

CACHE = Path(tempfile.gettempdir()) / "dermarchive-bench-photos"
W, H = 4032, 3024
BASES = 120  # drawn photos; more are lossless transforms of these (jpegtran)
TRANSFORMS = (["-flip", "horizontal"], ["-flip", "vertical"], ["-rotate", "180"], ["-transpose"])
PASSPHRASE = "bench passphrase 42"


# -- synthetic photos ---------------------------------------------------------------------------
def _texture(seed: int) -> Any:
    """A smooth colour field with blotchy texture, 4032×3024 (Pillow only, C speed)."""
    from PIL import Image, ImageChops

    rng = random.Random(seed)
    ramps = [Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((W, H)) for _ in range(3)]
    base = Image.merge("RGB", [ImageChops.add(r, Image.new("L", (W, H), rng.randrange(40, 120)), scale=1.6)
                               for r in ramps])
    blotches = Image.effect_noise((W // 8, H // 8), 30).resize((W, H), Image.Resampling.BILINEAR)
    return ImageChops.add(base, Image.merge("RGB", [blotches] * 3), scale=1.0, offset=-128)


def _make(args: tuple[int, str]) -> None:
    from PIL import Image, ImageChops

    index, folder = args
    path = Path(folder) / f"IMG_{index:04d}.jpg"
    if path.exists():
        return
    global _TEXTURES
    try:
        _TEXTURES  # noqa: B018 - a NameError means not built yet in this worker
    except NameError:
        _TEXTURES = [_texture(s) for s in range(3)]
    rng = random.Random(1000 + index)
    img = ImageChops.offset(_TEXTURES[index % 3], rng.randrange(W), rng.randrange(H))
    noise = Image.effect_noise((W, H), 3)  # sensor-like grain, different in every photo
    img = ImageChops.add(img, Image.merge("RGB", [noise] * 3), scale=1.0, offset=-128)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=94)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(out.getvalue())
    os.replace(tmp, path)


def photos(n: int) -> Path:
    """A folder holding exactly the first ``n`` cached synthetic photos (links, no copies)."""
    store = CACHE / "all"
    store.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(n) if not (store / f"IMG_{i:04d}.jpg").exists()]
    drawn = [i for i in missing if i < BASES or not shutil.which("jpegtran")]
    if drawn:
        print(f"generating {len(drawn)} synthetic 4032×3024 JPEGs into {store} (once)…", flush=True)
        with Pool(os.cpu_count() or 2) as pool:
            pool.map(_make, [(i, str(store)) for i in drawn], chunksize=4)
    for i in sorted(set(missing) - set(drawn)):
        # Beyond the drawn photos: a lossless flip/rotation of one of them (distinct pixels, the
        # same size and decoding cost), made in a second instead of drawing a new one.
        transform = TRANSFORMS[(i // BASES - 1) % len(TRANSFORMS)]
        source = store / f"IMG_{i % BASES:04d}.jpg"
        tmp = store / f"IMG_{i:04d}.part"
        subprocess.run(["jpegtran", "-copy", "none", "-perfect", *transform, "-outfile", str(tmp), str(source)],
                       check=True)
        os.replace(tmp, store / f"IMG_{i:04d}.jpg")
    folder = CACHE / f"set-{n}"
    if not folder.exists() or len(list(folder.iterdir())) != n:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for i in range(n):
            os.link(store / f"IMG_{i:04d}.jpg", folder / f"IMG_{i:04d}.jpg")
    return folder


# -- the two measured jobs (each in its own child process) ---------------------------------------
def floor(folder: Path, out: Path) -> dict[str, float]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (320, 240))
            img.thumbnail((320, 320))
            thumb = io.BytesIO()
            img.save(thumb, "JPEG", quality=85)
        sealed = AESGCM(AESGCM.generate_key(bit_length=256)).encrypt(os.urandom(12), data, None)
        (out / path.name).write_bytes(sealed)
        (out / (path.name + ".thumb")).write_bytes(thumb.getvalue())
    return {"seconds": time.perf_counter() - start}


def import_job(folder: Path, archive_path: Path) -> dict[str, float]:
    from dermarchive.archive import Archive, records
    from dermarchive.ingest import ImportOptions, run_import, scan

    start = time.perf_counter()
    archive = Archive.open(archive_path, "bench", PASSPHRASE)
    unlocked = time.perf_counter()
    plan = scan(folder, archive)
    scanned = time.perf_counter()
    patient = records.patient_by_nhi(archive, "ZZZ0016")
    result = run_import(archive, plan, ImportOptions(patient.id))
    archive.close()
    end = time.perf_counter()
    assert len(result.imported) == len(plan.entries), result.counts()
    return {"seconds": end - start, "unlock": unlocked - start, "scan": scanned - unlocked,
            "import": end - scanned, "photos": len(result.imported)}


def previews_job(archive_path: Path) -> dict[str, float]:
    from dermarchive.archive import Archive
    from dermarchive.ingest.previews import make_missing_previews

    archive = Archive.open(archive_path, "bench", PASSPHRASE)
    start = time.perf_counter()
    made = make_missing_previews(archive)
    seconds = time.perf_counter() - start
    archive.close()
    return {"seconds": seconds, "photos": made}


def child(kind: str, folder: str, target: str) -> None:
    if kind == "floor":
        res = floor(Path(folder), Path(target))
    elif kind == "previews":
        res = previews_job(Path(target))
    else:
        res = import_job(Path(folder), Path(target))
    print(json.dumps(res))


def run_child(kind: str, folder: Path, target: Path) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(folder), str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{kind} child failed (status {status})")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    # CPU time used, whatever else the machine was running (wall time depends on the load).
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    return result


def new_archive(where: Path) -> Path:
    from dermarchive.archive import Archive, records

    path = where / "archive"
    with Archive.create(path, "bench", PASSPHRASE) as archive:  # real, calibrated Argon2id
        records.add_patient(archive, "ZZZ0016", "Bench", "Synthetic")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="120,600", help="photo counts; the first is timed against the floor")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    summary: dict[str, object] = {"cores": os.cpu_count()}
    for n in sizes:
        folder = photos(n)
        mb = sum(p.stat().st_size for p in folder.iterdir()) / n / 1e6
        with tempfile.TemporaryDirectory(prefix="dermarchive-bench-") as tmp:
            work = Path(tmp)
            if n == sizes[0]:
                fl = run_child("floor", folder, work / "floor")
                print(f"{n} photos ({mb:.1f} MB each): one-core floor {fl['seconds']:.1f} s "
                      f"({fl['seconds'] / n * 1000:.0f} ms/photo, {fl['cpu_seconds']} s CPU), "
                      f"peak RSS {fl['peak_rss_mib']} MiB", flush=True)
                summary[f"floor_{n}"] = fl
                shutil.rmtree(work / "floor")
            archive = new_archive(work)
            im = run_child("import", folder, archive)
            print(f"{n} photos: import {im['seconds']:.1f} s (unlock {im['unlock']:.1f} s, scan {im['scan']:.1f} s, "
                  f"import {im['import']:.1f} s; {im['seconds'] / n * 1000:.0f} ms/photo, {im['cpu_seconds']} s CPU), "
                  f"peak RSS {im['peak_rss_mib']} MiB", flush=True)
            summary[f"import_{n}"] = im
            if n == sizes[0] and (Path(__file__).resolve().parents[1] / "dermarchive/ingest/previews.py").exists():
                pv = run_child("previews", folder, archive)
                print(f"{n} photos: previews made later by the idle job (one core, not in the ratio) "
                      f"{pv['seconds']:.1f} s for {pv['photos']:.0f} ({pv['cpu_seconds']} s CPU)", flush=True)
                summary[f"previews_later_{n}"] = pv
    first = sizes[0]
    ratio = summary[f"import_{first}"]["seconds"] / summary[f"floor_{first}"]["seconds"]  # type: ignore[index]
    print(f"import / floor = {ratio:.2f} (target ≤ 0.8, then 0.6); load average now {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores (wall times stretch with it)")
    summary["import_over_floor"] = round(ratio, 2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
