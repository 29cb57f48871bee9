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
