"""Soak benchmark: a clinic day of browsing in one window (run by hand; prints figures, asserts nothing).

    QT_QPA_PLATFORM=offscreen python bench/bench_soak.py                 # ten minutes
    QT_QPA_PLATFORM=offscreen python bench/bench_soak.py --minutes 3     # shorter

Builds the demo archive (made-up patients, real encrypted JPEGs; cheap Argon2 only because this
is a benchmark) in a temp folder, opens the real main window offscreen and repeats rounds of what
a clinician does: open a patient, each of their lesions, the viewer (zoom in and out, step to the
next and previous photo), compare two photos, back to the patient. Every 20 rounds it locks and
unlocks through the real unlock panel; now and then it opens the referral and the teaching/research
export dialogs, waits for the letter's page preview or the photo to redact, and cancels them.

Printed: RSS, widget count (QApplication.allWidgets) and QObject count (every QObject reachable
from the application's windows plus every QObject Python still holds) every 100 rounds, and the
RSS level right after each lock. Targets (issue 21): flat after warm-up, at most 5 MB per 100
rounds, and every lock back within 10 MB of the first. The reference column is the first lock of
the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DERMARCHIVE_STATE_DIR", tempfile.mkdtemp(prefix="dermarchive-soak-state-"))
os.environ.setdefault("XDG_CONFIG_HOME", os.path.join(os.environ["DERMARCHIVE_STATE_DIR"], "config"))

import shiboken6  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive  # noqa: E402
from dermarchive.demo import DEMO_USER, FULL, SMALL, build_demo  # noqa: E402


def rss_mb() -> float:
    """Resident set size now (Linux /proc; elsewhere the peak, which only says less)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # pragma: no cover - not Linux
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def qobject_count(app: QApplication) -> int:
    """Live QObjects: the application's object trees plus parentless ones Python holds (wrappers
    whose C++ object is gone are not counted: findChildren here makes some, and they cost nothing)."""
    seen: set[int] = set()
    for root in [app, *app.topLevelWidgets()]:
        seen.add(id(root))
        seen.update(id(o) for o in root.findChildren(QObject))
    seen.update(id(o) for o in gc.get_objects() if isinstance(o, QObject) and shiboken6.isValid(o))
    return len(seen)


def pump(ms: int = 0) -> None:
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, ms)


