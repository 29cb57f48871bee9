"""The one message helper. Tests replace :data:`sink` to record messages instead of showing them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from ..errors import DermArchiveError, WrongPassphrase

Sink = Callable[[QWidget | None, str, str, str], None]


def _show(parent: QWidget | None, level: str, title: str, text: str) -> None:
    box = {"error": QMessageBox.critical, "warning": QMessageBox.warning}.get(level, QMessageBox.information)
    box(parent, title, text)


sink: Sink = _show


def in_words(exc: DermArchiveError) -> str:
    """What a person at the screen is told. A wrong passphrase is a typing matter, not news that
    "nothing was changed" (the command line keeps the core's wording for scripts)."""
    if isinstance(exc, WrongPassphrase):
        return (f"That is not the passphrase of user '{exc.user}'. Check Caps Lock and the keyboard layout, "
                "then type it again.")
    return str(exc)


def show_error(parent: QWidget | None, exc: BaseException, title: str = "DermArchive") -> None:
    if isinstance(exc, DermArchiveError):
        sink(parent, "error", title, in_words(exc))
    else:
        sink(parent, "error", title,
             f"Something went wrong ({type(exc).__name__}). Your archive is safe; the action was not completed.")


def info(parent: QWidget | None, text: str, title: str = "DermArchive") -> None:
    sink(parent, "info", title, text)


def warning(parent: QWidget | None, text: str, title: str = "DermArchive") -> None:
    sink(parent, "warning", title, text)
