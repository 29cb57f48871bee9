"""What the desktop this runs on offers, asked in one place with a branch per OS.

Qt-free, so the faces can ask before they load Qt: a missing display, or a Qt platform plugin
that cannot load its system libraries, must be a plain paragraph and exit code 2, not a Qt abort
(``qt.qpa.plugin: Could not load the Qt platform plugin "xcb"``) after a minute of building the
demo archive. PySide6's wheels bundle Qt itself but not the desktop's libraries (X11/xcb,
Wayland, OpenGL, fonts): a fresh Debian lacks libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1,
for example. So before anything else the GUI commands ask :func:`gui_problem`.

One branch per OS (``_CHECKS``):

- **Linux** picks the platform Qt will use (``QT_QPA_PLATFORM``, else Wayland in a Wayland
  session, else X11/xcb), reads the plugin's ELF dependencies (``DT_NEEDED``, transitively) and
  looks each up the way the dynamic loader does (``LD_LIBRARY_PATH``, the object's
  ``RUNPATH``/``RPATH`` with ``$ORIGIN``, the folders of ``/etc/ld.so.conf``, the default
  folders). What it cannot find, or finds but is not a loadable ELF of the same class, is
  missing; the message names the Debian/Ubuntu and Fedora packages and the install command.
  No system tool (ldd, ldconfig) is needed, and nothing is loaded into this process.
- **Windows** and **macOS**: nothing to check. They always have their desktop, and PySide6's
  wheels carry everything the ``windows`` and ``cocoa`` plugins load beyond the OS itself.

Only the Linux branch is exercised for real (tests/test_system.py also runs the other branches
on Linux by selecting them).
"""

from __future__ import annotations

import glob
import importlib.util
import mmap
import os
import struct
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Platforms that draw into memory or a framebuffer: no desktop libraries to check.
NEEDS_NOTHING = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs", "minimalegl", "vkkhrdisplay"}

# soname -> (Debian/Ubuntu package, Fedora package), for what Qt's xcb and wayland plugins load.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libz.so.1": ("zlib1g", "zlib"),
}

_PLATFORM_NAMES = {"xcb": "X11 (xcb)", "wayland": "Wayland"}


@dataclass(frozen=True)
class GuiProblem:
    """Why the desktop app cannot open here; ``message`` is one plain paragraph."""

    message: str
    platform: str = ""
    missing: tuple[str, ...] = field(default=())  # sonames


# -- entry points ---------------------------------------------------------------------------------
def gui_problem(env: Mapping[str, str] | None = None, system: str | None = None) -> GuiProblem | None:
    """None when a Qt window can open here; else what stops it, in one paragraph.

    ``system`` selects the OS branch (``sys.platform`` by default); tests select each one.
    """
    env = os.environ if env is None else env
    system = system or sys.platform
    check = _CHECKS.get("linux" if system.startswith("linux") else system, _check_nothing)
    return check(env)


def _check_nothing(env: Mapping[str, str]) -> GuiProblem | None:
    """Windows (``win32``) and macOS (``darwin``): PySide6's wheels carry every library their
    platform plugins load beyond the OS itself, so there is nothing to check."""
    return None


def _check_linux(env: Mapping[str, str]) -> GuiProblem | None:
    candidates = platform_candidates(env)
    if not candidates:
        return GuiProblem(
            "dermarchive: no display is available (DISPLAY and WAYLAND_DISPLAY are not set), so the app "
            "cannot open here. The command-line tools work without one: see 'dermarchive --help'.")
    if any(name in NEEDS_NOTHING for name in candidates):
        return None
    plugins = platform_plugin_folder(env)
    if plugins is None:
        return None  # no PySide6 to look into: Qt's own error will be the only word
    results = [(name, missing_libraries(plugin, env)) for name in candidates
               if (plugin := _plugin_file(plugins, name)) is not None]
    if not results or any(not missing for _, missing in results):
        return None
    name, missing = results[0]
    return GuiProblem(_missing_message(name, missing), name, tuple(missing))


_CHECKS: dict[str, Callable[[Mapping[str, str]], GuiProblem | None]] = {
    "linux": _check_linux,
    "win32": _check_nothing,
    "darwin": _check_nothing,
}


# -- which platform Qt will use -------------------------------------------------------------------
def platform_candidates(env: Mapping[str, str]) -> list[str]:
    """Platform plugins Qt will try, in order (empty: no display to open a window on).

    ``QT_QPA_PLATFORM`` may list several (``wayland;xcb``), each with ``:options``. Without it,
    Qt takes X11 in an X11 session (``XDG_SESSION_TYPE``), else Wayland where there is one, falling
    back to X11 (XWayland); so the app can open if either loads.
    """
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [part.split(":", 1)[0].strip() for part in chosen.split(";") if part.strip()]
    session = env.get("XDG_SESSION_TYPE", "")
    wayland = session != "x11" and (bool(env.get("WAYLAND_DISPLAY")) or session == "wayland")
    x11 = bool(env.get("DISPLAY"))
    return (["wayland"] if wayland else []) + (["xcb"] if x11 else [])


