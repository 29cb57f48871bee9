"""Practice scale (run by hand): 20,000 photos against 20, and each whole-archive job against its reference.

Target (issue 19): opening costs the same at 20,000 photos as at 20; ``verify`` reads at the speed
``backup verify`` does or better; a full backup <= 1.2x ``cp -a`` plus sync; an incremental backup
costs what changed; restore likewise.

    python bench/bench_scale.py [--photos 20000] [--patients 400] [--keep DIR]

Builds (or, with --keep, reuses from an earlier run) an archive of --photos phone-shaped photos over
--patients patients, three blobs each (original ~150 KB, preview, thumbnail: 60,000 blob files for
20,000 photos, like the issue's 4.4 GB practice at a smaller size per photo so the disk holds it),
plus a 20-photo archive built the same way (with --keep, each run's incremental backup leaves its 10
new photos in the large one). The KDF is the test one: the figures are what grows with
the archive, not the key derivation (``bench_startup.py`` measures that). Figures, each with its
reference measured in the same run:

* open + close of the archive, and ``dermarchive info`` as a fresh process, at 20,000 and at 20;
* patient search and the whole patient list at --patients;
* ``verify`` against ``backup verify`` with the passphrase, over the same bytes;
* the first backup against ``cp -a`` + ``sync -f``; an incremental one after 10 new photos; restore
  (with its full check) against ``cp -a`` + sync of the backup folder.

To measure another checkout with the same script: ``DERMARCHIVE_CODE=/other/checkout``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

CODE = os.environ.get("DERMARCHIVE_CODE") or str(Path(__file__).resolve().parents[1])
sys.path.insert(0, CODE)

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.archive.verify import verify  # noqa: E402
from dermarchive.backup import create as bk  # noqa: E402
from dermarchive.backup.restore import verify_backup  # noqa: E402
from dermarchive.demo import test_nhis  # noqa: E402

USER, PASSPHRASE = "bench", "bench scale passphrase 19"
PER_PATIENT_BATCH = 50


def _noise(width: int, height: int, quality: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


_BLOBS: dict[str, bytes] = {}


def blobs(n: int) -> tuple[bytes, bytes, bytes]:
    """Original (~150 KB), preview (~40 KB), thumbnail (~10 KB), unique per ``n``."""
    if not _BLOBS:
        _BLOBS.update(original=_noise(560, 420, 88), preview=_noise(280, 210, 85), thumb=_noise(120, 90, 80))
    tail = n.to_bytes(4, "big")
    return _BLOBS["original"] + tail, _BLOBS["preview"] + tail, _BLOBS["thumb"] + tail


def add_photos(archive: Archive, visit_id: int, start: int, count: int) -> int:
    total = 0
    with archive.transaction() as tx:
        for n in range(start, start + count):
            data = blobs(n)
            total += sum(map(len, data))
            ids = [archive.store_blob(tx, b) for b in data]
            records.insert_image(archive, tx, visit_id=visit_id, kind="clinical", blob_id=ids[0],
                                 preview_blob_id=ids[1], thumb_blob_id=ids[2], width=560, height=420,
                                 original_format="JPEG", stored_format="JPEG")
    return total


def build(path: Path, photos: int, patients: int) -> None:
    started = time.perf_counter()
    archive = Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS)
    size, n = 0, 0
    per = max(1, photos // patients)
    for i, nhi in enumerate(test_nhis(patients)):
        patient = records.add_patient(archive, nhi, f"Scale{i}", "Bench")
        visit = records.add_visit(archive, patient.id, "2026-01-01")
        count = per if i < patients - 1 else photos - n
        for first in range(0, count, PER_PATIENT_BATCH):
            size += add_photos(archive, visit, n + first, min(PER_PATIENT_BATCH, count - first))
        n += count
        if i % 50 == 0:
            print(f"  built {n} / {photos} photos ({time.perf_counter() - started:.0f} s)", flush=True)
    archive.close()
    (path.parent / f"{path.name}.built").write_text(f"{photos} {size}\n")
    print(f"built {photos} photos, {size / 1e9:.2f} GB of JPEG, in {time.perf_counter() - started:.0f} s", flush=True)


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def median_of(repeat: int, fn, *args) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    runs = [timed(fn, *args)[1] for _ in range(repeat)]
    return statistics.median(runs), runs


def open_close(path: Path) -> None:
    Archive.open(path, USER, PASSPHRASE).close()


def info_process(path: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "dermarchive.cli", "info", str(path), "--user", USER],
                   env=env, check=True, stdout=subprocess.DEVNULL, cwd=env["DERMARCHIVE_STATE_DIR"])


def copy_and_sync(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)
    subprocess.run(["sync", "-f", str(dest)], check=True)


def runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=20000)
    ap.add_argument("--patients", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="build the archives here once and reuse them")
    args = ap.parse_args()
    keep = args.keep
    root = keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-run-", dir=root))
    state = work / "state"
    state.mkdir()
    os.environ["DERMARCHIVE_STATE_DIR"] = str(state)
    (work / "pass").write_text(PASSPHRASE + "\n")
    env = {**os.environ, "PYTHONPATH": CODE, "DERMARCHIVE_STATE_DIR": str(state),
           "DERMARCHIVE_PASSPHRASE_FILE": str(work / "pass"), "XDG_CONFIG_HOME": str(work / "config")}
    print(f"code: {CODE}")
    big, small = root / f"archive-{args.photos}", root / "archive-20"
    try:
        for path, photos, patients in ((big, args.photos, args.patients), (small, 20, 2)):
            if not (root / f"{path.name}.built").exists():
                shutil.rmtree(path, ignore_errors=True)
                build(path, photos, patients)
        gb = int((root / f"{big.name}.built").read_text().split()[1]) / 1e9
        files = sum(len(f) for _, _, f in os.walk(big / "blobs"))
        print(f"archive: {args.photos} photos, {args.patients} patients, {files} blob files, {gb:.2f} GB of JPEG")
        subprocess.run(["sync"], check=True)

        # Opening: the same at 20,000 photos as at 20 (alternating, so the machine's moods hit both).
        o_big, o_small, i_big, i_small = [], [], [], []
        for _ in range(args.repeat):
            o_big.append(timed(open_close, big)[1])
            o_small.append(timed(open_close, small)[1])
            i_big.append(timed(info_process, big, env)[1])
            i_small.append(timed(info_process, small, env)[1])
        for label, a, b in (("open + close", o_big, o_small), ("`info` as a process", i_big, i_small)):
            ma, mb = statistics.median(a), statistics.median(b)
            print(f"{label:<22} {args.photos}: {ma:6.3f} s   20: {mb:6.3f} s   difference {ma - mb:+.3f} s"
                  f"   runs {runs(a)} | {runs(b)}")

        archive = Archive.open(big, USER, PASSPHRASE)
        try:
            (_, t_search) = timed(records.find_patients, archive, "scale12")
            (listed, t_list) = timed(records.find_patients, archive, "")
            print(f"search 'scale12': {t_search * 1000:.1f} ms   whole list ({len(listed)}): {t_list * 1000:.1f} ms")

            dest = work / "backup"
            first, t_first = timed(bk.backup, archive, dest, create=True)
            _, t_cp = timed(copy_and_sync, big, work / "cp")
            shutil.rmtree(work / "cp")
            print(f"first backup:   {t_first:7.2f} s  ({first.copied} blobs, {first.copied_bytes / 1e9:.2f} GB)")
            print(f"cp -a + sync:   {t_cp:7.2f} s  (reference)   first backup / reference = {t_first / t_cp:.2f}"
                  "  (target <= 1.20)")

            patient = records.find_patients(archive, "scale0")[0]
            visit = records.add_visit(archive, patient.id, "2026-02-02")
            # photo numbers after every photo already there (earlier --keep runs left theirs): new content
            add_photos(archive, visit, archive.catalogue.scalar("SELECT count(*) FROM image"), 10)
            second, t_second = timed(bk.backup, archive, dest)
            print(f"incremental backup of 10 new photos: {t_second:.2f} s ({second.copied} blobs copied)")

            problems, t_verify = timed(verify, archive)
        finally:
            archive.close()
        check, t_bverify = timed(verify_backup, dest, passphrase=PASSPHRASE)
        print(f"verify:                          {t_verify:7.2f} s  ({len(problems)} problems)")
        print(f"backup verify with passphrase:   {t_bverify:7.2f} s  (reference, ok={check.ok})"
              f"   verify / reference = {t_verify / t_bverify:.2f}  (target <= 1.00)")

        restored, t_restore = timed(bk.restore, dest, work / "restored", passphrase=PASSPHRASE)
        shutil.rmtree(work / "restored")
        _, t_cpr = timed(copy_and_sync, dest, work / "cp-restore")
        print(f"restore + full check:  {t_restore:7.2f} s ({restored.images} photos)")
        print(f"cp -a + sync of backup: {t_cpr:6.2f} s (reference)   restore / reference = {t_restore / t_cpr:.2f}")
        return 0 if not problems and check.ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
