"""The desktop app's entry point and the flow between its windows.

``dermarchive`` (no arguments) and ``dermarchive gui [ARCHIVE]`` call :func:`main`;
``dermarchive demo`` calls :func:`run` with the demo archive and its passphrase. The flow:
start screen → unlock (or create) → main window; "Close archive" returns to the start screen.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from .. import __version__, log
from ..archive.keys import KdfParams
from ..system import map_large_blocks
from . import messages, settings
from .colours import readable_palette
from .icons import style_sheet, text_scale_for
from .jobs import run_job
from .main_window import MainWindow
from .start_screen import StartScreen
from .unlock import UnlockDialog


Prepare = Callable[[Callable[..., None], Callable[[], bool]], Any]
"""``prepare(progress, cancelled)``: work to finish before the unlock prompt (run off the GUI thread)."""


class App(QObject):
    """Owns the start screen and the main window; the windows never reach for each other."""

    def __init__(self, *, demo_kdf: KdfParams | None = None, demo_small: bool = False,
                 idle_minutes: float | None = None) -> None:
        super().__init__()
        self.start = StartScreen()
        self.start.openArchive.connect(self.unlock)
        self.start.archiveCreated.connect(self.show_main)
        self.start.demoRequested.connect(self.open_demo)
        self.main: MainWindow | None = None
        self.unlock_dialog: UnlockDialog | None = None
        self.demo_kdf, self.demo_small, self.idle_minutes = demo_kdf, demo_small, idle_minutes

    def show_start(self) -> None:
        self.start.refresh_recent()
        self.start.show()
        self.start.raise_()

    def unlock(self, path: Path, user: str | None = None, prefill: str | None = None) -> UnlockDialog:
        parent = self.start if self.start.isVisible() else None
        dialog = UnlockDialog(Path(path), user=user, prefill_passphrase=prefill, parent=parent)
        dialog.accepted.connect(lambda: self.show_main(dialog.archive))
        self.unlock_dialog = dialog
        dialog.open()
        return dialog

    def show_main(self, archive: Any) -> MainWindow:
        settings.add_recent(archive.path)
        self.unlock_dialog = None
        window = MainWindow(archive, idle_minutes=self.idle_minutes)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.closedArchive.connect(self._main_closed)
        self.main = window
        window.show()
        self.start.hide()
        return window

    def _main_closed(self) -> None:
        self.main = None
        self.show_start()

    def open_demo(self) -> None:
        from .. import demo

        path = demo.default_path()
        size = demo.SMALL if self.demo_small else demo.FULL
        self.start.demo_button.setEnabled(False)

        def done(summary: demo.DemoSummary) -> None:
            self.start.demo_button.setEnabled(True)
            self.unlock(summary.path, demo.DEMO_USER, demo.DEMO_PASSPHRASE)

        def failed(exc: BaseException) -> None:
            self.start.demo_button.setEnabled(True)
            messages.show_error(self.start, exc)

        def work(progress: Any, cancelled: Any) -> Any:
            return demo.ensure_demo(path, demo.DEMO_PASSPHRASE, kdf=self.demo_kdf, size=size,
                                    progress=progress, cancelled=cancelled)

        run_job(lambda progress, cancelled: work(progress, cancelled), parent=self.start,
                title="Preparing the demo archive…", with_progress=True, on_done=done, on_error=failed)

    def prepare_then_unlock(self, prepare: Prepare, path: Path, user: str | None, prefill: str | None) -> None:
        """Run ``prepare`` (e.g. building the demo archive) with progress over the start screen,
        then ask to unlock ``path``: the window is up at once instead of after the work."""
        self.show_start()

        def failed(exc: BaseException) -> None:
            messages.show_error(self.start, exc)

        run_job(prepare, parent=self.start, title="Preparing the demo archive…", with_progress=True,
                on_done=lambda _result: self.unlock(path, user, prefill), on_error=failed)


def application(argv: Sequence[str] = ()) -> QApplication:
    map_large_blocks()  # decoded photos go back to the OS as they are freed, all day (issue 21)
    app = QApplication.instance()
    if app is None:
        # Qt's raster engine hands each fill of 96 or more scan lines (a thumbnail, the scroll bar)
        # to a thread pool and blocks the GUI thread until the pool's threads have run: on a busy
        # machine they wait their turn for a core, and scrolling the timeline stuttered (issue 19).
        # The fills are small here; painting them on the GUI thread is as fast and never waits.
        os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(["dermarchive", *argv])
    assert isinstance(app, QApplication)
    app.setApplicationName("DermArchive")
    QGuiApplication.setDesktopFileName("nz.dermarchive.DermArchive")  # matches packaging/linux
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    app.setPalette(readable_palette(app.style().standardPalette()))
    app.setStyleSheet(style_sheet(text_scale_for(app.font().pointSizeF())))
    from .about_dialog import app_icon

    app.setWindowIcon(app_icon())
    return app


def run(open_path: Path | None = None, *, user: str | None = None, prefill_passphrase: str | None = None,
        prepare: Prepare | None = None) -> int:
    """Show the app (opening ``open_path`` at its unlock prompt, after ``prepare`` when given)
    and run the event loop."""
    from . import crash

    from ..paths import log_dir

    log.write_to_folder(log_dir())
    qapp = application()
    crash.install()
    controller = App()
    if open_path is not None and prepare is not None:
        controller.prepare_then_unlock(prepare, Path(open_path), user, prefill_passphrase)
    elif open_path is not None:
        controller.unlock(Path(open_path), user, prefill_passphrase)
        dialog = controller.unlock_dialog
        assert dialog is not None
        dialog.rejected.connect(controller.show_start)
    else:
        controller.show_start()
    log.gui.info("app started")
    return int(qapp.exec())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dermarchive gui", description="Open the DermArchive desktop app.")
    parser.add_argument("archive", nargs="?", type=Path, metavar="ARCHIVE", help="archive folder to unlock")
    parser.add_argument("--user", metavar="NAME", help="user to unlock as")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    # The display and the Qt platform's system libraries were checked by the program
    # (dermarchive.launch, with dermarchive.system) before Qt was loaded.
    return run(args.archive, user=args.user)