def wait_until(pred: Any, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        pump(20)
        time.sleep(0.002)
    return True


def shown_ready(dialog: Any) -> bool:
    """The referral dialog's preview or the export dialog's photo is on screen (or a message instead)."""
    if hasattr(dialog, "preview"):
        return dialog.preview.has_page or dialog.preview.text() not in ("", "Preparing the preview…")
    canvas = dialog.canvas
    return canvas.picture is not None or canvas.message != "Loading the photo…"


class Soak:
    def __init__(self, window: Any, passphrase: str) -> None:
        self.w = window
        self.passphrase = passphrase
        self.timeouts = 0

    def _wait(self, pred: Any, timeout: float = 20.0) -> None:
        if not wait_until(pred, timeout):
            self.timeouts += 1

    def open_patient(self, row: int) -> None:
        w = self.w
        self._wait(lambda: w.patients_ready)
        w.patient_table.selectRow(row % w.patient_model.rowCount())
        self._wait(lambda: w.patient_page.ready)

    def viewer(self) -> None:
        w, page = self.w, self.w.patient_page
        photos = page.timeline_model.images()
        if not photos:
            return
        page.select_images([photos[0].id])
        w.open_image(photos[0])
        self._wait(lambda: w.single.view.has_image() and w.single.view.image is not None
                   and w.single.view.image.id == photos[0].id)
        for _ in range(2):
            w._each_view(lambda v: v.zoom_by(1.25))
            pump()
        w._each_view(lambda v: v.zoom_by(0.8))
        for step in (1, 1, -1):
            w.step_photo(step)
            pump()
            self._wait(lambda: w.single.wanted is None or (w.single.view.image is not None
                                                           and w.single.view.image.id == w.single.wanted.id))
        w.back_to_patient()
        pump()
        if len(photos) >= 2:
            w.compare_images(photos[0], photos[-1])
            self._wait(lambda: w.compare.left.view.has_image() and w.compare.right.view.has_image())
            w._each_view(lambda v: v.zoom_by(1.25))
            pump()
            w.back_to_patient()
            pump()

    def lesions(self) -> None:
        page = self.w.patient_page
        for row in range(page.lesion_model.rowCount()):
            page.lesion_table.selectRow(row)
            pump(5)
            self.viewer()

    def dialog(self, which: str) -> None:
        w, page = self.w, self.w.patient_page
        photos = page.timeline_model.images()
        if not photos:
            return
        page.select_images([photos[0].id])
        (w.create_referral if which == "referral" else w.export_deidentified)()
        pump(10)
        shown = w.dialog_shown
        if shown is not None:
            # as a clinician does: look at what it shows (page 1 of the letter rendered by PDFium,
            # the photo to redact), then cancel; cancelled at once, the preview was mostly never drawn
            self._wait(lambda: shown_ready(shown))
            try:
                shown.reject()
            except RuntimeError:  # already deleted
                pass
        pump(10)

    def lock_unlock(self) -> float:
        w = self.w
        w.lock("manual")
        settle = time.monotonic() + 0.5  # what lock schedules (deleting windows, returning memory)
        while time.monotonic() < settle:
            pump(20)
            time.sleep(0.01)
        level = rss_mb()
        panel = w.unlock_panel
        panel.passphrase.setText(self.passphrase)
        panel.unlock()
        self._wait(lambda: not w.locked, 30)
        self._wait(lambda: w.patients_ready, 30)
        return level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to browse (default 10)")
    parser.add_argument("--size", choices=("full", "small"), default="full",
                        help="demo archive size: full (10 patients, 1024×768) or small (3, 480×360)")
    parser.add_argument("--lock-every", type=int, default=20, help="lock and unlock every N rounds")
    parser.add_argument("--report-every", type=int, default=100, help="print figures every N rounds")
    args = parser.parse_args()

    from dermarchive.gui import messages
    from dermarchive.gui.app import application
    app = application()  # as the desktop app starts: its style, and how it sets up memory
    shown: list[str] = []
    messages.sink = lambda _parent, level, _title, _text: shown.append(level)  # never block on a box

    passphrase = "soak " + secrets.token_hex(8)
    folder = Path(tempfile.mkdtemp(prefix="dermarchive-soak-")) / "demo"
    started = time.perf_counter()
    build_demo(folder, passphrase, kdf=CHEAP_TEST_PARAMS, size=FULL if args.size == "full" else SMALL)
    print(f"demo archive ({args.size}) built in {time.perf_counter() - started:.1f} s", flush=True)

    from dermarchive.gui.main_window import MainWindow
    window = MainWindow(Archive.open(folder, DEMO_USER, passphrase))
    window.show()
    wait_until(lambda: window.patients_ready)
    soak = Soak(window, passphrase)
    patients = window.patient_model.rowCount()

    gc.collect()
    base = (rss_mb(), len(QApplication.allWidgets()), qobject_count(app))
    print(f"start: RSS {base[0]:.1f} MB, {base[1]} widgets, {base[2]} QObjects; {patients} patients; "
          f"{args.minutes:g} minutes", flush=True)
    print(f"{'rounds':>6} {'min':>5} {'RSS MB':>8} {'ΔMB/100':>8} {'widgets':>8} {'QObjects':>9}", flush=True)
    locks: list[float] = []
    last = base[0]
    end = time.monotonic() + args.minutes * 60
    rounds = 0
    t0 = time.monotonic()
    while time.monotonic() < end:
        rounds += 1
        soak.open_patient(rounds - 1)
        soak.lesions()
        if rounds % 7 == 0:
            soak.dialog("referral")
        if rounds % 11 == 0:
            soak.dialog("export")
        if rounds % args.lock_every == 0:
            level = soak.lock_unlock()
            locks.append(level)
            print(f"  lock {len(locks):>2} after {rounds} rounds: RSS {level:.1f} MB "
                  f"({level - locks[0]:+.1f} MB against the first lock)", flush=True)
        if rounds % args.report_every == 0:
            gc.collect()
            pump(20)
            now = rss_mb()
            print(f"{rounds:>6} {(time.monotonic() - t0) / 60:>5.1f} {now:>8.1f} {now - last:>+8.1f} "
                  f"{len(QApplication.allWidgets()):>8} {qobject_count(app):>9}", flush=True)
            last = now
    gc.collect()
    pump(20)
    final = (rss_mb(), len(QApplication.allWidgets()), qobject_count(app))
    minutes = (time.monotonic() - t0) / 60
    per100 = (final[0] - base[0]) / rounds * 100 if rounds else 0.0
    print(f"end after {rounds} rounds in {minutes:.1f} min: RSS {final[0]:.1f} MB ({final[0] - base[0]:+.1f}), "
          f"{final[1]} widgets ({final[1] - base[1]:+d}), {final[2]} QObjects ({final[2] - base[2]:+d})")
    print(f"per 100 rounds: {per100:+.1f} MB RSS, {(final[1] - base[1]) / rounds * 100:+.0f} widgets, "
          f"{(final[2] - base[2]) / rounds * 100:+.0f} QObjects   (target ≤ 5 MB after warm-up)")
    if len(locks) >= 3:
        rounds_between = (len(locks) - 2) * args.lock_every
        print(f"after warm-up (lock 2 → lock {len(locks)}): {(locks[-1] - locks[1]) / rounds_between * 100:+.1f} "
              f"MB per 100 rounds")
    if locks:
        print(f"lock levels: first {locks[0]:.1f} MB, last {locks[-1]:.1f} MB, highest "
              f"{max(locks):.1f} MB (target: every lock within 10 MB of the first; worst "
              f"{max(locks) - locks[0]:+.1f} MB)")
    print(f"waits that timed out: {soak.timeouts}; messages shown: {len(shown)}")
    window.close()
    window.loader.pool.waitForDone(2000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
