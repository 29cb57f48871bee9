"""Packaging (issue 9), the fast part: what goes into the bundle, the desktop files, the icons.

The bundle itself is built and smoke-tested by .ci/after-packaging.sh (packaging/build), which
takes about a minute and a half and needs PyInstaller, a build tool the test extra does not have.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from dermarchive import __version__
from dermarchive.cli import COMMAND_GROUPS

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
LINUX = PACKAGING / "linux"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bc() -> ModuleType:
    return load("bundle_contents")


def desktop_file(bc: ModuleType) -> Path:
    return LINUX / f"{bc.APP_ID}.desktop"


def metainfo_file(bc: ModuleType) -> Path:
    return LINUX / f"{bc.APP_ID}.metainfo.xml"


# -- what the spec puts in ---------------------------------------------------------------------
def test_every_form_and_resource_is_bundled_in_place(bc: ModuleType) -> None:
    pairs = {Path(src).relative_to(REPO): dest for src, dest in bc.data_files()}
    on_disk = {p.relative_to(REPO) for folder in ("ui", "resources") for p in (REPO / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert set(pairs) == on_disk
    assert Path("ui/about_dialog.ui") in pairs and Path("resources/app-icon/dermarchive.svg") in pairs
    for rel, dest in pairs.items():
        assert dest == str(rel.parent), f"{rel} would land in {dest}"


def test_spec_bundles_what_bundle_contents_lists() -> None:
    spec = (PACKAGING / "dermarchive.spec").read_text("utf-8")
    tree = ast.parse(spec)
    calls = {node.func.id: node for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    analysis = {kw.arg: ast.unparse(kw.value) for kw in calls["Analysis"].keywords}
    assert analysis["datas"].startswith("bc.data_files() + ")   # plus the imports manifest
    assert analysis["hiddenimports"] == "hidden"
    assert 'collect_submodules("dermarchive")' in spec and "bc.third_party_imports()" in spec
    assert "launcher.py" in ast.unparse(calls["Analysis"].args[0])
    collect = {kw.arg: ast.unparse(kw.value) for kw in calls["COLLECT"].keywords}
    assert collect["name"] == "bc.APP_NAME"   # -> dist/DermArchive/


def test_modules_loaded_by_name_are_collected(bc: ModuleType) -> None:
    # The spec collects every dermarchive submodule; each command group lives inside the package.
    for group in COMMAND_GROUPS:
        assert group.__name__.startswith("dermarchive.cli."), group.__name__
    for name in bc.EXTRA_HIDDEN_IMPORTS:
        assert importlib.util.find_spec(name) is not None, name


def test_windows_executables_do_not_collide(bc: ModuleType) -> None:
    # Windows file names ignore case: the windowed and console executables need distinct names.
    gui = f"{bc.GUI_EXE_NAME}.exe".lower()
    assert bc.cli_exe_name("win32").lower() != gui
    assert bc.cli_exe_name("win32").endswith(".exe")
    assert bc.cli_exe_name("linux") == bc.EXE_NAME


def test_nothing_the_app_imports_is_excluded(bc: ModuleType) -> None:
    imported = set(bc.third_party_imports())
    assert {"pypdf", "pypdfium2", "sqlcipher3", "pillow_heif", "PySide6"} <= imported   # lazy ones too
    excluded_roots = {name.split(".")[0] for name in bc.EXCLUDES if "." not in name}
    assert not imported & excluded_roots


def test_version_read_without_import_matches_package(bc: ModuleType) -> None:
    assert bc.project_version() == __version__


def test_self_test_passes_from_source() -> None:
    # The same checks the smoke test runs inside the bundle, here on the checkout.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, str(PACKAGING / "launcher.py"), "--bundle-self-test"],
                          capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["failures"]
    assert report["frozen"] is False
    assert report["forms"] == sorted(p.stem for p in (REPO / "ui").glob("*.ui"))
    assert "verify" in report["commands"]
    assert report["versions"]["SQLCipher"].startswith("4.")
    assert report["image_codecs"] == ["HEIF", "JPEG"]
    assert "pypdfium2" in report["imports"] and "pypdf" in report["imports"]


@pytest.mark.slow
def test_gui_check_starts_the_app_from_source(tmp_path: Path, cli_archive: list[str]) -> None:
    # The smoke check's GUI step, here on the checkout: the real app at the unlock prompt.
    shot = tmp_path / "unlock.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, str(PACKAGING / "launcher.py"), "--bundle-gui-check", str(shot),
                           cli_archive[0], "nurse.ana"], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, (report, proc.stderr[-2000:])
    assert any("Unlock" in w["title"] for w in report["windows"]), report["windows"]
    with Image.open(shot) as png:
        assert png.width > 200 and len(png.convert("L").getcolors(1 << 16) or []) > 10  # not blank


def test_smoke_refuses_a_missing_bundle(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(PACKAGING / "smoke"), str(tmp_path / "nothing")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "build first with packaging/build" in proc.stderr


def test_build_says_how_to_get_pyinstaller(tmp_path: Path) -> None:
    # A Python without PyInstaller: the plain interpreter, with no site-packages at all.
    wrapper = tmp_path / "python-bare"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S -I "$@"\n')
    wrapper.chmod(0o755)
    proc = subprocess.run([str(PACKAGING / "build")], env={**os.environ, "PYTHON": str(wrapper)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install -e '.[build]'" in proc.stderr


# -- Linux desktop integration -----------------------------------------------------------------
def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_matches_the_app(bc: ModuleType) -> None:
    entry = read_desktop(desktop_file(bc))
    assert entry["Type"] == "Application" and entry["Name"] == "DermArchive"
    assert entry["Exec"].split()[0] == bc.EXE_NAME      # opens the GUI without arguments
    assert entry["Icon"] == bc.APP_ID
    assert entry["Terminal"] == "false"


def test_metainfo_matches_desktop_entry_and_version(bc: ModuleType) -> None:
    root = ET.parse(metainfo_file(bc)).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == bc.APP_ID
    assert root.find("launchable").text == desktop_file(bc).name
    assert root.find("provides/binary").text == bc.EXE_NAME
    # Software centres show the newest release: it must be the version being shipped.
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == __version__


def validator(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/setup-packaging.sh installs it)")
    return path


def test_desktop_file_validates(bc: ModuleType) -> None:
    proc = subprocess.run([validator("desktop-file-validate"), str(desktop_file(bc))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error:" not in proc.stdout and "warning:" not in proc.stdout, proc.stdout


def test_metainfo_validates(bc: ModuleType) -> None:
    proc = subprocess.run([validator("appstreamcli"), "validate", "--no-net", str(metainfo_file(bc))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_install_lays_out_desktop_files_and_icons(bc: ModuleType, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    proc = subprocess.run([str(LINUX / "install"), "--prefix", str(prefix), "--desktop-only"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    share = prefix / "share"
    installed = share / "applications" / f"{bc.APP_ID}.desktop"
    assert read_desktop(installed)["Exec"] == f"{prefix}/bin/{bc.EXE_NAME}"
    assert (share / "metainfo" / f"{bc.APP_ID}.metainfo.xml").exists()
    assert (share / "icons/hicolor/scalable/apps" / f"{bc.APP_ID}.svg").exists()
    render_icons = load("render_icons")
    for size in render_icons.SIZES:
        with Image.open(share / f"icons/hicolor/{size}x{size}/apps/{bc.APP_ID}.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(installed)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    assert not (prefix / "bin").exists()   # --desktop-only installs no command


def test_install_without_a_bundle_says_build_first(tmp_path: Path) -> None:
    proc = subprocess.run([str(LINUX / "install"), "--prefix", str(tmp_path / "p"),
                           "--bundle", str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "packaging/build" in proc.stderr
    assert not (tmp_path / "p").exists()


# -- icons -------------------------------------------------------------------------------------
def test_icon_files_are_rendered_from_the_current_svg() -> None:
    proc = subprocess.run([sys.executable, str(PACKAGING / "render_icons.py"), "--check"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr


def test_windows_icon_holds_every_size_windows_uses() -> None:
    with Image.open(REPO / "resources/app-icon/dermarchive.ico") as ico:
        sizes = ico.info["sizes"]
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(sizes)
    with Image.open(REPO / "resources/app-icon/dermarchive.icns") as icns:
        assert icns.size[0] >= 512


# -- Windows and macOS files (not built here; at least well-formed and pointing at real files) --
def test_macos_entitlements_are_a_minimal_valid_plist() -> None:
    import plistlib

    with open(PACKAGING / "macos" / "entitlements.plist", "rb") as f:
        entitlements = plistlib.load(f)
    # Hardened runtime: no library-validation or JIT exceptions, no sandbox holes.
    assert set(entitlements) == {"com.apple.security.cs.allow-unsigned-executable-memory"}


def test_inno_setup_script_points_at_the_bundle_and_icon(bc: ModuleType) -> None:
    iss = (PACKAGING / "windows" / "dermarchive.iss").read_text("utf-8")
    windows_dir = PACKAGING / "windows"
    icon = next(line.split("=", 1)[1] for line in iss.splitlines() if line.startswith("SetupIconFile="))
    assert (windows_dir / icon.replace("\\", "/")).resolve() == REPO / "resources/app-icon/dermarchive.ico"
    assert f"dist\\{bc.APP_NAME}\\*" in iss
    assert f'Filename: "{{app}}\\{bc.GUI_EXE_NAME}.exe"' in iss   # the windowed one, no console
