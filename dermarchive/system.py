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


# Windows file attributes of files a cloud client (OneDrive, iCloud for Windows, Dropbox) has not
# downloaded yet: opening them starts a download, so they are not ready to import.
_WIN_OFFLINE = 0x1000                  # FILE_ATTRIBUTE_OFFLINE
_WIN_RECALL_ON_OPEN = 0x40000          # FILE_ATTRIBUTE_RECALL_ON_OPEN
_WIN_RECALL_ON_DATA_ACCESS = 0x400000  # FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS
_MAC_DATALESS = 0x40000000             # SF_DATALESS: an iCloud Drive file whose data is in the cloud


def cloud_placeholder(name: str, st: os.stat_result, platform: str = sys.platform) -> bool:
    """Whether a synced folder's file is only a placeholder of a photo still in the cloud.

    Windows: the offline/recall attributes. macOS: a "dataless" file, or iCloud's
    ``.name.icloud`` stand-in. Linux (and everywhere): the ``.icloud`` stand-in and empty files a
    sync client has created but not yet filled."""
    if name.lower().endswith(".icloud") or st.st_size == 0:
        return True
    if platform == "win32":
        attrs = getattr(st, "st_file_attributes", 0)
        return bool(attrs & (_WIN_OFFLINE | _WIN_RECALL_ON_OPEN | _WIN_RECALL_ON_DATA_ACCESS))
    if platform == "darwin":
        return bool(getattr(st, "st_flags", 0) & _MAC_DATALESS)
    return False
