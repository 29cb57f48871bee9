"""``dermarchive compare ARCHIVE --image A --image B --out DIR``, black-box: a real archive, a real
import of two JPEG files from a phone folder (the later one stored sideways with EXIF orientation
6, as phones do), then the command in a subprocess; its files are checked against the known
transform the photos were made with."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import piexif
from PIL import Image

from dermarchive.archive import Archive
from dermarchive.compare import registration, synthetic

from .conftest import PASSPHRASE, USER

W, H = 1600, 1200
NHI = "ZZZ0016"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dermarchive.cli", *args], capture_output=True, text=True)


def jpeg(pixels: np.ndarray, taken: str, orientation: int = 1) -> bytes:
    """A phone-style JPEG: pixels stored as the sensor read them, EXIF date and orientation."""
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Make: b"Apple",
                                piexif.ImageIFD.Model: b"iPhone 13"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode()}})
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def import_pair(cli_archive: list[str], tmp_path: Path, pair: synthetic.Pair, kind: str = "clinical") -> list[int]:
    phone = tmp_path / "phone"
    phone.mkdir()
    (phone / "IMG_0001.JPG").write_bytes(jpeg(pair.fixed, "2025:01:10 10:00:00"))
    # orientation 6: the stored pixels must be turned 90° clockwise to be upright
    sideways = np.asarray(Image.fromarray(pair.moving).transpose(Image.Transpose.ROTATE_90))
    (phone / "IMG_0002.JPG").write_bytes(jpeg(sideways, "2026:03:15 09:30:00", orientation=6))
    assert cli("patient", "add", *cli_archive, "--nhi", NHI, "--family", "Ngata").returncode == 0
    done = cli("import", *cli_archive, str(phone), "--patient", NHI, "--lesion", "L1", "--site", "forearm",
               "--laterality", "left", "--kind", kind)
    assert done.returncode == 0, done.stderr
    listing = cli("images", *cli_archive, "--patient", NHI, "--json")
    rows = json.loads(listing.stdout)["images"]
    assert len(rows) == 2
    return [r["id"] for r in sorted(rows, key=lambda r: r["taken_at"])]


def test_compare_writes_aligned_png_and_json(cli_archive, tmp_path):
    pair = synthetic.make_pair(W, H, rotation_deg=-12, scale=1.1, shift=(40.0, -30.0), seed=7)
    a, b = import_pair(cli_archive, tmp_path, pair)
    out = tmp_path / "cmp"
    proc = cli("compare", *cli_archive, "--image", str(a), "--image", str(b), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["aligned.png", "compare.json"]

    data = json.loads((out / "compare.json").read_text())
    assert set(data) == {"transform", "inliers", "residual_px", "interval_days"}
    assert data["interval_days"] == 429  # 2025-01-10 → 2026-03-15
    assert data["inliers"] >= registration.MIN_INLIERS and 0 <= data["residual_px"] < 1
    transform = np.array(data["transform"])
    assert transform.shape == (3, 3)
    # maps B's *upright* pixels to A's: right only if B was turned upright before registering
    assert registration.corner_error(pair.truth, transform, (W, H)) <= 0.8

    with Image.open(out / "aligned.png") as png:
        assert png.format == "PNG" and png.size == (W, H)  # A's size
        aligned = np.asarray(png.convert("RGB")).astype(np.int16)
    inside = aligned.sum(axis=2) > 0
    assert inside.mean() > 0.5
    # B lies over A where the true transform puts it (lighting differs from A, so compare with B
    # warped by the known transform; the files went through one more JPEG save on the "phone")
    expected = registration.warp(pair.moving, pair.truth, (W, H)).astype(np.int16)
    both = inside & (expected.sum(axis=2) > 0)
    off = np.abs(aligned - expected)[both].mean()
    unaligned = np.abs(pair.moving.astype(np.int16) - expected)[both].mean()
    assert off < 3 and unaligned > 2 * off  # B as stored, not laid over A, would fail

    # audited as a view of each photo, and as a comparison, without patient data in the details
    with Archive.open(cli_archive[0], USER, PASSPHRASE) as arch:
        rows = arch.catalogue.query("SELECT action, subject, details FROM audit ORDER BY seq")
    actions = [r["action"] for r in rows]
    assert actions.count("image.view") >= 2 and "image.compare" in actions
    assert not any(NHI in (r["subject"] or "") + (r["details"] or "") for r in rows)


def test_pair_that_does_not_align_writes_nothing_and_says_why(cli_archive, tmp_path):
    pair = synthetic.make_pair(W, H, seed=8, overlap=False)
    a, b = import_pair(cli_archive, tmp_path, pair)
    out = tmp_path / "cmp"
    proc = cli("compare", *cli_archive, "--image", str(a), "--image", str(b), "--out", str(out))
    assert proc.returncode == 4
    assert "could not be aligned" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_wrong_arguments_are_named(cli_archive, tmp_path):
    pair = synthetic.make_pair(800, 600, seed=9)
    a, b = import_pair(cli_archive, tmp_path, pair)
    one = cli("compare", *cli_archive, "--image", str(a), "--out", str(tmp_path / "x"))
    assert one.returncode == 2 and "exactly two photos" in one.stderr
    missing = cli("compare", *cli_archive, "--image", str(a), "--image", "999", "--out", str(tmp_path / "y"))
    assert missing.returncode == 2 and "Photo 999 is not in this archive" in missing.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    full = cli("compare", *cli_archive, "--image", str(a), "--image", str(b), "--out", str(busy))
    assert full.returncode == 2 and "not an empty folder" in full.stderr
    assert (busy / "keep.txt").read_text() == "mine"


def test_consent_form_photos_are_not_compared(cli_archive, tmp_path):
    pair = synthetic.make_pair(800, 600, seed=10)
    a, b = import_pair(cli_archive, tmp_path, pair, kind="consent-form")
    proc = cli("compare", *cli_archive, "--image", str(a), "--image", str(b), "--out", str(tmp_path / "c"))
    assert proc.returncode == 2 and "only clinical and dermoscopic photos" in proc.stderr
