"""Patient search and list at practice scale (issue 19; run by hand, prints figures, asserts nothing).

    python bench/bench_search.py [--patients 50000] [--runs 5]

Builds a real encrypted archive (cheap Argon2: benchmark only) holding N patients with a
realistic spread of family names (a few very common ones, a long tail) and some photos, then
measures, each as the median of several runs, side by side with a reference in the same run:

* in the core: ``records.find_patients`` for a common family name, an NHI prefix, a rare name,
  and the whole list; reference: the bare id query over the same rows (no counts, no order);
* on the command line: ``dermarchive patients --search NAME`` and ``dermarchive patients --json``,
  beyond start-up and unlock, which ``dermarchive audit --last 1`` (one row) measures in the same run.

Targets: core search and list ≤ 50 ms; CLI search ≤ 0.3 s and full JSON list ≤ 1.0 s beyond
start-up and unlock.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DERMARCHIVE_STATE_DIR", tempfile.mkdtemp(prefix="dermarchive-bench-state-"))

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records  # noqa: E402
from dermarchive.archive.header import now_iso  # noqa: E402
from dermarchive.demo import test_nhis  # noqa: E402

USER, PASSPHRASE = "bench", "bench passphrase 1"
COMMON = ["Smith", "Wilson", "Williams", "Brown", "Taylor", "Ngata", "Wong", "Patel", "Singh", "Lee"]
GIVENS = ["Aroha", "James", "Mei", "Sione", "Priya", "Tom", "Hana", "Rawiri", "Grace", "Luca", "Olivia", "Noah"]


def family_names(n: int, rng: random.Random) -> list[str]:
    """About 25 % of patients share the ten common names (Smith alone ~5 %); the rest are rare."""
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.05:
            out.append("Smith")
        elif r < 0.25:
            out.append(rng.choice(COMMON[1:]))
        else:
            out.append(f"{rng.choice(['Ka', 'Ma', 'Te', 'Ro', 'Li', 'Va', 'Ha', 'Po'])}"
                       f"{rng.choice(['nui', 'kere', 'wai', 'ton', 'son', 'berg', 'ley', 'ford'])}{i % 997}")
    return out


def build(path: Path, n: int) -> None:
    rng = random.Random(19)
    archive = Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS)
    started = time.perf_counter()
    nhis = test_nhis(n)
    families = family_names(n, rng)
    # Bulk rows: the benchmark's own fixture (the app adds patients through records.add_patient
    # or `dermarchive patient import`, one audited row each).
    with archive.transaction() as tx:
        for i, nhi in enumerate(nhis):
            tx.execute("INSERT INTO patient (nhi, family, given, dob, created_at) VALUES (?, ?, ?, ?, ?)",
                       (nhi, families[i], rng.choice(GIVENS), f"{1930 + i % 80}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                        now_iso()))
        # one visit with a few photo rows for every 20th patient, so image counts are not all zero
        blob = archive.store_blob(tx, b"bench placeholder blob")
        for pid in range(1, n + 1, 20):
            vid = records.add_visit(archive, pid, "2025-03-01", tx=tx)
            for k in range(3):
                records.insert_image(archive, tx, visit_id=vid, lesion_id=None, kind="clinical", blob_id=blob,
                                     width=10, height=10, original_format="JPEG", stored_format="JPEG",
                                     taken_at=f"2025-03-01T09:0{k}:00", thumb_blob_id=blob)
    archive.close()
    print(f"built {n:,} patients in {time.perf_counter() - started:.1f} s", flush=True)


def median_ms(fn, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = len(fn())
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), size


def median_s(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dermarchive-bench-search-") as tmp:
        path = Path(tmp) / "archive"
        build(path, args.patients)
        with Archive.open(path, USER, PASSPHRASE) as archive:
            def ids_only() -> list[object]:
                return archive.catalogue.query("SELECT id FROM patient WHERE family LIKE ?", ("%smith%",))

            print(f"\ncore, median of {args.runs} (ms):")
            ref, hits = median_ms(ids_only, args.runs)
            print(f"  reference: ids of 'smith' rows, bare query     {ref:7.1f} ms  ({hits} rows)")
            for label, term in [("common name 'smith'", "smith"), ("NHI prefix 'ZZZ00'", "ZZZ00"),
                                ("rare name 'kanui5'", "kanui5"), ("whole list", "")]:
                ms, hits = median_ms(lambda t=term: records.find_patients(archive, t), args.runs)
                print(f"  find_patients: {label:<28} {ms:7.1f} ms  ({hits} rows; {ms / max(ref, 0.01):.1f}x the reference)")
        secret = Path(tmp) / "pass"
        secret.write_text(PASSPHRASE)
        env = {**os.environ, "DERMARCHIVE_PASSPHRASE_FILE": str(secret), "DERMARCHIVE_USER": USER}
        cli = [sys.executable, "-m", "dermarchive"]
        base = median_s([*cli, "audit", str(path), "--last", "1"], args.runs, env)
        search = median_s([*cli, "patients", str(path), "--search", "smith"], args.runs, env)
        listing = median_s([*cli, "patients", str(path), "--json"], args.runs, env)
        print(f"\ncommand line, median of {args.runs} (s):")
        print(f"  reference: audit --last 1 (start-up + unlock)    {base:6.2f} s")
        print(f"  patients --search smith                          {search:6.2f} s  (+{search - base:.2f} s beyond)")
        print(f"  patients --json (whole list)                     {listing:6.2f} s  (+{listing - base:.2f} s beyond)")


if __name__ == "__main__":
    main()
