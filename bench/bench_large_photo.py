"""Peak memory of a 200 MP phone photo through import and every output path (issue 14: ≤ 1 GB).

Each path runs in a fresh process, so its peak RSS (``VmHWM``; not ``ru_maxrss``, which Linux
carries over from the forking parent) is that path's alone (Linux only); beside it
the same path for a 12 MP phone photo (the reference, measured in the same run). The photos are
made by tests/corpus/generate.py: a 16320×12240 JPEG with EXIF orientation 6 (so every output
must turn it) and, with ``--heic``, a 200 MP HEIC (encoding it takes minutes).

    PYTHONPATH=. python bench/bench_large_photo.py [--heic] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 1024
PATHS = ("import", "viewer", "referral", "de-identified", "DICOM", "patient copy")

CHILD = r'''
import json, resource, sys, time, io
from pathlib import Path
path, src, stored, orientation, fmt, work = sys.argv[1:7]
orientation = int(orientation)
t = time.perf_counter()
if path == "import":
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
    from dermarchive.ingest import ImportOptions, run_import, scan
    folder = Path(work) / "phone"
    folder.mkdir()
    (folder / Path(src).name).write_bytes(Path(src).read_bytes())
    with Archive.create(Path(work) / "archive", "bench", "correct horse 42", kdf=CHEAP_TEST_PARAMS) as a:
        patient = records.add_patient(a, "ZZZ0016", "Bench", "Pat")
        plan = scan(folder, a)
        result = run_import(a, plan, ImportOptions(patient.id))
        assert len(result.imported) == 1, [(o.status, o.reason) for o in result.outcomes]
        image = records.get_image(a, result.imported[0])
        Path(stored).write_bytes(records.image_bytes(a, image))
        Path(stored + ".orientation").write_text(str(image.orientation))
else:
    data = Path(stored).read_bytes()
    # (the fallbacks run this bench on the code before issue 14, for the "before" figures)
    if path == "viewer":
        from dermarchive.gui.thumbnails import decode_image
        try:
            q = decode_image(data, orientation=orientation)
        except TypeError:
            q = decode_image(data)
        assert not q.isNull()
    elif path == "referral":
        from dermarchive.exports.referral_pdf import print_photo
        try:
            print_photo(data, orientation=orientation)
        except TypeError:
            print_photo(data)
    elif path == "de-identified":
        from dermarchive.exports.deidentified import _render
        _render(data, orientation, [])
    elif path == "DICOM":
        from dermarchive.dicom import pixels
        turn = getattr(pixels, "stored_orientation", getattr(pixels, "exif_orientation", None))
        px = pixels.pixels_for_dicom(data, turn(data, orientation))
        print(px.route, getattr(px, "note", ""), file=sys.stderr)
    elif path == "patient copy":
        from dermarchive.exports import patient_access
        class Image: stored_format = fmt; orientation = orientation
        getattr(patient_access, "_patient_copy", lambda d, i: d)(data, Image)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # e.g. jpegtran (an upper bound)
print(json.dumps({"peak_mb": max(hwm, kids) // 1024,
                  "seconds": round(time.perf_counter() - t, 1)}))
'''


def run(path: str, src: Path, stored: Path, work: Path) -> dict[str, float]:
    orientation = stored.with_name(stored.name + ".orientation")
    fmt = "JPEG"
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    sub = work / path.replace(" ", "-")
    sub.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD, path, str(src), str(stored),
                           orientation.read_text() if orientation.exists() else "1", fmt, str(sub)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}  # type: ignore[dict-item]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "Warning" in done.stderr:
        result["stderr"] = done.stderr.strip()[:200]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heic", action="store_true", help="also a 200 MP HEIC (encoding it takes minutes)")
    parser.add_argument("--heic-file", type=Path, help="a 200 MP HEIC made earlier")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.corpus.generate import large_heic, large_jpeg

    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        work = Path(tmp)
        photos = {"200 MP JPEG": work / "phone-200mp.jpg", "12 MP JPEG (reference)": work / "phone-12mp.jpg"}
        t = time.perf_counter()
        photos["200 MP JPEG"].write_bytes(large_jpeg())
        photos["12 MP JPEG (reference)"].write_bytes(large_jpeg((4032, 3024)))
        if args.heic_file:
            photos["200 MP HEIC"] = args.heic_file
        elif args.heic:
            (work / "phone-200mp.heic").write_bytes(large_heic())
            photos["200 MP HEIC"] = work / "phone-200mp.heic"
        print(f"photos made in {time.perf_counter() - t:.0f} s")
        table: dict[str, dict[str, dict[str, float]]] = {}
        for label, src in photos.items():
            stored = work / f"stored-{src.name}"
            table[label] = {}
            for path in PATHS:
                table[label][path] = run(path, src, stored, work / label.replace(" ", "_"))
        print(f"\npeak RSS per path (MB; limit {LIMIT_MB} MB), each in a fresh process")
        labels = list(table)
        print(f"{'path':<15}" + "".join(f"{label:>26}" for label in labels))
        worst = 0.0
        for path in PATHS:
            cells = []
            for label in labels:
                r = table[label][path]
                if "error" in r:
                    cells.append(f"{'ERROR':>26}")
                    print(f"  {label} {path}: {r['error']}", file=sys.stderr)
                    continue
                cells.append(f"{r['peak_mb']:>10.0f} MB {r['seconds']:>8.1f} s   ")
                if "200 MP" in label:
                    worst = max(worst, r["peak_mb"])
                if "stderr" in r:
                    print(f"  {label} {path}: stderr {r['stderr']}", file=sys.stderr)
            print(f"{path:<15}" + "".join(cells))
        print(f"\nworst 200 MP path: {worst:.0f} MB ({'within' if worst <= LIMIT_MB else 'OVER'} the {LIMIT_MB} MB limit)")


if __name__ == "__main__":
    main()
