"""Durable, atomic file writes, private file modes, file locks and free space: every piece of
the archive's file handling that differs between operating systems is here, one branch per OS.

Writes: temp name in the same folder, fsync, rename, fsync the folder. A crash at any point
leaves either the old file or the new one, never half of one. ``OSError`` from the disk (full,
read-only, removed) becomes :class:`StorageError` with a plain message, and the temp file is
removed.

Per-OS pieces (each function takes ``os_name`` so tests select every branch on one machine):

* file modes: on Linux and macOS archive and export folders are created 0700 and files 0600,
  whatever the umask (``os.open``/``mkdir`` modes can only be narrowed by it). Windows has no
  POSIX modes (``chmod`` only sets read-only); there the user's profile ACLs protect the folder.
* many files made durable at once (:func:`sync_files`): Linux flushes the folder's filesystem
  with one ``syncfs(2)``; macOS and Windows fsync each file.
* copying a file (:func:`copy_in_kernel`): Linux asks ``copy_file_range(2)`` (no pass through
  user space; a shared-block clone on Btrfs/XFS, a server-side copy on NFS/SMB); macOS and
  Windows copy through user space (the caller's read/write loop).
* folder fsync: POSIX opens the folder and fsyncs it; Windows cannot open folders (NTFS
  journals renames itself).
* file locks: ``fcntl.flock`` on Linux/macOS (what ``portalocker`` calls there, without its
  import cost on every command's start-up), ``portalocker`` (LockFileEx) on Windows.
* read-only media: ``statvfs`` ``ST_RDONLY`` on POSIX; Windows relies on the write probe.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InvalidInput, StorageError

TEMP_PREFIX = ".tmp-"
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# Below this much free space the archive opens read-only: SQLite needs room for its WAL and
# shared-memory files, and a half-finished import helps nobody.
LOW_SPACE_BYTES = 1024 * 1024


def current_os() -> str:
    """'windows', 'macos' or 'linux' (every other POSIX system is treated as Linux)."""
    if sys.platform == "win32":
        return "windows"
    return "macos" if sys.platform == "darwin" else "linux"


def _posix(os_name: str | None) -> bool:
    return (os_name or current_os()) != "windows"


def private_opener(path: str, flags: int, *, os_name: str | None = None) -> int:
    """``opener=`` for :func:`open`: new files are 0600 on POSIX whatever the umask."""
    if _posix(os_name):
        fd = os.open(path, flags, PRIVATE_FILE_MODE)
        if flags & os.O_CREAT:
            try:
                os.fchmod(fd, PRIVATE_FILE_MODE)  # an existing file keeps its mode otherwise
            except OSError:
                pass
        return fd
    return os.open(path, flags)  # Windows: the profile's ACLs apply


def make_private(path: Path, *, os_name: str | None = None) -> None:
    """Narrow an existing folder to 0700 or file to 0600 (POSIX; Windows: nothing to do)."""
    if not _posix(os_name):
        return
    try:
        os.chmod(path, PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)
    except OSError:
        pass  # not ours to change (another owner, read-only medium): reading still works


def private_mkdir(path: Path, *, parents: bool = False, exist_ok: bool = False,
                  os_name: str | None = None) -> None:
    """``mkdir`` whose new folder is 0700 on POSIX whatever the umask."""
    existed = path.is_dir()
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=parents, exist_ok=exist_ok)
    if not existed:
        make_private(path, os_name=os_name)


def free_bytes(path: Path) -> int:
    """Free space for this user on the disk holding ``path`` (shutil does the per-OS call)."""
    return shutil.disk_usage(path).free


def is_read_only_medium(path: Path, *, os_name: str | None = None) -> bool:
    read_only = not os.access(path, os.W_OK)
    if _posix(os_name):
        try:
            read_only = read_only or bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        except (AttributeError, OSError):
            pass
    return read_only


class FileLock:
    """An advisory lock on ``path`` (created 0600): exclusive or shared, blocking or not.

    ``acquire`` raises :class:`BlockingIOError` when ``blocking`` is False and another process
    holds a conflicting lock. Used for the archive's process lock and header lock, and the
    backup folder's lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: object | None = None

    def acquire(self, *, exclusive: bool, blocking: bool = True, os_name: str | None = None) -> None:
        if self.fh is None:
            self.fh = open(self.path, "a+b", opener=private_opener)
        self._posix = _posix(os_name)
        if self._posix:
            import fcntl

            try:
                fcntl.flock(self.fh.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)  # type: ignore[attr-defined]
                            | (0 if blocking else fcntl.LOCK_NB))
            except OSError:  # EWOULDBLOCK, or any other flock failure, as portalocker reported it
                raise BlockingIOError(f"{self.path.name} is locked by another process") from None
        else:
            import portalocker

            flags = portalocker.LOCK_EX if exclusive else portalocker.LOCK_SH
            try:
                portalocker.lock(self.fh, flags if blocking else flags | portalocker.LOCK_NB)  # type: ignore[arg-type]
            except portalocker.exceptions.LockException:
                raise BlockingIOError(f"{self.path.name} is locked by another process") from None

    def release(self) -> None:
        if self.fh is not None:
            try:
                if getattr(self, "_posix", True):
                    import fcntl

                    fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)  # type: ignore[attr-defined]
                else:
                    import portalocker

                    portalocker.unlock(self.fh)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001,S110 - closing the file below drops the lock anyway
                pass
            self.fh.close()  # type: ignore[attr-defined]
            self.fh = None


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (waiting for it) for the duration of the block."""
    lock = FileLock(path)
    try:
        lock.acquire(exclusive=True)
    except OSError as exc:
        lock.release()
        raise StorageError(describe_os_error(exc, f"lock {path.name}")) from exc
    try:
        yield
    finally:
        lock.release()


def fsync_dir(path: Path, *, os_name: str | None = None) -> None:
    if not _posix(os_name):
        return  # Windows cannot open folders; NTFS journals the rename itself
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - a folder we may not open
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(paths: Iterable[Path | str], folder: Path, *, folders: Iterable[Path] = (),
               os_name: str | None = None) -> None:
    """Make the written data of ``paths`` (files on the same filesystem as ``folder``) durable,
    and the entries (new names) of ``folders``, with one flush where the OS has one for a whole
    filesystem; raises OSError.

    Linux: ``syncfs(2)`` on ``folder`` (one journal commit instead of one per file and folder; it
    reports write-back errors since Linux 5.8); when libc lacks it, each file is fsynced, then
    each folder. macOS and Windows: each file is fsynced (``os.fsync``: fsync(2) /
    FlushFileBuffers), as elsewhere here, then each folder (:func:`fsync_dir`).
    """
    if (os_name or current_os()) == "linux" and _syncfs(folder):
        return
    for path in paths:
        fd = os.open(path, os.O_RDWR)  # FlushFileBuffers needs a handle open for writing
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for sub in folders:
        fsync_dir(sub, os_name=os_name)


def copy_in_kernel(src: int, dst: int, *, os_name: str | None = None) -> int:
    """Copy from ``src``'s position to its end into ``dst`` without passing the bytes through
    user space, where the OS can; return how many bytes were copied (both positions advance).

    It stops early, returning what it copied, when the kernel cannot (another filesystem type,
    an old kernel) or fails (a read or write error): the caller copies the rest through user
    space, where a failure says which side it was. Linux: ``copy_file_range(2)``. macOS and
    Windows: 0, nothing copied (Python offers no in-kernel copy between two open files there).
    """
    if (os_name or current_os()) != "linux" or not hasattr(os, "copy_file_range"):
        return 0
    done = 0
    while True:
        try:
            n = os.copy_file_range(src, dst, 1 << 30)
        except OSError:
            return done
        if n == 0:  # the end (or a filesystem that copies nothing this way: the caller goes on)
            return done
        done += n


def sync_folders(folders: Iterable[Path], root: Path, *, os_name: str | None = None) -> None:
    """Make the renames into ``folders`` (all on ``root``'s filesystem) durable; raises OSError.

    Linux: one ``syncfs(2)`` on ``root`` (it commits the journal, renames included). macOS: each
    folder is fsynced. Windows: nothing (NTFS journals renames; folders cannot be opened).
    """
    sync_files((), root, folders=sorted(set(folders)), os_name=os_name)


def _syncfs(folder: Path) -> bool:
    """syncfs(2) of ``folder``'s filesystem; False when the C library has no syncfs."""
    import ctypes  # only here: most commands never sync many files at once

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):  # pragma: no cover - not glibc/musl Linux
        return False
    syncfs.argtypes, syncfs.restype = [ctypes.c_int], ctypes.c_int
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)
    return True


