"""system.return_freed_memory: one branch per OS (each selected here; only Linux actually runs)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from dermarchive.system import return_freed_memory


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
