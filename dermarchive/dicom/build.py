"""One stored photo → one DICOM instance (pydicom Dataset), in memory.

Clinical photos (and "other" photos) are VL Photographic Image Storage (modality XC);
dermoscopic photos are Dermoscopic Photography Image Storage (modality DMS, Supplement 221) with
the Dermoscopic Image module. Consent-form photos are never exported as clinical images.

Identification is the Patient module only: Patient ID = NHI with issuer ``NHI``, name
``Family^Given`` in UTF-8 (``ISO_IR 192``, so macrons survive), birth date and sex. No file names,
GPS, device serials, operator or clinician names, dates beyond the study/content dates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate

from .. import __version__
from ..archive import bodysites, records
from ..errors import InvalidInput
from . import codes as dicom_codes
from ..archive import dicom_store
from .pixels import Pixels, pixels_for_dicom, stored_orientation

VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
DERMOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.7"
EXPORTABLE_KINDS = ("clinical", "dermoscopic", "other")
_SERIES = {"XC": (1, "Clinical photographs"), "DMS": (2, "Dermoscopy")}
_SEX = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}


@dataclass(frozen=True)
class Instance:
    image_id: int
    dataset: Dataset
    pixels: Pixels

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)

    @property
    def study_uid(self) -> str:
        return str(self.dataset.StudyInstanceUID)

    def to_bytes(self) -> bytes:
        """The Part 10 file (preamble, meta header, dataset)."""
        buf = io.BytesIO()
        pydicom.dcmwrite(buf, self.dataset, enforce_file_format=True)
        return buf.getvalue()

    def frame(self) -> bytes:
        return self.pixels.data


def _code_item(code: dicom_codes.Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme
    item.CodeMeaning = code.meaning
    return item


def _da(value: str | None) -> str:
    return value[:10].replace("-", "") if value else ""


def _content_datetime(taken_at: str | None, visit_date: str) -> tuple[str, str, str]:
    """(date, time, UTC offset '+HHMM' or '') of capture; the visit date when unknown."""
    parsed = records.parse_iso(taken_at)
    if parsed is None:
        return _da(visit_date), "", ""
    offset = ""
    if parsed.utcoffset() is not None:
        minutes = int(parsed.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        sign = "+" if minutes >= 0 else "-"
        offset = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return parsed.strftime("%Y%m%d"), parsed.strftime("%H%M%S"), offset


def _study_time(archive: Any, visit_id: int, visit_date: str) -> str:
    """Time of the visit's first photo taken on the visit's date ('' when none is known)."""
    rows = archive.catalogue.query("SELECT taken_at FROM image WHERE visit_id = ? AND taken_at IS NOT NULL",
                                   (visit_id,))
    times = sorted(t for t in (records.parse_iso(r[0]) for r in rows)
                   if t is not None and t.date().isoformat() == visit_date[:10])
    return times[0].strftime("%H%M%S") if times else ""


def _patient_row(archive: Any, patient_id: int) -> Any:
    row = archive.catalogue.query_one(
        "SELECT nhi, family, given, dob, sex FROM patient WHERE id = ?", (patient_id,))
    if row is None:
        raise InvalidInput("The image's patient is no longer in this archive.")
    return row


def _lesion_row(archive: Any, lesion_id: int | None) -> Any:
    if lesion_id is None:
        return None
    return archive.catalogue.query_one(
        "SELECT label, site, site_text, laterality FROM lesion WHERE id = ?", (lesion_id,))


def build_instance(archive: Any, image: records.ImageRecord, *, pixels: Pixels | None = None) -> Instance:
    """Build the DICOM instance of ``image`` (UIDs are created and stored on first use)."""
    if image.kind not in EXPORTABLE_KINDS:
        raise InvalidInput(f"Image {image.id} is a {image.kind} photo; only clinical and dermoscopic "
                           "photos are exported to DICOM.")
    if pixels is None:
        data = records.image_bytes(archive, image)
        # Upright as every other path shows it: the one orientation rule (ingest.picture).
        pixels = pixels_for_dicom(data, stored_orientation(data, image.orientation))
    dermoscopic = image.kind == "dermoscopic"
    modality = "DMS" if dermoscopic else "XC"
    with archive.transaction() as tx:
        study = dicom_store.study_uid(tx, image.visit_id)
        series = dicom_store.series_uid(tx, image.visit_id, modality)
        sop = dicom_store.instance_uid(tx, image.id)
    patient = _patient_row(archive, image.patient_id)
    lesion = _lesion_row(archive, image.lesion_id)

    ds = Dataset()
    sop_class = DERMOSCOPIC if dermoscopic else VL_PHOTOGRAPHIC
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop
    # Patient
    ds.PatientName = f"{patient['family']}^{patient['given']}"
    ds.PatientID = patient["nhi"]
    ds.IssuerOfPatientID = "NHI"
    ds.TypeOfPatientID = "TEXT"
    ds.PatientBirthDate = _da(patient["dob"])
    ds.PatientSex = _SEX.get((patient["sex"] or "").strip().lower(), "")
    # General Study
    ds.StudyInstanceUID = study
    ds.StudyDate = _da(image.visit_date)
    ds.StudyTime = _study_time(archive, image.visit_id, image.visit_date)
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"V{image.visit_id}"[:16]
    ds.AccessionNumber = ""
    ds.StudyDescription = "Skin photographs"
    # General Series
    number, description = _SERIES[modality]
    ds.Modality = modality
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    # General Equipment (the camera's make and model: not identifying, helps read colours)
    ds.Manufacturer = image.device_make[:64]
    if image.device_model:
        ds.ManufacturerModelName = image.device_model[:64]
    ds.SoftwareVersions = f"DermArchive {__version__}"
    if dermoscopic:
        # Frame of Reference and Enhanced General Equipment are mandatory for DMS
        ds.FrameOfReferenceUID = dicom_store.derived_uid(series, "frame-of-reference")
        ds.PositionReferenceIndicator = ""
        device = dicom_store.dermatoscope(archive)
        ds.Manufacturer = (device.manufacturer or image.device_make or "UNKNOWN")[:64]
        ds.ManufacturerModelName = (device.model or image.device_model or "UNKNOWN")[:64]
        ds.DeviceSerialNumber = (device.serial or "UNKNOWN")[:64]
    # General Image / VL Image
    content_date, content_time, offset = _content_datetime(image.taken_at, image.visit_date)
    ds.InstanceNumber = image.id
    ds.PatientOrientation = ""
    if content_time:  # unknown capture time: neither (type 1C; these images are not a time series)
        ds.ContentDate = content_date
        ds.ContentTime = content_time
    if offset:
        ds.TimezoneOffsetFromUTC = offset
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if pixels.route in ("wrapped", "rotated-lossless",
                                                               "transcoded-lossless") else ["DERIVED", "PRIMARY"]
    if ds.ImageType[0] == "DERIVED":
        ds.DerivationDescription = {
            "re-encoded": "Re-encoded as JPEG baseline 4:2:2, quality 95 (turned upright where needed)",
            "converted-lossy": f"Converted from {image.stored_format} to JPEG baseline (quality 95)",
            "converted-lossless": f"Converted from {image.stored_format} without loss",
        }.get(pixels.route, "Converted") + (f"; {pixels.note}" if pixels.note else "")
    _anatomy(ds, lesion, dermoscopic)
    ds.AcquisitionContextSequence = []
    # Image Pixel
    ds.SamplesPerPixel = pixels.samples
    ds.PhotometricInterpretation = pixels.photometric
    if pixels.samples == 3:
        ds.PlanarConfiguration = 0
    ds.Rows = pixels.rows
    ds.Columns = pixels.columns
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if pixels.lossy:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = f"{pixels.compression_ratio:.2f}"[:16]
        ds.LossyImageCompressionMethod = "ISO_10918_1"
    else:
        ds.LossyImageCompression = "00"
    if pixels.icc_profile:
        ds.ICCProfile = pixels.icc_profile
    if dermoscopic:
        _dermoscopy(ds, dicom_store.dermoscopy_of(archive, image.id))
    if pixels.encapsulated:
        ds.PixelData = encapsulate([pixels.data])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = pixels.data if len(pixels.data) % 2 == 0 else pixels.data + b"\0"
        ds["PixelData"].VR = "OB"

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = pixels.transfer_syntax
    meta.ImplementationVersionName = f"DERMARCHIVE_{__version__}"[:16]
    ds.file_meta = meta
    return Instance(image.id, ds, pixels)


def _anatomy(ds: Dataset, lesion: Any, dermoscopic: bool) -> None:
    """Anatomic Region Sequence (CID 4029) + modifier (CID 244), Image Laterality, free text."""
    site = lesion["site"] if lesion else ""
    laterality = lesion["laterality"] if lesion else ""
    free_text = lesion["site_text"] if lesion else ""
    coded = dicom_codes.coded_site(site, free_text) if site else None
    if coded is None and dermoscopic:
        coded = dicom_codes.CodedSite(dicom_codes.SKIN, False)  # type 1 for dermoscopy
    if coded is not None:
        region = _code_item(coded.site)
        lat = dicom_codes.laterality_code(laterality) if bodysites.BY_KEY.get(site, None) and \
            bodysites.BY_KEY[site].lateral else None
        if lat is not None:
            region.AnatomicRegionModifierSequence = [_code_item(lat)]
        ds.AnatomicRegionSequence = [region]
    ds.ImageLaterality = dicom_codes.image_laterality(site, laterality)
    if lesion:
        label = bodysites.label(site, free_text, laterality) if site else (free_text or "site not recorded")
        ds.ImageComments = f"Lesion {lesion['label']}: {label}"[:10240]


def _dermoscopy(ds: Dataset, derm: dicom_store.Dermoscopy) -> None:
    ds.RecognizableVisualFeatures = "NO"
    ds.LightSourcePolarization = derm.polarization
    ds.EmitterColorTemperature = None
    ds.ContactMethod = derm.contact
    if derm.contact == "CONTACT":
        ds.ImmersionMedia = derm.immersion or None
    ds.OpticalMagnificationFactor = f"{derm.magnification:g}" if derm.magnification else None
