"""What the desktop this runs on offers, asked in one place with a branch per OS.

Qt-free, so the faces can ask before they load Qt (a missing display must be a plain sentence,
not a Qt abort).
"""

from __future__ import annotations

import os
import sys


def display_available(platform: str = sys.platform) -> bool:
    """Whether a Qt window can be shown (a desktop session, or a Qt platform chosen explicitly).

    Windows and macOS always have their desktop; elsewhere an X11 or Wayland session says so in
    ``DISPLAY`` / ``WAYLAND_DISPLAY``.
    """
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def return_freed_memory(platform: str = sys.platform) -> bool:
    """Hand memory the process has freed back to the OS; True if this OS needed asking.

    Called after lock has dropped the decrypted photos, thumbnails and dialogs. Linux (glibc):
    freed blocks stay in the process's heaps (one arena per worker thread that decoded a photo),
    so the resident size after each lock creeps up over a day; ``malloc_trim(0)`` returns every
    free page, and the kernel zeroes a page before it gives it to anyone again. Windows and
    macOS need nothing: their allocators map photo-sized blocks (over ~0.5 MB on Windows, over
    ~128 KB on macOS) separately and unmap them when freed. A libc without ``malloc_trim``
    (musl) is left alone.
    """
    if platform in ("win32", "darwin") or not platform.startswith("linux"):
        return False
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
