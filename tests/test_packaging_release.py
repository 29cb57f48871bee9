"""Release inputs and the lean bundle's rules (issue 23): pins, build manifest, ELF reading,
what the spec leaves out, and the launcher's locale default (each OS branch selected here)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(PACKAGING))
    try:
        spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(PACKAGING))


@pytest.fixture(scope="module")
def pins() -> ModuleType:
    return load("pins")


@pytest.fixture(scope="module")
def bc() -> ModuleType:
    return load("bundle_contents")


# -- pins ----------------------------------------------------------------------------------------
def test_constraints_pin_every_requirement_within_its_bounds(pins: ModuleType) -> None:
    pinned = pins.read_constraints()
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["build"]:
        req = Requirement(text)
        name = pins._canonical(req.name)
        assert name in pinned, f"{req.name} has no pin in packaging/constraints.txt"
        # e.g. PySide6-Essentials != 6.12.0 (crashes): a pin may never pick an excluded release.
        assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} breaks {text}"


def test_read_constraints_accepts_only_exact_pins(pins: ModuleType, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# comment\nPySide6_Essentials == 6.11.3  # why\n\npillow==13.0.0\n")
    assert pins.read_constraints(good) == {"pyside6-essentials": "6.11.3", "pillow": "13.0.0"}
    loose = tmp_path / "loose.txt"
    loose.write_text("pillow>=10\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        pins.read_constraints(loose)


def test_differences_name_each_drifted_package(pins: ModuleType) -> None:
    installed = {"pillow": "13.0.0", "pyside6-essentials": "6.12.1", "newthing": "1.0"}
    pinned = {"pillow": "13.0.0", "pyside6-essentials": "6.11.3"}
    assert pins.differences(pinned, installed) == ["pyside6-essentials is 6.12.1, pinned 6.11.3"]
    assert pins.unpinned(pinned, installed) == ["newthing 1.0"]


def test_release_build_refuses_an_environment_off_the_pins(tmp_path: Path) -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed here (the build extra); the build stops before the pin check")
    candidate = tmp_path / "constraints.txt"
    text = (PACKAGING / "constraints.txt").read_text("utf-8")
    candidate.write_text("\n".join("pillow==1.0.0" if line.startswith("pillow==") else line
                                   for line in text.splitlines()) + "\n")
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    proc = subprocess.run([str(PACKAGING / "build"), "--release", "--no-smoke"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHON": str(wrapper), "DERMARCHIVE_CONSTRAINTS": str(candidate)})
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pillow is " in proc.stderr and "pinned 1.0.0" in proc.stderr
    assert "only from the pinned versions" in proc.stderr


def test_build_manifest_names_versions_and_host_packages(pins: ModuleType) -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed here (the build extra)")
    from importlib.metadata import version

    libz = next((p for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1")
                 if Path(p).exists()), None)
    binaries = [("libz.so.1", libz, "BINARY")] if libz else []
    manifest = pins.build_manifest("9.9.9", binaries, {"dropped": ["x"]})
    assert manifest["app"]["version"] == "9.9.9"
    assert manifest["python_packages"]["pyside6-essentials"] == version("PySide6-Essentials")
    assert manifest["python_packages"]["sqlcipher3"] == version("sqlcipher3")
    assert "dermarchive" not in manifest["python_packages"]
    assert manifest["constraints"]["sha256"] and isinstance(manifest["constraints"]["differences"], list)
    assert manifest["built"]["python"] == sys.version.split()[0]
    if libz and shutil.which("dpkg"):
        assert manifest["host_libraries"]["libz.so.1"].startswith("zlib1g")


# -- ELF reading and the lean bundle's rules -----------------------------------------------------
def readelf(path: Path) -> tuple[list[str], bool]:
    out = subprocess.run(["readelf", "-d", "-S", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]
    return needed, " .debug_" in out


def test_elf_reader_agrees_with_readelf(bc: ModuleType) -> None:
    if not shutil.which("readelf") or not sys.platform.startswith("linux"):
        pytest.skip("readelf (binutils) is the judge here and is not installed")
    import PySide6
    from sqlcipher3 import dbapi2

    samples = [Path(sys.executable).resolve(), Path(dbapi2.__file__).parent.joinpath(),
               *Path(PySide6.__file__).parent.glob("Qt/plugins/platforms/libqxcb.so"),
               *Path(PySide6.__file__).parent.glob("Qt/lib/libQt6Core.so.6")]
    samples = [p for p in samples if p.is_file()]
    samples += list(Path(dbapi2.__file__).parent.glob("_sqlite3*.so"))
    assert len(samples) >= 3
    for path in samples:
        elf = bc.Elf(path)
        needed, debug = readelf(path)
        assert elf.needed == needed, path
        assert elf.has_debug_info == debug, path
    assert bc.Elf(Path(PySide6.__file__).parent / "Qt/lib/libQt6Core.so.6").soname == "libQt6Core.so.6"
    with pytest.raises(ValueError):
        bc.Elf(REPO / "pyproject.toml")


def test_strip_debug_info_makes_stripped_copies(bc: ModuleType, tmp_path: Path) -> None:
    if not shutil.which("strip") or not shutil.which("cc"):
        pytest.skip("strip and a C compiler are needed to make a library with debug info")
    src = tmp_path / "lib.c"
    src.write_text("int answer(void) { return 42; }\n")
    lib = tmp_path / "libanswer.so.1"
    subprocess.run(["cc", "-g", "-shared", "-fPIC", "-Wl,-soname,libanswer.so.1", "-o", str(lib), str(src)], check=True)
    assert bc.Elf(lib).has_debug_info
    toc, stripped = bc.strip_debug_info([("libanswer.so.1", str(lib), "BINARY"),
                                         ("data.txt", str(src), "DATA")], tmp_path / "work")
    assert stripped == ["libanswer.so.1"]
    copy = Path(toc[0][1])
    assert copy != lib and not bc.Elf(copy).has_debug_info and bc.Elf(copy).soname == "libanswer.so.1"
    assert toc[1] == ("data.txt", str(src), "DATA")


def test_the_lean_filter_drops_listed_files_and_libraries_only_they_need(bc: ModuleType) -> None:
    # A TOC shaped like PyInstaller's, with a stand-in ELF reader: which library needs which.
    needs = {
        "/x/libqxcb.so": ["libQt6XcbQpa.so.6", "libxcb-cursor.so.0"],
        "/x/libqgtk3.so": ["libgtk-3.so.0", "libatk-1.0.so.0", "libpango-1.0.so.0"],
        "/x/libpango.so": ["libharfbuzz.so.0"],
        "/x/QtCore.abi3.so": ["libQt6Core.so.6"],
        "/x/libQt6XcbQpa.so.6": ["libQt6Core.so.6"],
    }

    class FakeElf:
        def __init__(self, src: str) -> None:
            self.needed = needs.get(src, [])

    binaries = [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", "/x/libqvnc.so", "BINARY"),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
        ("PySide6/QtCore.abi3.so", "/x/QtCore.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/x/libQt6Core.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6XcbQpa.so.6", "/x/libQt6XcbQpa.so.6", "BINARY"),
        ("libxcb-cursor.so.0", "/usr/lib/libxcb-cursor.so.0", "BINARY"),
        ("libatk-1.0.so.0", "/usr/lib/libatk-1.0.so.0", "BINARY"),
        ("libpango-1.0.so.0", "/x/libpango.so", "BINARY"),
        ("libharfbuzz.so.0", "/usr/lib/libharfbuzz.so.0", "BINARY"),
        ("libmvec.so.1", "/usr/lib/libmvec.so.1", "BINARY"),
        ("libpython3.11.so.1.0", "/usr/lib/libpython3.11.so.1.0", "BINARY"),
    ]
    datas = [
        ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
        ("ui/main_window.ui", "/r/ui/main_window.ui", "DATA"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("libatk-link.so", "libatk-1.0.so.0", "SYMLINK"),
    ]
    kept_bins, kept_datas, report = bc.lean_linux_toc(binaries, datas, read_elf=FakeElf)
    assert [e[0] for e in kept_bins] == [
        "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/QtCore.abi3.so", "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6XcbQpa.so.6", "libxcb-cursor.so.0", "libpython3.11.so.1.0"]
    assert [e[0] for e in kept_datas] == ["ui/main_window.ui", "libQt6Core.so.6"]
    assert set(report["dropped"]) == {"PySide6/Qt/plugins/platforms/libqvnc.so", "libmvec.so.1",
                                      "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                                      "PySide6/Qt/translations/qtbase_de.qm"}
    assert set(report["pruned"]) == {"libatk-1.0.so.0", "libpango-1.0.so.0", "libharfbuzz.so.0", "libatk-link.so"}


def test_exclusions_cover_what_the_issue_names_and_spare_what_the_app_needs(bc: ModuleType) -> None:
    for path in ("PySide6/Qt/translations/qt_de.qm", "PySide6/Qt/plugins/platforms/libqeglfs.so",
                 "PySide6/Qt/plugins/platforms/libqlinuxfb.so", "PySide6/Qt/plugins/platforms/libqvnc.so",
                 "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so", "libmvec.so.1",
                 "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "PySide6/Qt/lib/libQt6EglFsKmsSupport.so.6"):
        assert bc.dropped_reason(path), path
    for required in bc.REQUIRED_LINUX:
        assert not bc.dropped_reason(required.replace("*", "")), required
    for platform in bc.PLATFORMS_LINUX:
        assert not bc.dropped_reason(f"PySide6/Qt/plugins/platforms/libq{platform}.so"), platform
    assert not bc.dropped_reason("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so")
    assert not bc.dropped_reason("PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so")
    assert not set(bc.BUNDLED_X_LIBRARIES_LINUX) & set(bc.HOST_LIBRARIES_LINUX)


# -- launcher: a locale when none is set (one branch per OS, selected here) ----------------------
@pytest.mark.parametrize(("platform", "environ", "expected"), [
    ("linux", {}, "C.UTF-8"),
    ("linux", {"LANG": ""}, "C.UTF-8"),
    ("linux", {"LANG": "mi_NZ.UTF-8"}, None),
    ("linux", {"LC_ALL": "C"}, None),           # an explicit choice, even C, is respected
    ("linux", {"LC_CTYPE": "en_NZ.UTF-8"}, None),
    ("darwin", {}, None),                        # Finder starts apps without LANG; Qt copes
    ("win32", {}, None),
])
def test_launcher_default_locale(platform: str, environ: dict[str, str], expected: str | None) -> None:
    launcher = load("launcher")
    env = dict(environ)
    assert launcher.default_locale(env, platform) == expected
    if expected:
        assert env["LANG"] == expected
    else:
        assert env == environ


# -- Windows and macOS (not built here: their files are checked for what they must contain) -----
def test_inno_setup_signs_setup_and_uninstaller_and_puts_the_command_on_path(bc: ModuleType) -> None:
    iss = (PACKAGING / "windows" / "dermarchive.iss").read_text("utf-8")
    signing = iss[iss.index("#ifdef Sign"):iss.index("#endif", iss.index("#ifdef Sign"))]
    assert "SignTool=dermarchive" in signing and "SignedUninstaller=yes" in signing
    assert 'Source: "dermarchive.cmd"; DestDir: "{app}\\bin"' in iss
    assert 'Name: "addtopath"' in iss and "ChangesEnvironment=yes" in iss
    assert "AddToPath(ExpandConstant('{app}\\bin'))" in iss and "RemoveFromPath(ExpandConstant('{app}\\bin'))" in iss
    for switch in ("/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER", "/ALLUSERS", "/TASKS="):
        assert switch in iss, switch
    cmd = (PACKAGING / "windows" / "dermarchive.cmd").read_bytes()
    assert bc.cli_exe_name("win32").encode() in cmd and b'%*' in cmd
    assert cmd.count(b"\r\n") == cmd.count(b"\n"), "a .cmd file needs CRLF line endings"


def test_macos_info_plist_explains_every_folder_it_may_ask_for(bc: ModuleType) -> None:
    import plistlib

    info = bc.macos_info_plist("1.2.3")
    data = plistlib.loads(plistlib.dumps(info))
    assert data["CFBundleShortVersionString"] == "1.2.3"
    for key in ("NSDesktopFolderUsageDescription", "NSDocumentsFolderUsageDescription",
                "NSDownloadsFolderUsageDescription", "NSRemovableVolumesUsageDescription",
                "NSNetworkVolumesUsageDescription"):
        assert data[key].startswith("DermArchive ") and len(data[key]) > 40, key
    spec = (PACKAGING / "dermarchive.spec").read_text("utf-8")
    assert "info_plist=bc.macos_info_plist(bc.project_version())" in spec


@pytest.mark.parametrize(("platform", "icon"), [("win32", "dermarchive.ico"), ("darwin", "dermarchive.icns"),
                                                ("linux", None)])
def test_icon_per_platform(bc: ModuleType, platform: str, icon: str | None) -> None:
    found = bc.icon_file(platform)
    assert (Path(found).name if found else None) == icon


def test_smoke_uses_each_platforms_own_display() -> None:
    from importlib.machinery import SourceFileLoader

    loader = SourceFileLoader("smoke_module", str(PACKAGING / "smoke"))
    spec = importlib.util.spec_from_loader("smoke_module", loader)
    assert spec
    smoke = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(PACKAGING))
    try:
        loader.exec_module(smoke)
    finally:
        sys.path.remove(str(PACKAGING))
    assert smoke._display("win32") == ("windows", ())
    assert smoke._display("darwin") == ("cocoa", ())
    linux = smoke._display("linux")
    assert linux[0] == ("xcb" if shutil.which("xvfb-run") else "offscreen")


def test_workflows_name_files_that_exist() -> None:
    import re

    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {w.stem for w in workflows} >= {"windows", "macos", "linux"}
    for workflow in workflows:
        text = workflow.read_text("utf-8")
        assert "NEVER RUN YET" in text or "has not run on GitHub yet" in text, workflow.name
        named = {p.replace("\\", "/").rstrip(".") for p in re.findall(r"(?:packaging|\.ci)[/\\][\w./\\-]+", text)}
        assert named, workflow.name
        for path in named:
            assert (REPO / path).exists(), f"{workflow.name} names {path}, which does not exist"