def describe_os_error(exc: OSError, action: str) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
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
        with open(tmp, "xb", opener=private_opener) as fh:
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


def write_temp(final: Path, chunks: Iterable[bytes], *, action: str = "write a file",
               temp_dir: Path | None = None, sync: bool = True) -> Path:
    """Write ``chunks`` durably to a temp file beside ``final`` (or in ``temp_dir``, on the same
    disk) without renaming it; return its path.

    The caller later moves it into place with :func:`move_into_place`, or deletes it.
    ``sync=False`` leaves the flush to the caller, who makes a whole batch durable at once with
    :func:`sync_files` before moving any of it into place.
    """
    tmp = temp_path_for(final) if temp_dir is None else temp_dir / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    try:
        private_mkdir(tmp.parent, parents=True, exist_ok=True)
        with open(tmp, "xb", opener=private_opener) as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(describe_os_error(exc, action)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def move_into_place(tmp: Path, final: Path, *, action: str = "write a file", sync: bool = True) -> None:
    """Rename ``tmp`` to ``final`` and fsync its folder (``sync=False``: the caller makes the
    folders of a whole batch durable at once with :func:`sync_folders`)."""
    try:
        private_mkdir(final.parent, exist_ok=True)
        os.replace(tmp, final)
        if sync:
            fsync_dir(final.parent)
    except OSError as exc:
        raise StorageError(describe_os_error(exc, action)) from exc


def atomic_write_bytes(final: Path, data: bytes, *, action: str = "write a file") -> None:
    atomic_write(final, [data], action=action)


def write_new_file(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, and fsync it (inside a folder from :func:`new_folder`)."""
    with open(path, "xb", opener=private_opener) as fh:
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
        private_mkdir(tmp)  # plaintext inside: 0700 whatever the umask
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
