"""Blob store throughput against bare AES-256-GCM in the same run, and unlock time.

Run by hand:  python bench/bench_crypto.py [--mb 256]
Prints MB/s for: bare AES-GCM (encrypt/decrypt 1 MiB chunks in memory, no I/O, no HMAC);
blob write (HMAC id + chunked GCM + atomic file write with fsync + catalogue row commit); blob
read (file read + unwrap + chunked GCM decrypt); and unlock time with calibrated Argon2id.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive
from dermarchive.archive.keys import calibrate


def bare_gcm(total: int, chunk: int = 1 << 20) -> tuple[float, float]:
    key, data = AESGCM.generate_key(256), os.urandom(chunk)
    aead = AESGCM(key)
    n = total // chunk
    t = time.perf_counter()
    sealed = [aead.encrypt(i.to_bytes(12, "big"), data, b"aad") for i in range(n)]
    enc = time.perf_counter() - t
    t = time.perf_counter()
    for i, s in enumerate(sealed):
        aead.decrypt(i.to_bytes(12, "big"), s, b"aad")
    dec = time.perf_counter() - t
    return total / enc / 1e6, total / dec / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256, help="total data to write (MB)")
    ap.add_argument("--photo-mb", type=float, default=4.0, help="size of each blob (MB)")
    args = ap.parse_args()
    total = args.mb * (1 << 20)
    size = int(args.photo_mb * (1 << 20))
    count = total // size

    enc, dec = bare_gcm(total)
    print(f"bare AES-256-GCM, 1 MiB chunks, in memory: encrypt {enc:8.0f} MB/s   decrypt {dec:8.0f} MB/s")

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        a = Archive.create(Path(tmp) / "a", "bench", "bench passphrase 1", kdf=CHEAP_TEST_PARAMS)
        payloads = [os.urandom(size) for _ in range(min(count, 8))]
        ids = []
        t = time.perf_counter()
        for i in range(count):
            data = payloads[i % len(payloads)][:-8] + i.to_bytes(8, "big")
            with a.transaction() as tx:
                ids.append(a.store_blob(tx, data))
        write = time.perf_counter() - t
        t = time.perf_counter()
        for blob_id in ids:
            a.read_blob(blob_id)
        read = time.perf_counter() - t
        print(f"blob store, {count} x {args.photo_mb:g} MB: write {count * size / write / 1e6:8.0f} MB/s "
              f"(with fsync + commit)   read {count * size / read / 1e6:8.0f} MB/s")
        a.close()

        params = calibrate()
        b = Archive.create(Path(tmp) / "b", "bench", "bench passphrase 1", kdf=params)
        b.close()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            Archive.open(Path(tmp) / "b", "bench", "bench passphrase 1").close()
            times.append(time.perf_counter() - t)
        print(f"unlock (Argon2id {params.iterations} passes, {params.memory_kib // 1024} MiB, "
              f"{params.lanes} lanes): median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
