"""The archive locks when the desktop locks its screen (a real D-Bus daemon, real signals)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtDBus import QDBusConnection, QDBusMessage

from dermarchive.gui.main_window import MainWindow
from tests.helpers import require_tool


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A private session bus (dbus-daemon), so the test never touches the desktop's own."""
    require_tool("dbus-daemon", "apt-get install dbus-daemon")  # skips on a fresh machine; CI installs it
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--print-address=1", "--nofork"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(5)


def _announce(address: str, name: str, path: str, interface: str, *args: Any) -> None:
    bus = QDBusConnection.connectToBus(address, name)
    assert bus.isConnected()
    message = QDBusMessage.createSignal(path, interface, "ActiveChanged")
    message.setArguments(list(args))
    assert bus.send(message)


@pytest.mark.parametrize("interface,path", [("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver"),
                                            ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver")])
def test_screen_lock_locks_the_archive(main_window: MainWindow, qtbot: Any, session_bus: str, demo_archive: Any,
                                       interface: str, path: str) -> None:
    listener = QDBusConnection.connectToBus(session_bus, f"listener-{interface}")
    assert main_window.screen_lock.listen(listener)
    _announce(session_bus, f"desktop-{interface}", path, interface, False)  # screensaver ends: nothing
    qtbot.wait(300)
    assert not main_window.locked
    _announce(session_bus, f"desktop2-{interface}", path, interface, True)
    qtbot.waitUntil(lambda: main_window.locked, timeout=5_000)
    assert not main_window.archive.is_open  # the key is forgotten
    assert main_window.patient_page.timeline_model.rowCount() == 0
    assert main_window.unlock_panel is not None
    with demo_archive.open() as archive:
        assert archive.audit.entries(archive.catalogue, action="lock")[-1].details == {"reason": "screen-lock"}
