"""Shared fixtures: real SQLCipher archives with cheap Argon2 parameters (tests only), an isolated
state folder, and the real-photo corpus in ../shared/corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dermarchive.archive import CHEAP_TEST_PARAMS, Archive  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "correct horse 42"
USER = "nurse.ana"


def corpus_dir() -> Path:
    env = os.environ.get("DERMARCHIVE_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real user's state/config folders."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("DERMARCHIVE_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(state / "config"))
    monkeypatch.delenv("DERMARCHIVE_PASSPHRASE_FILE", raising=False)
    monkeypatch.delenv("DERMARCHIVE_USER", raising=False)
    return state


@pytest.fixture
def corpus() -> Path:
    path = corpus_dir()
    if not (path / "MANIFEST.tsv").exists():
        pytest.fail(f"real-photo corpus not found at {path} (set DERMARCHIVE_CORPUS)")
    return path


@pytest.fixture
def corpus_copy(corpus: Path, tmp_path: Path) -> Callable[..., Path]:
    """Copy named corpus files (or all) into a fresh 'phone folder' and return it."""

    def _copy(*names: str, folder: str = "phone") -> Path:
        dest = tmp_path / folder
        dest.mkdir(parents=True, exist_ok=True)
        for src in corpus.iterdir():
            if src.name == "MANIFEST.tsv" or src.name == "README.md":
                continue
            if names and src.name not in names:
                continue
            shutil.copy2(src, dest / src.name)
        return dest

    return _copy


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``tmpfs(size_mib, name)``: a real small filesystem that fills up (or can be remounted
    read-only), unmounted after the test. Needs root (mark the test ``needs_root``)."""
    mounts: list[Path] = []

    def _mount(size_mib: int, name: str = "disk") -> Path:
        mnt = tmp_path / name
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(mnt)], check=True)
        mounts.append(mnt)
        return mnt

    yield _mount
    for mnt in mounts:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture
def make_archive(tmp_path: Path) -> Iterator[Callable[..., Archive]]:
    """Create (and later close) real archives: ``make_archive()`` or ``make_archive(path, user=...)``."""
    opened: list[Archive] = []

    def _make(path: Path | None = None, user: str = USER, passphrase: str = PASSPHRASE) -> Archive:
        archive = Archive.create(path or tmp_path / f"archive{len(opened)}", user, passphrase,
                                 kdf=CHEAP_TEST_PARAMS)
        opened.append(archive)
        return archive

    yield _make
    for a in opened:
        a.close()


@pytest.fixture
def archive(make_archive: Callable[..., Archive]) -> Archive:
    return make_archive()


@pytest.fixture
def cli_archive(tmp_path: Path, passphrase_file: Path) -> list[str]:
    """An archive made through the CLI; returns the common CLI args [ARCHIVE, --passphrase-file, F]."""
    from dermarchive.cli import main

    path = tmp_path / "cli-archive"
    assert main(["init", str(path), "--user", USER, "--passphrase-file", str(passphrase_file),
                 "--kdf-params", "1,8192,1"]) == 0
    return [str(path), "--passphrase-file", str(passphrase_file)]
