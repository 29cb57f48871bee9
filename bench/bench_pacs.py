"""Benchmark (run by hand): DICOM pixel routes and fidelity, and sending 100 phone photos to a
local Orthanc by DermArchive's STOW-RS against a plain ``curl`` STOW-RS of the same files.

    python bench/bench_pacs.py [--count 100]

Needs the Debian packages orthanc + orthanc-dicomweb (.ci/setup-orthanc.sh) and curl. Uses
synthetic patients (ZZZ… test NHIs) and the real-photo corpus; everything goes to a temporary
folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.dicom import pacs  # noqa: E402
from dermarchive.dicom.build import build_instance  # noqa: E402
from dermarchive.dicom.pixels import pixels_for_dicom  # noqa: E402
from tests.conftest import corpus_dir  # noqa: E402
from tests.orthanc_fixture import (ORTHANC_PASSWORD, ORTHANC_USER, add_consent, add_photo,  # noqa: E402
                                   progressive_from, start_orthanc)

PHONE_PHOTOS = ("jolla.jpg", "iphone_hdr_NO.jpg", "HMD_Nokia_8.3_5G.jpg", "Apple iPhone 4S.jpg",
                "87_OSError.jpg", "landscape_1.jpg", "landscape_6.jpg", "45-gps_ifd.jpg")


def _upright(data: bytes) -> np.ndarray:
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def fidelity(corpus: Path) -> None:
    print("== DICOM pixel routes and fidelity (PSNR of the DICOM frame against the upright source)")
    cases = [("jolla.jpg", 1, None), ("Apple iPhone 4S.jpg", 6, None), ("landscape_6.jpg", 6, None),
             ("landscape_3.jpg", 3, None), ("landscape_1.jpg", 1, None), ("jolla.jpg", 1, progressive_from),
             ("clipboard_target.png", 1, None), ("arrow.heic", 1, None), ("IMG_5195.HEIC", 1, None),
             ("pug.heic", 1, None)]
    for name, orientation, transform in cases:
        data = (corpus / name).read_bytes()
        if transform:
            data = transform(data)
        t = time.perf_counter()
        px = pixels_for_dicom(data, orientation)
        ms = (time.perf_counter() - t) * 1000
        if px.encapsulated:
            got = _upright(px.data)
        else:
            got = np.frombuffer(px.data, np.uint8).reshape(px.rows, px.columns, px.samples)
        with Image.open(io.BytesIO(data)) as img:
            img.load()
        source = _upright(data) if orientation == 1 else np.asarray(
            img.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270}[orientation]).convert("RGB"))
        label = name + (" (progressive)" if transform else "") + (f" o{orientation}" if orientation != 1 else "")
        print(f"  {label:32s} {px.route:20s} {px.columns}x{px.rows:<5d} {len(data) / 1e6:6.2f} MB -> "
              f"{len(px.data) / 1e6:6.2f} MB  PSNR {_psnr(got, source):6.2f} dB  {ms:6.0f} ms")


def build_archive(folder: Path, corpus: Path, count: int) -> tuple[Archive, int, list[int]]:
    archive = Archive.create(folder / "archive", "bench", "bench passphrase 42", kdf=CHEAP_TEST_PARAMS)
    patient = records.add_patient(archive, "ZZZ0024", "Bench-Ōtaki", "Ana")
    visit = records.add_visit(archive, patient.id, "2024-05-01")
    datas = [(corpus / n).read_bytes() for n in PHONE_PHOTOS]
    ids = [add_photo(archive, visit, datas[i % len(datas)]) for i in range(count)]
    add_consent(archive, visit, ["clinical.documentation"])
    return archive, patient.id, ids


def curl_stow(files: list[Path], url: str, folder: Path) -> float:
    """One curl process per file, multipart/related body prepared beforehand (not timed).
    ``Expect:`` is emptied: curl otherwise waits for a "100 Continue" Orthanc never sends."""
    bodies = []
    for i, f in enumerate(files):
        boundary = uuid.uuid4().hex
        body = folder / f"body{i}"
        body.write_bytes(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + f.read_bytes()
                         + b"\r\n--" + boundary.encode() + b"--\r\n")
        bodies.append((body, boundary))
    start = time.perf_counter()
    for body, boundary in bodies:
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-u", f"{ORTHANC_USER}:{ORTHANC_PASSWORD}",
                        "-H", f'Content-Type: multipart/related; type="application/dicom"; boundary={boundary}',
                        "-H", "Accept: application/dicom+json", "-H", "Expect:", "--data-binary", f"@{body}", f"{url}/studies"],
                       check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    corpus = corpus_dir()
    fidelity(corpus)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pacs-"))
    try:
        archive, patient_id, ids = build_archive(tmp, corpus, args.count)
        images = records.images(archive, image_ids=ids)
        t = time.perf_counter()
        instances = [build_instance(archive, img) for img in images]
        build_s = time.perf_counter() - t
        total_mb = sum(len(i.pixels.data) for i in instances) / 1e6
        routes = Counter(i.pixels.route for i in instances)
        print(f"== {args.count} phone photos ({total_mb:.0f} MB of JPEG frames; routes {dict(routes)})")
        print(f"  building DICOM instances only:     {build_s:6.2f} s  {args.count / build_s:6.1f} img/s")

        server = start_orthanc(tmp / "orthanc-ours")
        try:
            pacs.set_target(archive, server.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD)
            t = time.perf_counter()
            summary = pacs.send_to_pacs(archive, patient_id)
            ours = time.perf_counter() - t
            assert summary["sent"] == args.count and len(server.instances()) == args.count
            t = time.perf_counter()
            again = pacs.send_to_pacs(archive, patient_id)
            resend = time.perf_counter() - t
            assert again["sent"] == 0 and len(server.instances()) == args.count
        finally:
            server.stop()

        files = []
        for n, inst in enumerate(instances):
            path = tmp / "files" / f"{n}.dcm"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(inst.to_bytes())
            files.append(path)
        server = start_orthanc(tmp / "orthanc-curl")
        try:
            curl_s = curl_stow(files, server.dicomweb, tmp)
            assert len(server.instances()) == args.count
        finally:
            server.stop()
        print(f"  DermArchive send (build + STOW-RS): {ours:6.2f} s  {args.count / ours:6.1f} img/s")
        print(f"  plain curl STOW-RS, same files:     {curl_s:6.2f} s  {args.count / curl_s:6.1f} img/s")
        print(f"  re-send (QIDO-RS finds all there):  {resend:6.2f} s  (0 sent, no duplicates)")
        archive.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
