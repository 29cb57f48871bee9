"""Issue 14: DICOM export of a visit whose photos have no camera time (``--undated-visit-date``, or
file-time dates), DICOMDIR included, judged by dciodvfy when it is installed."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.fileset import FileSet

from dermarchive.archive import records
from dermarchive.dicom.export import export_dicom
from tests.orthanc_fixture import add_consent, add_photo
from tests.test_dicom import dciodvfy_errors


def test_visit_without_camera_times_exports_with_a_dicomdir(archive, corpus: Path, tmp_path: Path) -> None:
    patient = records.add_patient(archive, "ZZZ0016", "Undated", "Pat", "1961-07-04")
    visit = records.add_visit(archive, patient.id, "2024-03-05")
    ids = [add_photo(archive, visit, (corpus / "jolla.jpg").read_bytes(), taken_at=None),
           # a file-time date on another day than the visit: no time the visit can use either
           add_photo(archive, visit, (corpus / "landscape_1.jpg").read_bytes(), taken_at="2024-02-01T09:00:00")]
    add_consent(archive, visit, ["clinical.documentation"])
    out = tmp_path / "usb"
    summary = export_dicom(archive, patient.id, out)
    assert summary["count"] == 2
    fileset = FileSet(out / "DICOMDIR")
    assert len(fileset) == 2
    for image in summary["images"]:
        path = out / image["file"]
        ds = pydicom.dcmread(path)
        assert ds.StudyDate == "20240305"
        assert ds.StudyTime == ""  # unknown: the instance does not invent one (type 2)
        assert dciodvfy_errors(path) == []
    study = next(r for r in pydicom.dcmread(out / "DICOMDIR").DirectoryRecordSequence
                 if r.DirectoryRecordType == "STUDY")
    assert study.StudyTime == "000000" and study.StudyDate == "20240305"
    assert dciodvfy_errors(out / "DICOMDIR") == []
    assert ids
