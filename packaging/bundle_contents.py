"""What goes into the one-folder bundle, in one place for the spec, the smoke check and the tests.

Imported by ``dermarchive.spec`` (under PyInstaller), by ``packaging/smoke`` (any Python 3, no
project dependencies) and by ``tests/test_packaging.py``; so it imports only the standard library.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP_NAME = "DermArchive"            # bundle folder, macOS .app, Windows installer
EXE_NAME = "dermarchive"            # the command (console); GUI opens when run without arguments
# Windows only: a windowed executable for the Start menu, and the console one renamed, because
# "DermArchive.exe" and "dermarchive.exe" are the same file name there.
GUI_EXE_NAME = "DermArchive"
WINDOWS_CLI_EXE_NAME = "dermarchive-cli"
APP_ID = "nz.dermarchive.DermArchive"   # reverse-DNS id: .desktop file, AppStream, macOS bundle id

# Project folders copied into the bundle root; gui/forms.py looks for them under sys._MEIPASS.
DATA_FOLDERS = ("ui", "resources")

# Modules loaded by name at run time or only by Qt.
EXTRA_HIDDEN_IMPORTS = (
    "PySide6.QtSvg",        # QSvgRenderer for the app icon and body map; pulls the svg plugins
    "PySide6.QtUiTools",    # QUiLoader for ui/*.ui
    "pillow_heif",
    "sqlcipher3.dbapi2",
)

# Things the app never imports (tests and tools only): keeps the bundle smaller. A test checks
# that nothing here is imported by dermarchive/ (pypdf and pypdfium2 are, lazily).
EXCLUDES = (
    "tkinter", "_tkinter", "pytest", "_pytest", "hypothesis", "pytestqt", "IPython",
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.QtMultimedia",
)

# Written into the bundle by the spec: the third-party modules the self-test imports there.
IMPORTS_MANIFEST = "bundle-imports.txt"

# Files the smoke check insists on, relative to the bundle's _internal folder (PyInstaller >= 6)
# on Linux. Glob patterns; each must match at least one file.
REQUIRED_LINUX = (
    "resources/app-icon/dermarchive.svg",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland*.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "sqlcipher3/_sqlite3*.so",           # SQLCipher is compiled into this extension
    "pillow_heif.libs/libheif*.so*",
    "pillow_heif.libs/libde265*.so*",    # HEVC decoder: without it iPhone photos fail to open
    "_pillow_heif*.so",
)


def cli_exe_name(platform: str = sys.platform) -> str:
    """File name of the console executable in the bundle folder on that platform."""
    return WINDOWS_CLI_EXE_NAME + ".exe" if platform == "win32" else EXE_NAME


def project_version() -> str:
    """``dermarchive.__version__`` read from the source, without importing the package."""
    text = (ROOT / "dermarchive" / "__init__.py").read_text("utf-8")
    m = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise RuntimeError("dermarchive/__init__.py has no __version__")
    return m.group(1)


def data_files() -> list[tuple[str, str]]:
    """(source, destination folder) pairs for PyInstaller's ``datas``: every file, kept in place."""
    pairs = []
    for folder in DATA_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                pairs.append((str(path), str(path.parent.relative_to(ROOT))))
    return pairs


def icon_file() -> str | None:
    """The executable's icon for this platform (Windows .ico, macOS .icns), if rendered."""
    name = {"win32": "dermarchive.ico", "darwin": "dermarchive.icns"}.get(sys.platform)
    path = ROOT / "resources" / "app-icon" / name if name else None
    return str(path) if path and path.exists() else None


def third_party_imports(package: Path | None = None) -> list[str]:
    """Top-level third-party modules imported anywhere in ``dermarchive/``, including imports
    inside functions (the lazy ones a frozen build is most likely to miss at run time)."""
    package = package or ROOT / "dermarchive"
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return sorted(m for m in found if m not in sys.stdlib_module_names and m != "dermarchive"
                  and not m.startswith("_"))
