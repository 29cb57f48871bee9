"""Work spread over the machine's cores with threads, results in input order, memory bounded.

The heavy steps of checking and copying blobs (AES-GCM in ``cryptography``, SHA-256/HMAC in
``hashlib`` on large buffers, file reads, writes and fsyncs) release the GIL, so threads use
every core. At most ``window`` items are in flight, so memory stays flat however many items
there are; results come back in input order so callers report progress and problems as before.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def workers(limit: int = 8) -> int:
    """Threads to use: one per core (at least 2, so a read waiting on the disk overlaps a decrypt)."""
    return max(2, min(limit, os.cpu_count() or 2))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, threads: int | None = None,
                window: int | None = None, cancelled: Callable[[], bool] = lambda: False) -> Generator[R, None, None]:
    """``map(fn, items)`` on ``threads`` threads, yielding in order; stops submitting once
    ``cancelled()`` (items already in flight finish and are yielded). Exceptions propagate."""
    threads = threads or workers()
    window = window or threads * 2
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dermarchive-work") as pool:
        try:
            for item in items:
                if cancelled():
                    break
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
