"""The import's batch durability (issue 19): one flush for a batch's new files, one for their
renames, then the commit, instead of an fsync and a folder fsync per file. The per-OS flush lives
in ``archive.fsutil``; each branch is selected by name here (only Linux really runs)."""

from __future__ import annotations

import os

import pytest

from dermarchive.archive import fsutil, records
from dermarchive.archive.verify import verify
from dermarchive.ingest import ImportOptions, run_import, scan

PHOTOS = ("jolla.jpg", "landscape_1.jpg", "landscape_3.jpg", "landscape_6.jpg", "landscape_8.jpg",
          "Apple iPhone 4S.jpg", "sugarshack.mpo", "noexif.jpg")


class _Flushes:
    """Counts the real flushes made (each still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fsync = self.syncfs = 0
        real_fsync, real_syncfs = os.fsync, fsutil._syncfs

        def fsync(fd: int) -> None:
            self.fsync += 1
            real_fsync(fd)

        def syncfs(folder):  # type: ignore[no-untyped-def]
            self.syncfs += 1
            return real_syncfs(folder)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(fsutil, "_syncfs", syncfs)


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_sync_folders_flushes_renames_once_on_linux_folder_by_folder_on_macos(tmp_path, monkeypatch, os_name):
    folders = [tmp_path / name for name in ("ab", "cd", "ab")]
    for folder in folders:
        folder.mkdir(exist_ok=True)
    flushes = _Flushes(monkeypatch)
    fsutil.sync_folders(folders, tmp_path, os_name=os_name)
    expected = {"linux": (0, 1), "macos": (2, 0), "windows": (0, 0)}[os_name]  # (fsyncs, syncfs)
    assert (flushes.fsync, flushes.syncfs) == expected


def test_an_import_flushes_once_per_batch_not_once_per_file(archive, corpus_copy, monkeypatch):
    patient = records.add_patient(archive, "ZZZ0016", "Flush", "Count")
    plan = scan(corpus_copy(*PHOTOS), archive)
    flushes = _Flushes(monkeypatch)
    result = run_import(archive, plan, ImportOptions(patient.id))
    assert len(result.imported) == len(PHOTOS)
    blobs = archive.catalogue.scalar("SELECT count(*) FROM blob")
    assert blobs >= len(PHOTOS)
    # Per file before: an fsync of the file and one of its folder (2 × blobs). Now per commit
    # (a batch, or what a second brought): one syncfs for the new files, one for their renames.
    # SQLite's own fsyncs are not counted.
    if fsutil.current_os() == "linux":
        assert flushes.fsync == 0
        assert 0 < flushes.syncfs <= 2 * len(PHOTOS)  # at most one commit per photo
    assert flushes.fsync + flushes.syncfs < 2 * blobs
    assert verify(archive) == []
    assert not archive.blobs.temp_files()