def platform_plugin_folder(env: Mapping[str, str]) -> Path | None:
    """Where Qt looks for platform plugins: ``QT_QPA_PLATFORM_PLUGIN_PATH``, else PySide6's own."""
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])
    spec = importlib.util.find_spec("PySide6")  # finds the package without importing Qt
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for sub in ("Qt/plugins/platforms", "plugins/platforms"):
            if (Path(root) / sub).is_dir():
                return Path(root) / sub
    return None


def _plugin_file(folder: Path, platform: str) -> Path | None:
    names = {"wayland": ["libqwayland.so", "libqwayland-generic.so", "libqwayland-egl.so"]}.get(
        platform, [f"libq{platform}.so"])
    return next((folder / n for n in names if (folder / n).is_file()), None)


# -- the dynamic loader's search, in Python --------------------------------------------------------
@dataclass(frozen=True)
class _Elf:
    bits: int            # 32 or 64
    machine: int
    needed: tuple[str, ...]
    runpath: tuple[str, ...]
    rpath: tuple[str, ...]


def read_elf(path: Path) -> _Elf | None:
    """The dynamic section of an ELF shared object; None if it is not one (empty, truncated…)."""
    try:
        with path.open("rb") as f:
            # mapped, not read: Qt's libraries are tens of MB and only the headers are looked at
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None
    try:
        if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
            return None
        bits, end = (32 if data[4] == 1 else 64), ("<" if data[5] == 1 else ">")
        return _parse_elf(data, bits, end)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        return None
    finally:
        data.close()


def _parse_elf(data: mmap.mmap, bits: int, end: str) -> _Elf | None:
    if bits == 64:
        machine, = struct.unpack_from(end + "H", data, 18)
        shoff, = struct.unpack_from(end + "Q", data, 40)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 58)
        sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        machine, = struct.unpack_from(end + "H", data, 18)
        shoff, = struct.unpack_from(end + "I", data, 32)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 46)
        sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
    sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next((s for s in sections if s[1] == 6), None)  # SHT_DYNAMIC
    if dynamic is None:
        return _Elf(bits, machine, (), (), ())
    strtab = sections[dynamic[6]]  # sh_link: the string table of the dynamic section
    str_off = strtab[4]

    def string(offset: int) -> str:
        stop = data.find(b"\0", str_off + offset)
        if stop < 0:
            raise ValueError("unterminated string in the ELF string table")
        return data[str_off + offset:stop].decode()

    needed: list[str] = []
    runpath: list[str] = []
    rpath: list[str] = []
    size = struct.calcsize(dyn_fmt)
    for pos in range(dynamic[4], dynamic[4] + dynamic[5], size):
        tag, value = struct.unpack_from(dyn_fmt, data, pos)
        if tag == 0:
            break
        if tag == 1:
            needed.append(string(value))
        elif tag == 29:
            runpath += string(value).split(":")
        elif tag == 15:
            rpath += string(value).split(":")
    return _Elf(bits, machine, tuple(needed), tuple(runpath), tuple(rpath))


def system_library_folders(conf: Path = Path("/etc/ld.so.conf")) -> list[Path]:
    """The folders ldconfig caches (``/etc/ld.so.conf`` and its includes), then the defaults."""
    folders: list[Path] = []
    _read_ld_conf(conf, folders, set())
    defaults = ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    multiarch = glob.glob("/usr/lib/*-linux-gnu*") + glob.glob("/lib/*-linux-gnu*")
    for folder in [*multiarch, *defaults]:
        if Path(folder) not in folders:
            folders.append(Path(folder))
    return folders


def _read_ld_conf(conf: Path, out: list[Path], seen: set[Path]) -> None:
    if conf in seen:
        return
    seen.add(conf)
    try:
        lines = conf.read_text(errors="replace").splitlines()
    except OSError:
        return
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include"):
            pattern = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
            if not os.path.isabs(pattern):
                pattern = str(conf.parent / pattern)
            for included in sorted(glob.glob(pattern)):
                _read_ld_conf(Path(included), out, seen)
        elif line and Path(line) not in out:
            out.append(Path(line))


