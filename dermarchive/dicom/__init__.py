"""DICOM: body-site codes, pixels from stored photos, instances, the catalogue's UIDs, files with a
DICOMDIR, and the practice PACS over DICOMweb (DESIGN §7)."""
