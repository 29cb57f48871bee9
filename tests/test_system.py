"""The desktop app checks, before any long work, that Qt's platform plugin can load (issue 20).

The libraries are hidden for real: a mount namespace puts an empty file over the system's
libxcb-cursor.so.0 (root or user namespaces needed, else the test skips and says why), or a copy
of the xcb plugin looks for its Qt library in a folder that lacks it. In both, real Qt is the
judge: it must fail to load the same plugin that the check refuses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dermarchive import system
from dermarchive.system import (
    gui_problem,
    missing_libraries,
    platform_plugin_folder,
)

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux branch loads ELF libraries")


def _desktop_env(**extra: str) -> dict[str, str]:
    """The environment of an X11 desktop session (no server needed: the check runs before Qt)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "QT_QPA_PLATFORM_PLUGIN_PATH")}
    env.update(DISPLAY=":99", PYTHONPATH=str(REPO), **extra)
    return env


def _qt_starts(env: dict[str, str], wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Real Qt, as the app starts it: the judge of whether the platform plugin loads."""
    code = "from PySide6.QtGui import QGuiApplication; QGuiApplication(['judge'])"
    return subprocess.run([*(wrap or []), sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


# -- each OS branch, selected on Linux ------------------------------------------------------------
def test_windows_and_macos_have_nothing_to_check() -> None:
    # An environment in which the Linux branch refuses (no display) is fine for the others:
    # their platform plugins need nothing beyond the OS and PySide6's wheels.
    assert gui_problem({}, system="linux") is not None
    assert gui_problem({}, system="win32") is None
    assert gui_problem({}, system="darwin") is None


def test_linux_without_a_display_says_so() -> None:
    problem = gui_problem({}, system="linux")
    assert problem is not None and "no display is available" in problem.message and not problem.missing


@linux_only
@pytest.mark.parametrize("platform", ["offscreen", "minimal", "offscreen:fontengine=freetype"])
def test_memory_platforms_need_no_desktop_libraries(platform: str) -> None:
    assert gui_problem({"QT_QPA_PLATFORM": platform}, system="linux") is None


def test_platform_order_follows_qt() -> None:
    pick = system.platform_candidates
    assert pick({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert pick({"DISPLAY": ":0"}) == ["xcb"]
    assert pick({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == ["wayland", "xcb"]
    assert pick({"XDG_SESSION_TYPE": "wayland"}) == ["wayland"]
    assert pick({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == ["xcb"]
    assert pick({}) == []


@linux_only
def test_the_xcb_plugin_loads_on_this_machine_when_nothing_is_hidden() -> None:
    folder = platform_plugin_folder({})
    assert folder is not None and (folder / "libqxcb.so").is_file()
    missing = missing_libraries(folder / "libqxcb.so", {})
    if missing:  # a bare machine: the check and real Qt must agree that xcb cannot load
        judge = _qt_starts(_desktop_env(QT_QPA_PLATFORM="xcb"))
        assert judge.returncode != 0 and "xcb" in judge.stderr
        pytest.skip(f"this machine lacks {', '.join(missing)} (CI's .ci/setup-packaging.sh installs them)")
    assert gui_problem({"DISPLAY": ":0"}, system="linux") is None


@linux_only
def test_wayland_session_checks_the_wayland_plugin() -> None:
    folder = platform_plugin_folder({})
    assert folder is not None
    plugin = system._plugin_file(folder, "wayland")
    if plugin is None:
        pytest.skip("this PySide6 has no Wayland platform plugin")
    missing = missing_libraries(plugin, {})
    problem = gui_problem({"WAYLAND_DISPLAY": "wayland-0"}, system="linux")
    if not missing:
        assert problem is None
        pytest.skip("the Wayland libraries are all installed here, so nothing is missing to report")
    assert problem is not None and problem.platform == "wayland" and list(problem.missing) == missing
    assert "Wayland" in problem.message and "sudo apt install" in problem.message


# -- a library hidden for real --------------------------------------------------------------------
def _namespace_prefix(tmp_path: Path, library: Path) -> list[str]:
    """A command prefix that runs its command with ``library`` replaced by an empty file."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare/mount (util-linux) are not installed, so no library can be hidden")
    empty = tmp_path / "empty.so"
    empty.write_bytes(b"")
    flags = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
    prefix = ["unshare", *flags, "sh", "-c", f'mount --bind "{empty}" "{library}" && exec "$0" "$@"']
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot hide a library in a mount namespace here: {probe.stderr.strip()[:200]}")
    return prefix


