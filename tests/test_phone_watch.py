"""The watched phone folder (issue 18): photos still syncing wait; imported ones are not new."""

from __future__ import annotations

from types import SimpleNamespace

from dermarchive.archive import records
from dermarchive.ingest import ImportOptions, run_import, scan
from dermarchive.ingest.watch import PhoneFolderWatch, archive_check
from dermarchive.system import cloud_placeholder

from .sheet_photos import jpeg, skin_photo


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_photo_is_new_only_once_it_stops_changing(tmp_path):
    folder, clock = tmp_path / "phone", Clock()
    folder.mkdir()
    photo = jpeg(skin_photo(1, (400, 300)), taken_at="2026-11-30T10:00:00")
    (folder / "IMG_1.JPG").write_bytes(photo[: len(photo) // 2])  # the sync client is still writing
    (folder / "IMG_2.JPG").write_bytes(b"")                       # created, not filled yet
    (folder / ".IMG_3.JPG.icloud").write_bytes(b"placeholder")     # iCloud has not downloaded it
    (folder / "notes.txt").write_text("not a photo")
    watch = PhoneFolderWatch(folder, settle_seconds=10, clock=clock)
    never = lambda data: False  # noqa: E731 - nothing is in the archive
    state = watch.poll(never)
    assert not state.new and len(state.syncing) == 3
    clock.now += 6
    (folder / "IMG_1.JPG").write_bytes(photo)  # the rest arrived: its size changed
    assert not watch.poll(never).new
    clock.now += 9
    assert not watch.poll(never).new  # unchanged for 9 s only
    clock.now += 2
    state = watch.poll(never)
    assert [p.name for p in state.new] == ["IMG_1.JPG"]
    assert sorted(p.name for p in state.syncing) == [".IMG_3.JPG.icloud", "IMG_2.JPG"]


def test_photos_already_in_the_archive_are_not_new(archive, tmp_path):
    folder, clock = tmp_path / "phone", Clock()
    folder.mkdir()
    for n in range(3):
        (folder / f"IMG_{n}.JPG").write_bytes(jpeg(skin_photo(n, (400, 300)), taken_at=f"2026-11-30T10:0{n}:00"))
    patient = records.add_patient(archive, "ZZZ0016", "Tester")
    plan = scan(folder, archive)
    plan.entries = [e for e in plan.entries if e.rel != "IMG_2.JPG"]
    run_import(archive, plan, ImportOptions(patient.id))
    watch = PhoneFolderWatch(folder, settle_seconds=0, clock=clock)
    assert [p.name for p in watch.poll(archive_check(archive)).new] == ["IMG_2.JPG"]


def test_cloud_placeholders_on_each_platform():
    """Each OS branch selected on Linux: Windows offline/recall attributes, macOS dataless files,
    and the names and empty files every platform's sync clients leave."""
    plain = SimpleNamespace(st_size=10, st_file_attributes=0x20, st_flags=0)
    assert not cloud_placeholder("IMG_1.JPG", plain, "win32")
    assert cloud_placeholder("IMG_1.JPG", SimpleNamespace(st_size=10, st_file_attributes=0x400000), "win32")
    assert cloud_placeholder("IMG_1.JPG", SimpleNamespace(st_size=10, st_file_attributes=0x1000), "win32")
    assert not cloud_placeholder("IMG_1.JPG", plain, "darwin")
    assert cloud_placeholder("IMG_1.JPG", SimpleNamespace(st_size=10, st_flags=0x40000000), "darwin")
    assert not cloud_placeholder("IMG_1.JPG", plain, "linux")
    assert cloud_placeholder(".IMG_1.JPG.icloud", plain, "linux")
    assert cloud_placeholder("IMG_1.JPG", SimpleNamespace(st_size=0), "linux")
