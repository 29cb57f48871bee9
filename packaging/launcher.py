"""Entry point of the bundled app: ``dermarchive [COMMAND …]`` exactly as the installed command.

Without arguments it opens the desktop app (``dermarchive.cli.main`` does that). Two extra,
hidden arguments exist only here. ``--bundle-self-test`` checks, inside the bundle, the things a
frozen build most often loses — native libraries (SQLCipher, libheif + HEVC codecs, libjpeg),
modules loaded by name, Qt plugins (platform, SVG image format and icon engine) and the ``ui/``
forms — and prints one JSON object; it touches no archive. ``--bundle-gui-check PNG [ARCHIVE [USER]]``
starts the real app on the display it is given, screenshots it and quits. The smoke check runs
both.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any


def _check_versions(report: dict[str, Any]) -> None:
    from dermarchive.versions import UNKNOWN, component_versions

    versions = component_versions()
    report["versions"] = versions
    missing = [k for k, v in versions.items() if v.startswith(UNKNOWN)]
    assert not missing, f"components not loadable: {missing}"
    assert versions["SQLCipher"].startswith("4."), f"SQLCipher is {versions['SQLCipher']}"


def _check_encrypted_database(report: dict[str, Any]) -> None:
    # A keyed in-memory database: proves the cipher code (and its crypto provider) is present,
    # not just the SQL engine.
    from sqlcipher3 import dbapi2

    conn = dbapi2.connect(":memory:")
    try:
        conn.execute("PRAGMA key = \"x'" + "ab" * 32 + "'\"")
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (42)")
        provider = conn.execute("PRAGMA cipher_provider").fetchone()
        assert conn.execute("SELECT x FROM t").fetchone()[0] == 42
    finally:
        conn.close()
    report["cipher_provider"] = provider[0] if provider else None
    assert provider and provider[0], "SQLCipher reports no crypto provider"


def _check_images(report: dict[str, Any]) -> None:
    # HEIC round trip in memory (x265 encodes, libde265 decodes) and a JPEG one: the codecs a
    # phone import needs. Synthetic pixels; nothing is written to disk.
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    original = Image.new("RGB", (64, 48), (180, 120, 100))
    for fmt, open_as in (("HEIF", ["HEIF"]), ("JPEG", ["JPEG"])):
        buf = io.BytesIO()
        original.save(buf, format=fmt, quality=90)
        buf.seek(0)
        with Image.open(buf, formats=open_as) as decoded:
            decoded.load()
            assert decoded.size == (64, 48), f"{fmt} decoded to {decoded.size}"
            pixel = decoded.convert("RGB").getpixel((32, 24))
            assert all(abs(a - b) < 12 for a, b in zip(pixel, (180, 120, 100))), f"{fmt} pixel {pixel}"
    report["image_codecs"] = ["HEIF", "JPEG"]


def _check_commands(report: dict[str, Any]) -> None:
    # Every command group registers here: a module PyInstaller missed fails at once.
    from dermarchive import cli

    parser = cli.build_parser()
    commands = sorted(next(a for a in parser._actions if a.dest == "command").choices)  # noqa: SLF001
    report["commands"] = commands
    assert "verify" in commands, "the verify command is missing"


def _check_imports(report: dict[str, Any]) -> None:
    # Every third-party module dermarchive/ imports, lazy ones included (e.g. pypdfium2 for the
    # referral preview, pypdf for referral encryption): in the bundle from the manifest the spec wrote,
    # from source by scanning the package the same way.
    import importlib
    from pathlib import Path

    import bundle_contents as bc  # beside this file; PyInstaller bundles it as a module

    if getattr(sys, "frozen", False):
        names = (Path(sys._MEIPASS) / bc.IMPORTS_MANIFEST).read_text("utf-8").split()  # noqa: SLF001
    else:
        names = bc.third_party_imports()
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    report["imports"] = names
    assert not failed, f"cannot import: {failed}"


def _check_qt(report: dict[str, Any]) -> None:
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QIcon, QImageReader, QPixmap
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    from dermarchive.gui import forms

    app = QApplication.instance() or QApplication([sys.argv[0]])
    report["qt"] = {"version": qVersion(), "platform": app.platformName()}
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    assert {"svg", "jpeg", "png"} <= formats, f"Qt image formats: {sorted(formats)}"

    svg = forms.resource_path("app-icon", "dermarchive.svg")
    assert QSvgRenderer(str(svg)).isValid(), f"icon SVG not renderable: {svg}"
    icon_pixmap: QPixmap = QIcon(str(svg)).pixmap(64, 64)   # goes through the SVG icon engine
    assert not icon_pixmap.isNull(), "SVG icon engine plugin missing"

    loaded = []
    for ui in sorted(forms.project_dir("ui").glob("*.ui")):
        widget = forms.load_form(ui.stem)
        loaded.append(ui.stem)
        widget.deleteLater()
    report["forms"] = loaded


CHECKS: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    ("versions", _check_versions),
    ("encrypted database", _check_encrypted_database),
    ("image codecs", _check_images),
    ("commands", _check_commands),
    ("imports", _check_imports),
    ("qt", _check_qt),
)


def self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    report: dict[str, Any] = {"frozen": bool(getattr(sys, "frozen", False)), "failures": []}
    for name, check in CHECKS:
        try:
            check(report)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, then exit 1
            report["failures"].append(f"{name}: {type(exc).__name__}: {exc}")
    print(json.dumps(report, indent=2))
    return 1 if report["failures"] else 0


def gui_check(screenshot: str, archive: str | None = None, user: str | None = None) -> int:
    """Start the real desktop app (at the unlock prompt of ``archive`` if given), wait until it
    has settled, save a screenshot of its largest window and quit. Fails when no window shows or
    the app reports an error (recorded through ``messages.sink`` instead of a dialog)."""
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from dermarchive.gui import app as gui_app
    from dermarchive.gui import messages

    shown: list[str] = []
    messages.sink = lambda _parent, level, title, text: shown.append(f"{level}: {title}: {text}")
    report: dict[str, Any] = {"frozen": bool(getattr(sys, "frozen", False))}
    qapp = gui_app.application()

    def snap() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        report["windows"] = [{"class": type(w).__name__, "name": w.objectName(), "title": w.windowTitle(),
                              "size": [w.width(), w.height()]} for w in windows]
        report["platform"] = QApplication.platformName()
        if windows:
            biggest = max(windows, key=lambda w: w.width() * w.height())
            report["screenshot_saved"] = biggest.grab().save(screenshot)
        qapp.exit(0)

    QTimer.singleShot(4000, snap)
    gui_app.run(Path(archive) if archive else None, user=user)
    report["messages"] = shown
    print(json.dumps(report, indent=2))
    return 0 if report.get("windows") and report.get("screenshot_saved") and not shown else 1


def default_locale(environ: dict[str, str] | os._Environ = os.environ, platform: str = sys.platform) -> str | None:
    """Started with no locale at all (a service, ``env -i``, some launchers), Qt warns at every
    start that "C" is not a Unicode locale. On Linux the launcher then picks C.UTF-8 (built into
    glibc >= 2.35 and Debian's for years): UTF-8 file names, English messages. An explicit
    setting, even ``LANG=C``, is left alone. Windows has no LANG; macOS apps started from Finder
    have none either, and Qt takes the system locale there without a warning. Returns what it set."""
    if not platform.startswith("linux"):
        return None
    if any(environ.get(key) for key in ("LC_ALL", "LC_CTYPE", "LANG")):
        return None
    environ["LANG"] = "C.UTF-8"
    return "C.UTF-8"


def main() -> int:
    default_locale()
    if sys.argv[1:2] == ["--bundle-self-test"]:
        return self_test()
    if sys.argv[1:2] == ["--bundle-gui-check"] and len(sys.argv) >= 3:
        return gui_check(*sys.argv[2:5])
    from dermarchive.launch import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
