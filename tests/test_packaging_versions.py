"""dermarchive.versions: the component list the About dialog and bug reports show."""

from __future__ import annotations

import subprocess
import sys

import pytest
import cryptography
from PIL import Image

from dermarchive import __version__, versions


def test_lists_the_loaded_components() -> None:
    found = versions.component_versions()
    assert list(found)[:3] == ["DermArchive", "Python", "SQLCipher"]
    assert found["DermArchive"] == __version__
    assert found["SQLCipher"].split()[0].count(".") == 2 and found["SQLCipher"].startswith("4.")
    assert found["Pillow"] == Image.__version__
    assert all(not v.startswith(versions.UNKNOWN) for v in found.values()), found
    assert found["cryptography"] == cryptography.__version__


def test_a_broken_component_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        import dermarchive_no_such_library  # type: ignore[import-not-found]  # noqa: F401
        return "never"

    monkeypatch.setattr(versions, "_COMPONENTS", versions._COMPONENTS + (("Broken lib", missing),))
    found = versions.component_versions()
    assert found["Broken lib"].startswith("not available (ModuleNotFoundError")
    assert found["SQLCipher"].startswith("4.")   # the others are still there


def test_text_for_support_lines_up() -> None:
    text = versions.as_text({"Python": "3.11.7", "SQLCipher": "4.6.1 community"})
    assert text.splitlines() == ["Python     3.11.7", "SQLCipher  4.6.1 community"]


def test_core_module_does_not_import_qt() -> None:
    code = ("import sys; from dermarchive.versions import component_versions; component_versions(); "
            "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
