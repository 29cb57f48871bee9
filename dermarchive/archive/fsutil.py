"""Durable, atomic file writes: temp name in the same folder, fsync, rename, fsync the folder.

A crash at any point leaves either the old file or the new one, never half of one. ``OSError``
from the disk (full, read-only, removed) becomes :class:`StorageError` with a plain message, and
the temp file is removed.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InvalidInput, StorageError

TEMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, action: str) -> str:
    if exc.errno == errno.ENOSPC:
        return f"The disk is full: could not {action}. Free some space and try again; nothing was half-written."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"The disk or folder is read-only or not permitted: could not {action}."
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.EIO):
        return f"The disk or folder is no longer available: could not {action}."
    return f"Could not {action}: {exc.strerror or exc}."


def temp_path_for(final: Path) -> Path:
    return final.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"


def atomic_write(final: Path, chunks: Iterable[bytes], *, action: str = "write a file") -> int:
    """Write ``chunks`` to ``final`` atomically; return the number of bytes written."""
    tmp = temp_path_for(final)
    written = 0
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                written += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise StorageError(describe_os_error(exc, action)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def write_temp(final: Path, chunks: Iterable[bytes], *, action: str = "write a file") -> Path:
    """Write ``chunks`` durably to a temp file beside ``final`` (not yet renamed); return its path.

    The caller later moves it into place with :func:`move_into_place`, or deletes it.
    """
    tmp = temp_path_for(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(describe_os_error(exc, action)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def move_into_place(tmp: Path, final: Path, *, action: str = "write a file") -> None:
    try:
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except OSError as exc:
        raise StorageError(describe_os_error(exc, action)) from exc


def atomic_write_bytes(final: Path, data: bytes, *, action: str = "write a file") -> None:
    atomic_write(final, [data], action=action)


def write_new_file(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, and fsync it (inside a folder from :func:`new_folder`)."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def check_new_folder(out: Path) -> None:
    """Refuse an ``out`` that exists and is not an empty folder (call early, before any work)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} already exists and is not an empty folder; choose a new folder for the export.")


@contextmanager
def new_folder(out: Path, *, action: str = "write the export") -> Iterator[Path]:
    """Build a folder under a temp name beside ``out``; it becomes ``out`` only if the block ends
    without error (fsync'd, then renamed). On any error or cancel the temp folder is removed and
    ``out`` is as it was. ``out`` must not exist, or be an empty folder.
    """
    check_new_folder(out)
    tmp = out.parent / f"{TEMP_PREFIX}{out.name}-{secrets.token_hex(4)}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise StorageError(describe_os_error(exc, "create the export folder")) from exc
    try:
        yield tmp
        fsync_dir(tmp)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
        fsync_dir(out.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(describe_os_error(exc, action)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
