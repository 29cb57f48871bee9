"""Versions of the components DermArchive is built from, for the About dialog and bug reports.

Qt-free: the GUI adds the Qt and PySide6 versions it is actually running on. Each entry is the
version that is *loaded* in this process (e.g. the SQLCipher library compiled into the sqlcipher3
extension, libheif inside pillow-heif), not what a package index claims, because that is what a
support call needs to know. Nothing here touches an archive or patient data.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable

from . import __version__

UNKNOWN = "not available"


def sqlcipher_version() -> str:
    """``PRAGMA cipher_version`` on a throw-away in-memory connection (no key, no file)."""
    from sqlcipher3 import dbapi2

    conn = dbapi2.connect(":memory:")
    try:
        row = conn.execute("PRAGMA cipher_version").fetchone()
    finally:
        conn.close()
    if not row or not row[0]:
        # A plain SQLite build answers nothing: the archive could not be encrypted with it.
        raise RuntimeError("the sqlcipher3 module is not linked against SQLCipher")
    return str(row[0])


def sqlite_version() -> str:
    from sqlcipher3 import dbapi2

    return str(dbapi2.sqlite_version)


def _pillow() -> str:
    import PIL

    return str(PIL.__version__)


def _pillow_heif() -> str:
    import pillow_heif

    return str(pillow_heif.__version__)


def _libheif() -> str:
    import pillow_heif

    return str(pillow_heif.libheif_version())


def _cryptography() -> str:
    import cryptography

    return str(cryptography.__version__)


def _openssl() -> str:
    # The OpenSSL that cryptography's Rust extension is linked to (AES-GCM, Argon2id, HKDF),
    # not necessarily the one Python's ssl module uses.
    from cryptography.hazmat.backends.openssl.backend import backend

    return str(backend.openssl_version_text())


def _reportlab() -> str:
    import reportlab

    return str(reportlab.Version)


def _platformdirs() -> str:
    import platformdirs

    return str(platformdirs.__version__)


# Display name -> how to find it. Order is the order shown.
_COMPONENTS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("DermArchive", lambda: __version__),
    ("Python", lambda: f"{platform.python_version()} ({platform.python_implementation()})"),
    ("SQLCipher", sqlcipher_version),
    ("SQLite", sqlite_version),
    ("cryptography", _cryptography),
    ("OpenSSL (cryptography)", _openssl),
    ("Pillow", _pillow),
    ("pillow-heif", _pillow_heif),
    ("libheif", _libheif),
    ("ReportLab", _reportlab),
    ("platformdirs", _platformdirs),
)


def component_versions() -> dict[str, str]:
    """Display name -> version of every component, in display order.

    A component that cannot be loaded shows ``"not available"`` with the reason instead of
    failing the whole list: an About dialog must open even in a broken installation, which is
    exactly when someone needs to read it.
    """
    found: dict[str, str] = {}
    for name, get in _COMPONENTS:
        try:
            found[name] = get()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            found[name] = f"{UNKNOWN} ({type(exc).__name__}: {exc})"
    return found


def platform_summary() -> str:
    """One line about the machine: OS, architecture, and whether this runs from a bundle or source."""
    bundled = "installed app" if getattr(sys, "frozen", False) else "run from source"
    return f"{platform.system()} {platform.release()} {platform.machine()} · {bundled}"


def as_text(versions: dict[str, str]) -> str:
    """Plain text for a bug report or the clipboard (contains no patient data)."""
    width = max(len(k) for k in versions)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in versions.items())
