"""Fixtures for GUI tests (pytest-qt, offscreen). Stable for every GUI test to reuse:

* ``messages`` — records what :mod:`dermarchive.gui.messages` would show (``messages.entries``,
  ``messages.texts(level)``) instead of opening message boxes.
* ``demo_archive`` — a fresh copy of a small real demo archive (3 patients, real JPEGs, varied
  consent; cheap Argon2 only because it is a test); a :class:`DemoArchive` with ``path``, ``user``,
  ``passphrase`` and ``open()``.
* ``open_demo`` — that archive unlocked (closed after the test).
* ``main_window`` — the real :class:`MainWindow` on ``open_demo``, shown, closed after the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

DEMO_PASSPHRASE = "demo test passphrase 7"

# The offscreen platform says so when asked to raise a window or pass size hints to a window
# manager it does not have; that is the test platform talking, not our code.
OFFSCREEN_NOISE = r"This plugin does not support (raise\(\)|propagateSizeHints\(\)|requestActivate\(\))"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@dataclass(frozen=True)
class DemoArchive:
    path: Path
    user: str
    passphrase: str

    def open(self) -> Archive:
        return Archive.open(self.path, self.user, self.passphrase)


class MessageRecorder:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []  # (level, title, text)

    def __call__(self, parent: Any, level: str, title: str, text: str) -> None:
        self.entries.append((level, title, text))

    def texts(self, level: str | None = None) -> list[str]:
        return [t for lv, _title, t in self.entries if level is None or lv == level]


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch) -> MessageRecorder:
    from dermarchive.gui import messages as gui_messages

    recorder = MessageRecorder()
    monkeypatch.setattr(gui_messages, "sink", recorder)
    return recorder


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dermarchive.demo import SMALL, build_demo

    path = tmp_path_factory.mktemp("demo-template") / "demo"
    build_demo(path, DEMO_PASSPHRASE, kdf=CHEAP_TEST_PARAMS, size=SMALL)
    return path


@pytest.fixture
def demo_archive(_demo_template: Path, tmp_path: Path) -> DemoArchive:
    from dermarchive.demo import DEMO_USER

    path = tmp_path / "demo-archive"
    shutil.copytree(_demo_template, path, ignore=shutil.ignore_patterns("archive.lock"))
    return DemoArchive(path, DEMO_USER, DEMO_PASSPHRASE)


@pytest.fixture
def open_demo(demo_archive: DemoArchive) -> Iterator[Archive]:
    archive = demo_archive.open()
    yield archive
    archive.close()


@pytest.fixture
def main_window(qtbot: Any, open_demo: Archive, messages: MessageRecorder) -> Iterator[Any]:
    from dermarchive.gui.main_window import MainWindow

    window = MainWindow(open_demo)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.patients_ready, timeout=10_000)
    yield window
    window.close()
    window.loader.pool.waitForDone(2000)