def missing_libraries(plugin: Path, env: Mapping[str, str] | None = None,
                      system_folders: Iterable[Path] | None = None) -> list[str]:
    """Sonames the plugin needs (directly or through another library) that cannot be loaded."""
    env = os.environ if env is None else env
    root = read_elf(plugin)
    if root is None:
        return [plugin.name]
    library_path = [Path(p) for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):  # the PyInstaller bundle keeps its libraries here
        library_path.append(Path(sys._MEIPASS))
    system = list(system_folders) if system_folders is not None else system_library_folders()
    missing: list[str] = []
    seen: set[str] = set()
    queue: list[tuple[Path, _Elf]] = [(plugin, root)]
    while queue:
        path, elf = queue.pop(0)
        origin = str(path.resolve().parent)

        def expand(entries: tuple[str, ...], origin: str = origin) -> list[Path]:
            return [Path(e.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)) for e in entries if e]

        # the loader's order: RPATH (only without RUNPATH), LD_LIBRARY_PATH, RUNPATH, cache/defaults
        folders = [*(expand(elf.rpath) if not elf.runpath else []), *library_path, *expand(elf.runpath), *system]
        for name in elf.needed:
            if name in seen:
                continue
            seen.add(name)
            found = _find(name, folders, root)
            if found is None:
                missing.append(name)
            else:
                queue.append(found)
    return missing


def _find(name: str, folders: list[Path], like: _Elf) -> tuple[Path, _Elf] | None:
    if "/" in name:
        candidates = [Path(name)]
    else:
        candidates = [folder / name for folder in folders]
    for candidate in candidates:
        if not candidate.exists():
            continue
        elf = read_elf(candidate)
        if elf is not None and elf.bits == like.bits and elf.machine == like.machine:
            return candidate, elf
    return None


# -- the message ----------------------------------------------------------------------------------
def _missing_message(platform: str, missing: list[str]) -> str:
    debian: list[str] = []
    fedora: list[str] = []
    unknown: list[str] = []
    for soname in missing:
        if soname in PACKAGES:
            deb, fed = PACKAGES[soname]
            debian += [deb] if deb not in debian else []
            fedora += [fed] if fed not in fedora else []
        else:
            unknown.append(soname)
    name = _PLATFORM_NAMES.get(platform, platform)
    text = (f"dermarchive: the desktop app cannot open because Qt's {name} platform needs system "
            f"libraries this computer does not have ({', '.join(missing)}). ")
    if debian:
        text += (f"Install them, then run the command again: on Debian or Ubuntu "
                 f"'sudo apt install {' '.join(debian)}'; on Fedora 'sudo dnf install {' '.join(fedora)}'. ")
    if unknown:
        text += (f"For {', '.join(unknown)}, find the package with 'apt-file search NAME' (Debian/Ubuntu) "
                 f"or 'dnf provides \"*/NAME\"' (Fedora); a library of PySide6 itself means reinstalling "
                 f"DermArchive's Python packages. ")
    return text + "Nothing was changed. The command-line tools work without these: see 'dermarchive --help'."


def _glibc(name: str) -> Any:
    """A glibc malloc function, or None where the C library is another (musl) or not Linux's."""
    import ctypes

    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    return fn


def return_freed_memory(platform: str = sys.platform) -> bool:
    """Hand memory the process has freed back to the OS; True if this OS needed asking.

    Called after lock has dropped the decrypted photos, thumbnails and dialogs. Linux (glibc):
    freed blocks stay in the process's heaps (one arena per worker thread that decoded a photo),
    so the resident size after each lock creeps up over a day; ``malloc_trim(0)`` returns every
    free page, and the kernel zeroes a page before it gives it to anyone again. Windows and
    macOS need nothing: their allocators map photo-sized blocks (over ~0.5 MB on Windows, over
    ~128 KB on macOS) separately and unmap them when freed. A libc without ``malloc_trim``
    (musl) is left alone.
    """
    if platform in ("win32", "darwin") or not platform.startswith("linux"):
        return False
    import ctypes

    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


# glibc's mallopt parameter and its default: blocks of this size or more get a mapping of their own.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def map_large_blocks(platform: str = sys.platform) -> bool:
    """Make every photo-sized block go back to the OS the moment it is freed, all day; True if
    this OS needed telling (called once, as the desktop app starts).

    Linux (glibc): a block of 128 KB or more gets a mapping of its own and is unmapped when
    freed, but only until the first such block is freed: glibc then raises that threshold to the
    freed block's size (up to 32 MB) and the trim threshold to twice it. From then on every decoded
    photo (3 MB at 1024×768, 36 MB for a 12-megapixel phone photo) comes from the heap of the
    worker thread that decoded it, and up to twice the largest photo stays resident at the top of
    each worker's heap, where ``malloc_trim`` does not reach (it trims only the main heap's top).
    Which worker decoded which photo decides how much, so the level after each lock wanders up and
    down by tens of MB over a clinic day. Fixing the threshold at glibc's own default
    (``mallopt(M_MMAP_THRESHOLD)``, which also stops the raising) keeps photos in mappings of
    their own. Windows and macOS already do this with no raising (see
    :func:`return_freed_memory`); musl's mallopt does nothing.
    """
    if platform in ("win32", "darwin") or not platform.startswith("linux"):
        return False
    import ctypes

    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


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
