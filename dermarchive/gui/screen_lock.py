"""Lock the archive when the desktop locks its screen (DESIGN §2: "locks on idle and on the
desktop's screen lock").

Qt has no portable signal for it, but Linux desktops announce it on D-Bus: the screensaver's
``ActiveChanged(true)`` on the session bus (freedesktop — KDE, Xfce, LXQt —, GNOME, Cinnamon,
MATE) and systemd-logind's ``Lock`` on the system bus (``loginctl lock-session``, most lock
screens). Where no bus is available (Windows, macOS, a bare session) nothing is connected and the
idle timeout still covers an unattended workstation.
"""

from __future__ import annotations

from PySide6.QtCore import SLOT, QObject, Signal, Slot
from PySide6.QtDBus import QDBusConnection

SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver"),
    ("org.freedesktop.ScreenSaver", "/ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver"),
    ("org.cinnamon.ScreenSaver", "/org/cinnamon/ScreenSaver"),
    ("org.mate.ScreenSaver", "/org/mate/ScreenSaver"),
)
LOGIND_SESSION = "org.freedesktop.login1.Session"


class ScreenLockWatcher(QObject):
    screenLocked = Signal()

    def __init__(self, parent: QObject | None = None, *, system_buses: bool = True) -> None:
        super().__init__(parent)
        self.sources: list[str] = []
        if system_buses:
            self.listen(QDBusConnection.sessionBus())
            system = QDBusConnection.systemBus()
            if system.isConnected() and system.connect("", "", LOGIND_SESSION, "Lock", self, SLOT("_session_lock()")):
                self.sources.append("logind")

    def listen(self, bus: QDBusConnection) -> bool:
        """Listen for the screensavers' ActiveChanged on ``bus``; True if any match was added."""
        if not bus.isConnected():
            return False
        added = False
        for interface, path in SCREENSAVERS:
            if bus.connect("", path, interface, "ActiveChanged", self, SLOT("_active_changed(bool)")):
                added = True
        if added:
            self.sources.append(bus.name() or "session")
        return added

    @Slot(bool)
    def _active_changed(self, active: bool) -> None:
        if active:
            self.screenLocked.emit()

    @Slot()
    def _session_lock(self) -> None:
        self.screenLocked.emit()
