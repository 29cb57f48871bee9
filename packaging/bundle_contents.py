"""What goes into the one-folder bundle, in one place for the spec, the smoke check and the tests.

Imported by ``dermarchive.spec`` (under PyInstaller), by ``packaging/smoke`` (any Python 3, no
project dependencies) and by the tests; so it imports only the standard library. Besides the
lists: the Linux lean step (what is left out and why, the host libraries, dependency pruning,
debug-info stripping), a small ELF reader both the spec and the smoke check use, and the macOS
Info.plist entries.
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


# -- Linux: a lean bundle ---------------------------------------------------------------------
# What PyInstaller's Qt hooks and dependency analysis would copy in but the app never uses, or
# must take from the host. The spec drops these (lean_linux_toc), then prunes the libraries only
# they needed; the smoke check proves each is absent and the app still starts (offscreen, xcb,
# wayland). Glob patterns relative to _internal/, each with the reason.
DROPPED_LINUX = (
    # No QTranslator is ever installed: the app is English only, Qt's own strings included.
    ("PySide6/Qt/translations/*", "Qt translations: nothing loads them"),
    # Platforms: the desktop uses xcb or wayland, the self-test offscreen; these are for kiosks,
    # framebuffers and remote displays.
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", "eglfs platform (embedded, no window system)"),
    ("PySide6/Qt/plugins/platforms/libqlinuxfb.so", "linuxfb platform (framebuffer)"),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", "vnc platform"),
    ("PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so", "vkkhrdisplay platform"),
    ("PySide6/Qt/plugins/platforms/libqminimal*.so", "minimal/minimalegl platforms (test-only)"),
    ("PySide6/Qt/plugins/egldeviceintegrations/*", "eglfs device integrations"),
    ("PySide6/Qt/lib/libQt6EglF[Ss]*", "eglfs support libraries"),
    ("PySide6/Qt/plugins/generic/*", "evdev/tuio input, used only by eglfs and linuxfb"),
    # The GTK3 theme links GTK's whole stack (gdk_pixbuf, atk, cairo, pango, harfbuzz) which
    # cannot be bundled without libgtk-3 itself, and mixing bundled and system copies breaks on
    # newer desktops. Qt's own Fusion style and the XDG portal theme remain.
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "GTK3 platform theme (needs the host's GTK)"),
    ("PySide6/Qt/plugins/networkinformation/*", "network-reachability backends: the app never asks"),
    # Part of glibc (references GLIBC_PRIVATE symbols): must come from the host's glibc.
    ("libmvec.so*", "libmvec: part of the host's glibc"),
)

# Binaries nothing else links to that must stay: the roots of the dependency pruning (besides
# Python extension modules). libpython is loaded by the bootloader, libpdfium through ctypes.
ROOT_BINARIES_LINUX = ("PySide6/Qt/plugins/*", "libpython*", "pypdfium2_raw/*")

# Libraries bundled ELF files link to that are NOT in the bundle, on purpose: every Linux system
# (or every desktop session of the kind named) has them, and a copy would have to match the
# host's kernel driver, X server or compositor. The smoke check fails on any other unresolved one.
HOST_LIBRARIES_LINUX = {
    # glibc (the bundle needs glibc >= the build machine's)
    "libc.so.6": "glibc", "libm.so.6": "glibc", "libdl.so.2": "glibc", "libpthread.so.0": "glibc",
    "librt.so.1": "glibc", "libutil.so.1": "glibc", "libresolv.so.2": "glibc", "libmvec.so.1": "glibc",
    "ld-linux-x86-64.so.2": "glibc", "ld-linux-aarch64.so.1": "glibc", "libcrypt.so.1": "libcrypt1",
    # OpenGL/EGL: the graphics driver's own
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0", "libdrm.so.2": "libdrm2", "libgbm.so.1": "libgbm1",
    "libvulkan.so.1": "libvulkan1",
    # X and Wayland client cores: must match the session's server/compositor
    "libxcb.so.1": "libxcb1",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}

# The X helper libraries Qt's xcb plugin needs ARE bundled (desktops often lack libxcb-cursor0
# and friends, and Qt then refuses to start); the smoke check insists on these.
BUNDLED_X_LIBRARIES_LINUX = (
    "libX11.so.6", "libX11-xcb.so.1", "libxkbcommon.so.0", "libxkbcommon-x11.so.0",
    "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0", "libxcb-keysyms.so.1",
    "libxcb-randr.so.0", "libxcb-render-util.so.0", "libxcb-render.so.0", "libxcb-shape.so.0",
    "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-util.so.1", "libxcb-xfixes.so.0", "libxcb-xkb.so.1",
)

# Qt platforms the bundle must start on (each is started by the smoke check where it can be).
PLATFORMS_LINUX = ("offscreen", "xcb", "wayland")

# Written by the spec into _internal/: component versions and how the bundle was built.
BUILD_MANIFEST = "build-manifest.json"


def _match(path: str, patterns) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(path, p) for p in patterns)


def dropped_reason(dest: str) -> str | None:
    """Why ``dest`` (a path under _internal/) is left out of the Linux bundle, or None."""
    for pattern, reason in DROPPED_LINUX:
        if _match(dest, (pattern,)):
            return reason
    return None


# -- ELF files, read with the standard library (the spec, the smoke check and the tests use it) --
class Elf:
    """The parts of a 64-bit little-endian ELF file the packaging checks need."""

    def __init__(self, path: Path) -> None:
        import struct

        data = Path(path).read_bytes()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]

        def cstr(offset: int) -> str:
            return data[offset:data.index(b"\0", offset)].decode("utf-8", "replace")

        names_off = sections[shstrndx][4] if shnum else 0
        self.section_names = [cstr(names_off + s[0]) for s in sections]
        self.needed: list[str] = []
        self.soname: str | None = None
        self.runpath: list[str] = []
        for s in sections:
            if s[1] != 6:          # SHT_DYNAMIC
                continue
            strtab = sections[s[6]][4]
            for off in range(s[4], s[4] + s[5], 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == 0:
                    break
                if tag == 1:
                    self.needed.append(cstr(strtab + val))
                elif tag == 14:
                    self.soname = cstr(strtab + val)
                elif tag in (15, 29):
                    self.runpath += cstr(strtab + val).split(":")

    @property
    def has_debug_info(self) -> bool:
        return any(n.startswith((".debug_", ".zdebug_")) for n in self.section_names)

    @staticmethod
    def is_elf(path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                return f.read(4) == b"\x7fELF"
        except OSError:
            return False


def bundle_elf_files(internal: Path) -> dict[str, Elf]:
    """Every regular ELF file under ``internal`` (symlinks skipped), by path relative to it."""
    found = {}
    for path in sorted(internal.rglob("*")):
        if path.is_file() and not path.is_symlink() and Elf.is_elf(path):
            found[path.relative_to(internal).as_posix()] = Elf(path)
    return found


def unresolved_libraries(internal: Path, elfs: dict[str, Elf] | None = None) -> dict[str, list[str]]:
    """Library names bundled ELF files link to that the bundle does not hold: {name: [users]}."""
    elfs = bundle_elf_files(internal) if elfs is None else elfs
    present = {Path(p).name for p in elfs} | {e.soname for e in elfs.values() if e.soname}
    present |= {p.name for p in internal.rglob("*") if p.is_symlink()}
    missing: dict[str, list[str]] = {}
    for rel, elf in elfs.items():
        for name in elf.needed:
            if name not in present:
                missing.setdefault(name, []).append(rel)
    return missing


def prune_unneeded(entries: list[tuple[str, str, str]], read_elf) -> tuple[list, list[str]]:
    """Drop binaries (PyInstaller TOC entries: dest, source, typecode) that no kept binary needs.

    Roots are Python extension modules and ROOT_BINARIES_LINUX; everything else stays only if a
    root links to it, directly or through others. ``read_elf(source)`` returns an Elf. Symlink
    entries stay when their target does. Returns (kept entries, dropped dest names)."""
    by_name: dict[str, tuple[str, str, str]] = {}
    for entry in entries:
        dest, src, kind = entry
        if kind != "SYMLINK":
            by_name.setdefault(Path(dest).name, entry)
    needed_cache: dict[str, list[str]] = {}

    def needed(entry) -> list[str]:
        if entry[1] not in needed_cache:
            try:
                needed_cache[entry[1]] = read_elf(entry[1]).needed
            except (ValueError, OSError):
                needed_cache[entry[1]] = []
        return needed_cache[entry[1]]

    todo = [e for e in entries if e[2] != "SYMLINK" and (e[2] == "EXTENSION" or _match(e[0], ROOT_BINARIES_LINUX))]
    keep = {e[0] for e in todo}
    while todo:
        for name in needed(todo.pop()):
            dep = by_name.get(name)
            if dep and dep[0] not in keep:
                keep.add(dep[0])
                todo.append(dep)
    kept, dropped = [], []
    for dest, src, kind in entries:
        # A symlink's source is its target, relative to the link's folder.
        ok = (Path(dest).parent / src).as_posix() in keep if kind == "SYMLINK" else dest in keep
        if ok:
            kept.append((dest, src, kind))
        else:
            dropped.append(dest)
    return kept, dropped


def lean_linux_toc(binaries: list, datas: list, read_elf=Elf) -> tuple[list, list, dict[str, list[str]]]:
    """The spec's Linux filter: drop DROPPED_LINUX, then every library only they needed.
    Returns (binaries, datas, {"dropped": [...], "pruned": [...]}) for the build manifest."""
    dropped = [e[0] for e in binaries + datas if dropped_reason(e[0])]
    binaries = [e for e in binaries if not dropped_reason(e[0])]
    datas = [e for e in datas if not dropped_reason(e[0])]
    symlinks = [e for e in datas if e[2] == "SYMLINK"]
    kept, pruned = prune_unneeded(binaries + symlinks, read_elf)
    kept_set = set(kept)
    binaries = [e for e in binaries if e in kept_set]
    datas = [e for e in datas if e[2] != "SYMLINK" or e in kept_set]
    return binaries, datas, {"dropped": sorted(dropped), "pruned": sorted(pruned)}


def strip_debug_info(binaries: list, workdir: Path, strip: str = "strip") -> tuple[list, list[str]]:
    """Replace every binary carrying debug info by a copy made with ``strip --strip-debug`` in
    ``workdir`` (the symbol tables the loader and Qt's plugin loader need stay). Returns (new
    TOC, stripped dest names). Libraries with a FIPS ``.hmac`` checksum beside them are left alone."""
    import subprocess

    out, stripped = [], []
    for dest, src, kind in binaries:
        path = Path(src)
        hmac = [path.with_name(path.name + ".hmac"), path.with_name("." + path.name + ".hmac")]
        if kind in ("BINARY", "EXTENSION") and Elf.is_elf(path) and not any(h.exists() for h in hmac):
            try:
                debug = Elf(path).has_debug_info
            except ValueError:
                debug = False
            if debug:
                copy = workdir / "stripped" / dest
                copy.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run([strip, "--strip-debug", "-o", str(copy), str(path)], check=True)
                out.append((dest, str(copy), kind))
                stripped.append(dest)
                continue
        out.append((dest, src, kind))
    return out, stripped


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


def icon_file(platform: str = sys.platform) -> str | None:
    """The executable's icon for this platform (Windows .ico, macOS .icns), if rendered."""
    name = {"win32": "dermarchive.ico", "darwin": "dermarchive.icns"}.get(platform)
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


