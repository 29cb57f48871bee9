"""system.return_freed_memory: one branch per OS (each selected here; only Linux actually runs)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from dermarchive.system import map_large_blocks, return_freed_memory


def _glibc() -> bool:
    try:
        ctypes.CDLL(None).malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.parametrize("platform", ["win32", "darwin", "freebsd14"])
def test_other_systems_need_no_asking(platform: str) -> None:
    assert return_freed_memory(platform) is False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="needs Linux with glibc")
def test_on_linux_freed_heap_memory_goes_back_to_the_os() -> None:
    """100 MB of freed 1 KB blocks (photo rows, records) stay resident until asked for."""
    script = """
import os, sys
from dermarchive.system import return_freed_memory
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
blocks = [bytes(1000) + bytes([i % 256]) for i in range(100_000)]
kept = blocks[::64]  # a few stay (as in a real heap): it cannot simply shrink from its top
del blocks
before = rss()
assert return_freed_memory() is True
after = rss()
print(before - after, before, after, file=sys.stderr)
print(before - after)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert float(out.stdout) > 50, f"only {out.stdout.strip()} MB went back ({out.stderr.strip()})"


@pytest.mark.parametrize("platform", ["win32", "darwin", "freebsd14"])
def test_other_systems_map_large_blocks_already(platform: str) -> None:
    assert map_large_blocks(platform) is False


# Photos decoded in worker threads and freed, after one photo-sized block has been freed (which is
# when glibc starts keeping such blocks in the heaps); printed: MB still resident after lock's trim.
_DECODES_IN_WORKERS = """
import gc, os, threading
from dermarchive.system import return_freed_memory
{start}
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
before = rss()
first = bytearray(12_000_000)
del first
kept = []
def decode_photos():
    for _ in range(4):
        photo = bytearray(12_000_000)  # a decoded 2000x2000 photo
        kept.append(bytes(200))        # a record that outlives it
        del photo
workers = [threading.Thread(target=decode_photos) for _ in range(4)]
for t in workers:
    t.start()
for t in workers:
    t.join()
gc.collect()
return_freed_memory()
print(rss() - before)
"""


def _resident_after_decodes(start: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _DECODES_IN_WORKERS.format(start=start)], capture_output=True,
                         text=True, env=env, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="needs Linux with glibc")
def test_photos_decoded_in_workers_go_back_to_the_os_once_the_desktop_app_has_started() -> None:
    """The level after each lock must not wander up with whichever worker decoded the biggest photo."""
    started = _resident_after_decodes("from dermarchive.gui.app import application\napplication()")
    assert started < 4, f"{started:.1f} MB of freed photos stayed resident after lock's trim"


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="needs Linux with glibc")
def test_without_mapping_freed_photos_stay_in_the_worker_heaps() -> None:
    """What map_large_blocks is for: glibc left alone keeps them even after malloc_trim (if this
    fails, a newer glibc no longer does, and map_large_blocks can go)."""
    assert _resident_after_decodes("") > 10
