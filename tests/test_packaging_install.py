"""Linux install and uninstall (issue 23): install -> run -> uninstall leaves the prefix as it was.

These use a small stand-in bundle (an executable that prints the version), since building the
real one takes minutes; .ci/after-packaging.sh does the same round trip with the real bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dermarchive import __version__

REPO = Path(__file__).resolve().parents[1]
LINUX = REPO / "packaging" / "linux"
APP_ID = "nz.dermarchive.DermArchive"


def listing(root: Path) -> list[str]:
    """Every path under root with its kind (file, dir, link): what 'as it was' is compared on."""
    out = []
    for path in sorted(root.rglob("*")):
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        out.append(f"{kind} {path.relative_to(root)}")
    return out


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "_internal" / "PySide6" / "Qt").mkdir(parents=True)
    exe = folder / "dermarchive"
    exe.write_text(f'#!/bin/sh\necho "DermArchive {__version__}"\n')
    exe.chmod(0o755)
    (folder / "_internal" / "PySide6" / "Qt" / "libQt6Core.so.6").write_bytes(b"\x7fELF stand-in")
    (folder / "_internal" / "libQt6Core.so.6").symlink_to("PySide6/Qt/libQt6Core.so.6")
    (folder / "_internal" / "empty folder").mkdir()
    return folder


def run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": "/nonexistent"})
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_install_run_uninstall_leaves_an_empty_prefix_empty(tmp_path: Path, bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    assert run(prefix / "bin" / "dermarchive").stdout.strip() == f"DermArchive {__version__}"
    assert (prefix / "lib/dermarchive/_internal/libQt6Core.so.6").is_symlink()
    assert (prefix / "lib/dermarchive/_internal/empty folder").is_dir()
    uninstaller = prefix / "lib" / "dermarchive" / "uninstall"
    assert os.access(uninstaller, os.X_OK)

    proc = run(uninstaller)
    assert "removed DermArchive" in proc.stdout
    assert listing(prefix) == []   # no file, no empty folder, no cache left


def test_uninstall_keeps_what_was_there_and_forgets_the_icon(tmp_path: Path, bundle: Path) -> None:
    if not shutil.which("gtk-update-icon-cache"):
        pytest.skip("gtk-update-icon-cache is not installed (libgtk-3-bin / gtk-update-icon-cache)")
    prefix = tmp_path / "prefix"
    # Another application already installed here, with its icon in the cache.
    apps = prefix / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "org.example.Other.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=other\nIcon=org.example.Other\n")
    hicolor = prefix / "share" / "icons" / "hicolor"
    (hicolor / "48x48" / "apps").mkdir(parents=True)
    shutil.copy(REPO / "resources/app-icon/png/dermarchive-48.png", hicolor / "48x48/apps/org.example.Other.png")
    run("gtk-update-icon-cache", "-q", "-t", "-f", hicolor)
    (prefix / "bin").mkdir()
    (prefix / "bin" / "other").write_text("#!/bin/sh\n")
    before = listing(prefix)

    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    cache = hicolor / "icon-theme.cache"
    assert APP_ID.encode() in cache.read_bytes()   # the install refreshed the icon cache
    run(prefix / "bin" / "dermarchive")
    run(prefix / "lib" / "dermarchive" / "uninstall")

    assert listing(prefix) == before
    assert APP_ID.encode() not in cache.read_bytes(), "the icon cache still lists the removed app"
    assert b"org.example.Other" in cache.read_bytes()


def test_a_file_added_after_install_keeps_its_folder(tmp_path: Path, bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    mine = prefix / "share" / "metainfo" / "org.example.Later.metainfo.xml"
    mine.write_text("<component/>")
    run(prefix / "lib" / "dermarchive" / "uninstall")
    assert mine.exists()   # and so the prefix folder the install created stays too
    assert not (prefix / "lib").exists() and not (prefix / "bin").exists()
    assert listing(prefix) == ["dir share", "dir share/metainfo", "file share/metainfo/org.example.Later.metainfo.xml"]


def test_reinstalling_removes_files_the_new_bundle_no_longer_has(tmp_path: Path, bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    old = bundle / "_internal" / "dropped-in-next-version.so"
    old.write_bytes(b"old")
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    old.unlink()
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    assert not (prefix / "lib/dermarchive/_internal/dropped-in-next-version.so").exists()
    run(LINUX / "install", "--uninstall", "--prefix", prefix)
    assert not prefix.exists()   # the install created the prefix folder itself: it goes too


def test_a_damaged_file_list_removes_nothing(tmp_path: Path, bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    installed = listing(prefix)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    files = prefix / "lib" / "dermarchive" / "installed-files"
    files.write_text(files.read_text() + "file ../precious.txt\n")
    proc = run(prefix / "lib" / "dermarchive" / "uninstall", ok=False)
    assert proc.returncode == 2 and "bad path" in proc.stderr
    assert outside.exists() and listing(prefix) == installed


def test_dry_run_lists_and_removes_nothing(tmp_path: Path, bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    run(LINUX / "install", "--prefix", prefix, "--bundle", bundle)
    installed = listing(prefix)
    out = run(prefix / "lib" / "dermarchive" / "uninstall", "--dry-run").stdout.splitlines()
    assert f"{prefix}/bin/dermarchive" in out and f"{prefix}/lib/dermarchive/uninstall" in out
    assert listing(prefix) == installed


def test_staged_install_has_no_uninstaller(tmp_path: Path, bundle: Path) -> None:
    # For distribution packages: the package manager owns the files.
    stage = tmp_path / "stage"
    run(LINUX / "install", "--prefix", "/opt/dermarchive", "--destdir", stage, "--bundle", bundle)
    home = stage / "opt/dermarchive/lib/dermarchive"
    assert (home / "dermarchive").exists()
    assert not (home / "uninstall").exists() and not (home / "installed-files").exists()


@pytest.mark.parametrize("script", ["install", "uninstall"])
def test_help_prints_the_header_only(script: str) -> None:
    out = run(LINUX / script, "--help").stdout
    assert "--prefix" in out if script == "install" else "--dry-run" in out
    assert "set -euo" not in out and not out.startswith("#")


# -- the release tarball: checksums and signature -------------------------------------------------
def tarball(bundle: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINUX / "tarball"), "--bundle", str(bundle), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_tarball_has_checksums_and_installs_and_uninstalls(tmp_path: Path, bundle: Path) -> None:
    out = tmp_path / "dist"
    proc = tarball(bundle, out, {"DERMARCHIVE_SIGNING_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    (archive,) = out.glob(f"DermArchive-{__version__}-linux-*.tar.gz")
    assert (out / "SHA256SUMS").read_text().split() == [hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert not (out / "SHA256SUMS.asc").exists()

    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    run("tar", "-C", unpacked, "-xzf", archive)
    (top,) = unpacked.iterdir()
    prefix = tmp_path / "prefix"
    run(top / "install", "--prefix", prefix)
    assert run(prefix / "bin" / "dermarchive").stdout.strip() == f"DermArchive {__version__}"
    run(prefix / "lib" / "dermarchive" / "uninstall")
    assert not prefix.exists()


@pytest.fixture
def gpg_key(tmp_path: Path):
    """A throwaway signing key in its own GNUPGHOME: (fingerprint, environment)."""
    gpg = shutil.which("gpg")
    if gpg is None:
        pytest.skip("gpg is not installed: the signing path cannot be tried")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    subprocess.run([gpg, "--batch", "--quiet", "--passphrase", "", "--quick-gen-key",
                    "DermArchive release test <release-test@example.invalid>", "ed25519", "sign", "1d"],
                   check=True, env={**os.environ, **env}, capture_output=True, timeout=120)
    listed = subprocess.run([gpg, "--batch", "--with-colons", "--list-secret-keys"], check=True,
                            env={**os.environ, **env}, capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
    yield fingerprint, env
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, **env}, capture_output=True)


def test_tarball_is_signed_with_the_configured_key(tmp_path: Path, bundle: Path, gpg_key) -> None:
    fingerprint, env = gpg_key
    out = tmp_path / "dist"
    proc = tarball(bundle, out, {**env, "DERMARCHIVE_SIGNING_KEY": fingerprint})
    assert proc.returncode == 0, proc.stderr
    assert "signed by" in proc.stdout
    sums, sig = out / "SHA256SUMS", out / "SHA256SUMS.asc"
    assert sig.read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    verify = subprocess.run(["gpg", "--batch", "--status-fd", "1", "--verify", str(sig), str(sums)],
                            env={**os.environ, **env}, capture_output=True, text=True)
    assert verify.returncode == 0 and f"VALIDSIG {fingerprint}" in verify.stdout, verify.stderr
    # A changed checksum list no longer verifies.
    sums.write_text(sums.read_text().replace(sums.read_text()[:8], "00000000"))
    tampered = subprocess.run(["gpg", "--batch", "--verify", str(sig), str(sums)],
                              env={**os.environ, **env}, capture_output=True, text=True)
    assert tampered.returncode != 0


def test_tarball_with_an_unknown_key_fails_without_a_signature(tmp_path: Path, bundle: Path, gpg_key) -> None:
    _fingerprint, env = gpg_key
    out = tmp_path / "dist"
    proc = tarball(bundle, out, {**env, "DERMARCHIVE_SIGNING_KEY": "nobody@example.invalid"})
    assert proc.returncode != 0
    assert not (out / "SHA256SUMS.asc").exists()