# macOS: what Info.plist says beyond PyInstaller's defaults. macOS asks the user before an app
# reads the Desktop, Documents or Downloads folders, a removable volume (a phone's card, a USB
# stick with a backup) or a network volume (an archive on the clinic's file server); the sentence
# here is what that dialog shows. Without one, the access is refused silently.
MACOS_USAGE_DESCRIPTIONS = {
    "NSDesktopFolderUsageDescription":
        "DermArchive opens archives, phone photo folders and backups you choose on the Desktop.",
    "NSDocumentsFolderUsageDescription":
        "DermArchive opens and saves archives, exports and referrals you choose in Documents.",
    "NSDownloadsFolderUsageDescription":
        "DermArchive imports photos and opens backups you choose in Downloads.",
    "NSRemovableVolumesUsageDescription":
        "DermArchive imports photos from a phone or memory card and writes backups to a removable drive you choose.",
    "NSNetworkVolumesUsageDescription":
        "DermArchive opens archives and writes backups on the clinic's file server when you choose one there.",
}


def macos_info_plist(version: str) -> dict[str, object]:
    """The Info.plist entries the spec's BUNDLE adds (bundle id and icon come from BUNDLE)."""
    return {
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSApplicationCategoryType": "public.app-category.medical",
        "LSMinimumSystemVersion": "12.0",
        "NSHighResolutionCapable": True,
        "NSSupportsAutomaticGraphicsSwitching": True,
        "NSHumanReadableCopyright": "DermArchive",
        **MACOS_USAGE_DESCRIPTIONS,
    }