@linux_only
@pytest.mark.parametrize("command", [["demo", "--path", "{tmp}/demo"], []], ids=["demo", "app"])
def test_hidden_xcb_library_stops_the_gui_commands_before_any_work(tmp_path: Path, command: list[str]) -> None:
    folder = platform_plugin_folder({})
    assert folder is not None
    found = [p for p in system.system_library_folders() if (p / "libxcb-cursor.so.0").exists()]
    env = _desktop_env()
    if found:
        prefix = _namespace_prefix(tmp_path, (found[0] / "libxcb-cursor.so.0").resolve())
    else:
        prefix = []  # not installed at all: nothing to hide
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done = subprocess.run([*prefix, sys.executable, "-m", "dermarchive", *argv], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0  # one plain paragraph, no Qt abort, no traceback
    assert "libxcb-cursor.so.0" in message
    assert "sudo apt install libxcb-cursor0" in message and "sudo dnf install xcb-util-cursor" in message
    assert "Aborted" not in done.stderr and "qt.qpa" not in done.stderr
    assert not (tmp_path / "demo").exists()  # refused before building the demo archive
    # The judge: in the same conditions real Qt cannot load the xcb plugin.
    judge = _qt_starts({**env, "QT_QPA_PLATFORM": "xcb"}, prefix)
    assert judge.returncode != 0 and 'platform plugin "xcb"' in judge.stderr


@linux_only
def test_plugin_whose_qt_library_is_missing_is_refused(tmp_path: Path) -> None:
    """No root needed: a copy of the xcb plugin whose ``$ORIGIN/../../lib`` lacks libQt6XcbQpa."""
    folder = platform_plugin_folder({})
    assert folder is not None
    qt_lib = folder.parent.parent / "lib"
    if not (qt_lib / "libQt6XcbQpa.so.6").exists():
        pytest.skip("this PySide6 keeps its Qt libraries elsewhere; cannot build the copy")
    if any((p / "libQt6XcbQpa.so.6").exists() for p in system.system_library_folders()):
        pytest.skip("a system Qt 6 provides libQt6XcbQpa.so.6 too, so the copy cannot lack it")
    plugins = tmp_path / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    shutil.copy2(folder / "libqxcb.so", plugins / "libqxcb.so")
    (tmp_path / "lib").mkdir()
    for lib in qt_lib.iterdir():
        if not lib.name.startswith("libQt6XcbQpa"):
            (tmp_path / "lib" / lib.name).symlink_to(lib)
    env = _desktop_env(QT_QPA_PLATFORM_PLUGIN_PATH=str(plugins))
    done = subprocess.run([sys.executable, "-m", "dermarchive", "demo", "--path", str(tmp_path / "demo")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "libQt6XcbQpa.so.6" in done.stderr and "reinstalling" in done.stderr
    assert not (tmp_path / "demo").exists()
    judge = _qt_starts({**env, "QT_QPA_PLATFORM": "xcb"})
    assert judge.returncode != 0 and 'platform plugin "xcb"' in judge.stderr


def test_unreadable_or_empty_library_is_not_an_elf(tmp_path: Path) -> None:
    (tmp_path / "empty.so").write_bytes(b"")
    (tmp_path / "text.so").write_text("INPUT(-lfoo)")
    assert system.read_elf(tmp_path / "empty.so") is None
    assert system.read_elf(tmp_path / "text.so") is None
    assert system.read_elf(tmp_path / "absent.so") is None
