"""DICOM export: coded body sites, real corpus photos → VL Photographic / Dermoscopic instances,
checked with dciodvfy (dicom3tools) and read back with pydicom; DICOMDIR; the CLI."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageOps
from pydicom.fileset import FileSet
from pydicom.sr.codedict import codes

from dermarchive.archive import bodysites, records
from dermarchive.cli import main
from dermarchive.errors import InvalidInput
from dermarchive.dicom import codes as dicom_codes
from dermarchive.archive import dicom_store
from dermarchive.dicom.build import DERMOSCOPIC, VL_PHOTOGRAPHIC, build_instance
from dermarchive.dicom.export import export_dicom
from dermarchive.dicom.pixels import clean_jpeg, jpeg_info, jpegtran_missing_note, pixels_for_dicom
from tests.conftest import PASSPHRASE, USER
from tests.helpers import require_tool
from tests.orthanc_fixture import add_photo, make_photo_archive, progressive_from


def dciodvfy_errors(path: Path) -> list[str]:
    require_tool("dciodvfy", "apt-get install dicom3tools")
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


def decoded(ds: pydicom.Dataset) -> np.ndarray:
    """Pixels as RGB uint8, whatever the transfer syntax (pydicom converts YBR to RGB)."""
    return np.asarray(ds.pixel_array, dtype=np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def upright(data: bytes) -> np.ndarray:
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


# -- codes ---------------------------------------------------------------------------------------
def test_every_site_has_a_code_from_the_dicom_tables() -> None:
    """Each code must be in DICOM PS3.16 CID 4029 (as pydicom publishes it) with the same meaning."""
    cid4029 = {getattr(codes.cid4029, n).value: getattr(codes.cid4029, n).meaning for n in codes.cid4029.dir()}
    cid244 = {getattr(codes.cid244, n).value: getattr(codes.cid244, n).meaning for n in codes.cid244.dir()}
    assert set(dicom_codes.SITE_CODES) == set(bodysites.BY_KEY), "every body site needs a code"
    used = [c for c, _ in dicom_codes.SITE_CODES.values()] + [dicom_codes.SKIN, dicom_codes.TOE_NAIL]
    for code in used:
        assert code.scheme == "SCT"
        assert cid4029.get(code.value) == code.meaning, f"{code} is not in CID 4029"
    for code in dicom_codes.LATERALITY_CODES.values():
        assert cid244.get(code.value) == code.meaning, f"{code} is not in CID 244"
    # the examples the issue names
    assert dicom_codes.coded_site("back").site.value == "66643007"
    assert dicom_codes.coded_site("face").site.value == "73897004"
    assert dicom_codes.coded_site("scalp").site.value == "43067004"
    assert dicom_codes.coded_site("nail", "left great toe").site.meaning == "Nail unit of toe"
    assert not dicom_codes.coded_site("thigh").exact
    assert dicom_codes.image_laterality("forearm", "left") == "L"
    assert dicom_codes.image_laterality("scalp", "left") == "U"


# -- pixels --------------------------------------------------------------------------------------
def test_baseline_jpeg_is_wrapped_without_recompression_and_without_exif(corpus: Path) -> None:
    source = (corpus / "iphone_hdr_NO.jpg").read_bytes()  # real iPhone photo with EXIF + GPS
    with Image.open(io.BytesIO(source)) as img:
        assert img.getexif().get_ifd(0x8825), "the corpus photo should carry GPS"
    px = pixels_for_dicom(source, 1)
    assert px.route == "wrapped" and px.transfer_syntax == "1.2.840.10008.1.2.4.50"
    assert px.photometric == "YBR_FULL_422" and (px.columns, px.rows) == (3264, 2448)
    assert b"Exif" not in px.data and b"Apple" not in px.data and b"ICC_PROFILE" not in px.data
    with Image.open(io.BytesIO(px.data)) as img:
        assert not img.getexif() and not img.info.get("exif")
    # the entropy-coded scan (with its tables) is byte-identical: not re-compressed
    scan = px.data[px.data.index(b"\xff\xda"):]
    assert len(scan) > 0.9 * len(px.data) and source.endswith(scan)
    assert np.array_equal(upright(px.data), upright(source))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_jpeg_is_turned_losslessly(corpus: Path, orientation: int) -> None:
    require_tool("jpegtran", "apt-get install libjpeg-turbo-progs")
    source = (corpus / "Apple iPhone 4S.jpg").read_bytes()  # 3264x2448, 16x16 MCU: perfect turns
    px = pixels_for_dicom(source, orientation)
    assert px.route == "rotated-lossless"
    with Image.open(io.BytesIO(source)) as img:
        expected = np.asarray(img.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270,
                                             8: Image.Transpose.ROTATE_90}[orientation]).convert("RGB"))
    got = upright(px.data)
    assert got.shape == expected.shape
    assert psnr(got, expected) > 40  # same coefficients; only chroma upsampling may differ


def test_rotation_that_cannot_be_lossless_is_re_encoded(corpus: Path) -> None:
    source = (corpus / "landscape_6.jpg").read_bytes()  # 450 wide: not a multiple of the 16 px MCU
    px = pixels_for_dicom(source, 6)
    assert px.route == "re-encoded"
    assert jpeg_info(px.data).sof == 0xC0 and (px.columns, px.rows) == (600, 450)
    assert psnr(upright(px.data), upright(source)) > 38


def test_progressive_jpeg_is_transcoded_to_baseline_losslessly(corpus: Path) -> None:
    source = progressive_from((corpus / "jolla.jpg").read_bytes())  # skips without jpegtran
    assert jpeg_info(source).sof == 0xC2
    px = pixels_for_dicom(source, 1)
    assert px.route == "transcoded-lossless" and jpeg_info(px.data).sof == 0xC0
    assert psnr(upright(px.data), upright(source)) > 50


def test_png_is_kept_exactly_and_heic_converted_with_measured_fidelity(corpus: Path) -> None:
    png = (corpus / "clipboard_target.png").read_bytes()
    px = pixels_for_dicom(png, 1)
    assert px.route == "converted-lossless" and not px.lossy
    assert np.array_equal(np.frombuffer(px.data, np.uint8).reshape(px.rows, px.columns, 3), upright(png))
    heic = (corpus / "arrow.heic").read_bytes()
    px = pixels_for_dicom(heic, 1)
    assert px.route == "converted-lossy" and px.lossy
    assert psnr(upright(px.data), upright(heic)) > 38


def test_broken_photo_gives_a_clear_error(corpus: Path) -> None:
    with pytest.raises(InvalidInput, match="truncated|damaged|decoded"):
        pixels_for_dicom((corpus / "truncated_jpeg.jpg").read_bytes()[:3000], 1)


# -- instances, files, DICOMDIR -------------------------------------------------------------------
@pytest.mark.slow
def test_export_writes_valid_dicom_with_dicomdir(archive, corpus: Path, tmp_path: Path) -> None:
    pa = make_photo_archive(archive, corpus)
    out = tmp_path / "usb"
    summary = export_dicom(archive, pa.patient.id, out)
    assert summary["count"] == len(pa.ids)
    assert summary["routes"] == {"wrapped": 2, "rotated-lossless": 1, "re-encoded": 1,
                                 "converted-lossless": 1, "converted-lossy": 1, "transcoded-lossless": 1}
    fileset = FileSet(out / "DICOMDIR")
    assert len(fileset) == len(pa.ids)
    assert not [p for p in out.rglob("*") if p.name.startswith(".staging")], "staging folder left behind"
    by_id = {img["id"]: img for img in summary["images"]}
    studies = set()
    for name, image_id in pa.ids.items():
        path = out / by_id[image_id]["file"]
        assert dciodvfy_errors(path) == [], name
        ds = pydicom.dcmread(path)
        raw = path.read_bytes()
        assert b"Exif\0\0" not in raw and b"http://ns.adobe.com/xap" not in raw, name
        assert ds.SpecificCharacterSet == "ISO_IR 192"
        assert str(ds.PatientName) == "Ngātai-Pōtae^Mere Āio"
        assert "Ngātai-Pōtae".encode() in raw
        assert ds.PatientID == "ZZZ0016" and ds.IssuerOfPatientID == "NHI"
        assert ds.PatientBirthDate == "19610704" and ds.StudyDate == "20240305"
        dermoscopic = name == "dermoscopic"
        assert ds.SOPClassUID == (DERMOSCOPIC if dermoscopic else VL_PHOTOGRAPHIC)
        assert ds.Modality == ("DMS" if dermoscopic else "XC")
        region = ds.AnatomicRegionSequence[0]
        assert (region.CodeValue, region.CodingSchemeDesignator) == ("371311000", "SCT")  # forearm ⊂ upper limb
        assert region.AnatomicRegionModifierSequence[0].CodeValue == "7771000"  # left
        assert ds.ImageLaterality == "L"
        assert "dorsal, 3 cm below elbow" in ds.ImageComments
        studies.add(ds.StudyInstanceUID)
        if dermoscopic:
            assert (ds.LightSourcePolarization, ds.ContactMethod) == ("POLARIZED", "CONTACT")
            assert float(ds.OpticalMagnificationFactor) == 10
        if name == "baseline":
            # the JPEG frame in the file is the stored JPEG, cleaned, not re-compressed
            frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
            assert frame.rstrip(b"\0") == clean_jpeg(pa.sources[name])[0].rstrip(b"\0")
            assert ds.LossyImageCompression == "01" and ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
        if name in ("rotated-perfect", "rotated-imperfect"):
            stored = records.get_image(archive, image_id)  # orientation 6: a quarter turn
            assert (ds.Columns, ds.Rows) == (stored.height, stored.width)
        decoded(ds)  # every file decodes
    assert len(studies) == 1, "a visit is one study"
    assert dciodvfy_errors(out / "DICOMDIR") == []
    # patient/study/series attributes agree across the files (dicom3tools' entity checker)
    files = [str(out / img["file"]) for img in summary["images"]]
    entities = subprocess.run(["dcentvfy", *files], capture_output=True, text=True, check=False)
    assert "Error" not in entities.stdout + entities.stderr
    entries = archive.audit.entries(archive.catalogue, action="export")
    assert entries[-1].details["format"] == "dicom" and entries[-1].details["count"] == len(pa.ids)
    assert "Ngātai" not in json.dumps([e.as_json() for e in entries], ensure_ascii=False)


def test_uids_are_kept_so_exports_repeat_the_same_instances(archive, corpus: Path) -> None:
    pa = make_photo_archive(archive, corpus, which=("baseline",))
    image = records.get_image(archive, pa.ids["baseline"])
    first, second = build_instance(archive, image), build_instance(archive, image)
    assert first.sop_instance_uid == second.sop_instance_uid
    assert first.study_uid == second.study_uid and first.sop_instance_uid.startswith("2.25.")
    other_visit = records.add_visit(archive, pa.patient.id, "2024-04-01")
    other = records.get_image(archive, add_photo(archive, other_visit, pa.sources["baseline"]))
    assert build_instance(archive, other).study_uid != first.study_uid


def test_dermoscopy_attributes_recorded_and_validated(archive, corpus: Path, tmp_path: Path) -> None:
    pa = make_photo_archive(archive, corpus, which=("dermoscopic", "baseline"))
    derm = pa.ids["dermoscopic"]
    dicom_store.set_dermoscopy_defaults(archive, magnification=20)
    dicom_store.set_dermoscopy_attributes(archive, [derm], polarization="non-polarized", immersion="mineral-oil")
    ds = build_instance(archive, records.get_image(archive, derm)).dataset
    assert ds.LightSourcePolarization == "NON_POLARIZED" and ds.ImmersionMedia == "MINERAL_OIL"
    assert float(ds.OpticalMagnificationFactor) == 20
    path = tmp_path / "derm.dcm"
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    # defaults frozen at import do not change when the practice changes its dermatoscope later
    frozen = add_photo(archive, pa.visit_id, pa.sources["dermoscopic"], kind="dermoscopic")
    with archive.transaction() as tx:
        dicom_store.record_dermoscopy_defaults(archive, tx, [frozen, pa.ids["baseline"]])
    dicom_store.set_dermoscopy_defaults(archive, magnification=40, polarization="non-polarized")
    assert dicom_store.dermoscopy_of(archive, frozen) == dicom_store.Dermoscopy("POLARIZED", "CONTACT", "", 20)
    assert dicom_store.dermoscopy_of(archive, pa.ids["dermoscopic"]).magnification == 40  # never frozen
    with pytest.raises(InvalidInput, match="not dermoscopic"):
        dicom_store.set_dermoscopy_attributes(archive, [pa.ids["baseline"]], contact="non-contact")
    with pytest.raises(InvalidInput, match="polarization must be one of"):
        dicom_store.set_dermoscopy_attributes(archive, [derm], polarization="sideways")
    with pytest.raises(InvalidInput, match="only applies to contact"):
        dicom_store.set_dermoscopy_attributes(archive, [derm], contact="non-contact", immersion="water")


def test_cli_dicom_export_and_errors(tmp_path: Path, passphrase_file: Path, corpus: Path, capsys) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

    path = tmp_path / "arch"
    with Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS) as a:
        pa = make_photo_archive(a, corpus, which=("baseline", "png"))
        consent_form = add_photo(a, pa.visit_id, pa.sources["png"], kind="consent-form", fmt="PNG")
    common = [str(path), "--passphrase-file", str(passphrase_file)]
    out = tmp_path / "out"
    assert main(["dicom", *common, "--patient", "zzz0016", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 2 and (out / "DICOMDIR").exists()
    # --image takes several ids after one flag, or the flag repeated
    both = [str(pa.ids["baseline"]), str(pa.ids["png"])]
    assert main(["dicom", *common, "--patient", "ZZZ0016", "--image", *both, "--out", str(tmp_path / "o4"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    assert main(["dicom", *common, "--patient", "ZZZ0016", "--image", both[0], "--image", both[1],
                 "--out", str(tmp_path / "o5"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    assert main(["dicom", *common, "--patient", "ZZZ0016", "--image", both[1], "--out", str(tmp_path / "o6"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1
    # not an empty folder: refused, nothing changed
    assert main(["dicom", *common, "--patient", "ZZZ0016", "--out", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["dicom", *common, "--patient", "ZZZ0016", "--image", str(consent_form),
                 "--out", str(tmp_path / "o2")]) == 2
    assert "consent forms" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    assert main(["dicom", *common, "--patient", "ZZZ0024", "--out", str(tmp_path / "o3")]) != 0
    assert "No patient with NHI" in capsys.readouterr().err
    assert main(["verify", *common]) == 0


def test_cli_dermoscopy_attributes(tmp_path: Path, passphrase_file: Path, corpus: Path, capsys) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

    path = tmp_path / "arch"
    with Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS) as a:
        pa = make_photo_archive(a, corpus, which=("dermoscopic", "png"))
    common = [str(path), "--passphrase-file", str(passphrase_file)]
    derm = str(pa.ids["dermoscopic"])
    assert main(["dicom-dermoscopy", *common, "--default", "--magnification", "30"]) == 0
    assert main(["dicom-dermoscopy", *common, "--image", derm, "--contact", "non-contact",
                 "--polarization", "non-polarized"]) == 0
    assert main(["dicom-dermoscopy", *common, "--image", str(pa.ids["png"]), "--contact", "contact"]) == 2
    assert "not dermoscopic" in capsys.readouterr().err
    with Archive.open(path, USER, PASSPHRASE) as a:
        ds = build_instance(a, records.get_image(a, pa.ids["dermoscopic"])).dataset
        assert (ds.ContactMethod, ds.LightSourcePolarization) == ("NON_CONTACT", "NON_POLARIZED")
        assert float(ds.OpticalMagnificationFactor) == 30 and "ImmersionMedia" not in ds


def test_without_jpegtran_rotation_falls_back_to_re_encoding(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without libjpeg-turbo-progs
    px = pixels_for_dicom((corpus / "Apple iPhone 4S.jpg").read_bytes(), 6)
    assert px.route == "re-encoded" and (px.columns, px.rows) == (2448, 3264)
    assert px.without_jpegtran  # the export names the reason
    # a turn that jpegtran could not make losslessly anyway is not blamed on its absence
    assert not pixels_for_dicom((corpus / "landscape_6.jpg").read_bytes(), 6).without_jpegtran
    assert not pixels_for_dicom((corpus / "45-gps_ifd.jpg").read_bytes(), 6).without_jpegtran  # 4:2:2 -> 4:4:0


def test_without_jpegtran_the_export_says_so(tmp_path: Path, passphrase_file: Path, corpus: Path, capsys,
                                             monkeypatch) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

    path = tmp_path / "arch"
    with Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS) as a:
        make_photo_archive(a, corpus, which=("baseline", "rotated-perfect", "rotated-imperfect"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no jpegtran (nor anything else)
    common = [str(path), "--passphrase-file", str(passphrase_file), "--patient", "ZZZ0016"]
    assert main(["dicom", *common, "--out", str(tmp_path / "o1")]) == 0
    out = capsys.readouterr().out
    assert "Wrote 3 DICOM image(s)" in out and "2 re-encoded" in out
    assert "jpegtran is not installed, so 1 photo(s)" in out and "sudo apt install libjpeg-turbo-progs" in out
    assert main(["dicom", *common, "--out", str(tmp_path / "o2"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [jpegtran_missing_note(1)]


@pytest.mark.parametrize("name, route", [("45-gps_ifd.jpg", "wrapped"),        # 4:2:2
                                         ("jolla.jpg", "wrapped"),             # 4:2:0
                                         ("87_OSError.jpg", "re-encoded"),     # 4:4:0
                                         ("landscape_1.jpg", "re-encoded"),    # 4:4:4
                                         ("sugarshack.mpo", "wrapped")])       # MPO: first frame only
def test_chroma_sampling_decides_wrap_or_re_encode(corpus: Path, name: str, route: str) -> None:
    source = (corpus / name).read_bytes()
    px = pixels_for_dicom(source, 1)
    assert px.route == route and px.photometric == "YBR_FULL_422"
    info = jpeg_info(px.data)
    assert info.sampling[0] in ((2, 1), (2, 2)) and info.end == len(px.data)
    assert len(px.data) < len(source) or route == "re-encoded"


def test_quarter_turn_of_a_422_jpeg_is_re_encoded(corpus: Path) -> None:
    """jpegtran could turn it losslessly, but 4:2:2 turned is 4:4:0, which YBR_FULL_422 is not."""
    px = pixels_for_dicom((corpus / "45-gps_ifd.jpg").read_bytes(), 8)  # 1600x900, 4:2:2
    assert px.route == "re-encoded" and (px.columns, px.rows) == (900, 1600)
    assert pixels_for_dicom((corpus / "45-gps_ifd.jpg").read_bytes(), 3).route == "re-encoded"  # 900 % 8


@pytest.mark.parametrize("kind", ["clinical", "dermoscopic"])
def test_sparse_record_still_makes_a_valid_instance(archive, corpus: Path, tmp_path: Path, kind: str) -> None:
    """No given name, birth date, capture time, lesion or site: still valid for dciodvfy."""
    patient = records.add_patient(archive, "ZZZ0024", "Smith")
    visit = records.add_visit(archive, patient.id, "2024-01-02")
    image = add_photo(archive, visit, (corpus / "noexif.jpg").read_bytes(), kind=kind, taken_at=None)
    ds = build_instance(archive, records.get_image(archive, image)).dataset
    path = tmp_path / "sparse.dcm"
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    assert str(ds.PatientName) == "Smith^" and ds.PatientBirthDate == "" and "ContentTime" not in ds
    assert ds.ImageLaterality == "U"
    if kind == "dermoscopic":
        assert ds.AnatomicRegionSequence[0].CodeValue == "39937001"  # Skin: required for dermoscopy
    else:
        assert "AnatomicRegionSequence" not in ds
