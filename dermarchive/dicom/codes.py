"""Body sites and laterality as DICOM codes: CID 4029 "Dermatology Anatomic Site" and CID 244
"Laterality" (SNOMED CT, scheme designator ``SCT``).

Every code here is taken from DICOM PS3.16 as published in pydicom's generated CID tables
(``pydicom.sr.codedict.codes.cid4029`` / ``cid244``); ``tests/test_dicom_codes.py`` checks each
one against those tables, so a typo cannot ship. Where our site list (``archive.bodysites``) is
broader than any single CID 4029 concept (e.g. "Thigh": CID 4029 only has its anterior, posterior
and medial surfaces), the site maps to the nearest CID 4029 concept that *contains* it and
``exact`` is False; the free text is always sent beside the code (Anatomic Region Sequence's
Code Meaning stays the standard's, the free text goes in the image comments).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..archive import bodysites


@dataclass(frozen=True)
class Code:
    value: str
    scheme: str
    meaning: str


@dataclass(frozen=True)
class CodedSite:
    site: Code
    exact: bool  # False: the nearest containing CID 4029 concept, free text carries the detail


SKIN = Code("39937001", "SCT", "Skin")
UPPER_LIMB = Code("371311000", "SCT", "Skin of upper extremity")
LOWER_LIMB = Code("371304004", "SCT", "Skin of lower extremity")
FOOT = Code("60496002", "SCT", "Skin of foot")
FACE = Code("73897004", "SCT", "Skin of face")
FINGER_NAIL = Code("770809003", "SCT", "Nail unit of finger")
TOE_NAIL = Code("770805009", "SCT", "Nail unit of toe")

# site key (bodysites.SITES) -> (CID 4029 code, exact)
SITE_CODES: dict[str, tuple[Code, bool]] = {
    "scalp": (Code("43067004", "SCT", "Skin of scalp"), True),
    "face": (FACE, True),
    "ear": (Code("1902009", "SCT", "Skin of ear"), True),
    "neck": (Code("43081002", "SCT", "Skin of neck"), True),
    "chest": (Code("244106003", "SCT", "Skin of anterior surface of thorax"), True),
    "abdomen": (Code("75093004", "SCT", "Skin of abdomen"), True),
    "back": (Code("66643007", "SCT", "Skin of back"), True),
    "flank": (SKIN, False),              # CID 4029 has no flank or whole-trunk concept
    "shoulder": (UPPER_LIMB, False),
    "upper-arm": (UPPER_LIMB, False),    # only anterior/posterior surfaces of upper arm exist
    "forearm": (UPPER_LIMB, False),      # only anterior/posterior surfaces of forearm exist
    "hand": (Code("33712006", "SCT", "Skin of hand"), False),  # dorsum: only "part of" concepts
    "palm": (Code("70887009", "SCT", "Skin of palm of hand"), True),
    "buttock": (Code("22180002", "SCT", "Skin of buttock"), True),
    "thigh": (LOWER_LIMB, False),
    "lower-leg": (LOWER_LIMB, False),
    "foot": (FOOT, False),               # dorsum of foot: only its lateral/medial parts exist
    "sole": (FOOT, False),               # sole: only forefoot and borders exist
    "genital": (Code("60944009", "SCT", "Skin of external genitalia"), True),
    "oral": (FACE, False),               # mouth and lips together: the face contains both
    "nail": (FINGER_NAIL, True),         # "toe" in the free text selects the toe nail unit
}

# CID 244
LATERALITY_CODES: dict[str, Code] = {
    "right": Code("24028007", "SCT", "Right"),
    "left": Code("7771000", "SCT", "Left"),
    "bilateral": Code("51440002", "SCT", "Bilateral"),
}

# Image Laterality (0020,0062): R, L, B (both), U (unpaired)
IMAGE_LATERALITY = {"right": "R", "left": "L", "bilateral": "B", "midline": "U", "": "U"}


def coded_site(site: str, free_text: str = "") -> CodedSite | None:
    """The CID 4029 code of a lesion's site (None when no site is recorded)."""
    if not site:
        return None
    if site not in bodysites.BY_KEY:
        raise KeyError(site)
    code, exact = SITE_CODES[site]
    if site == "nail" and "toe" in free_text.lower():
        code = TOE_NAIL
    return CodedSite(code, exact)


def laterality_code(laterality: str) -> Code | None:
    return LATERALITY_CODES.get(laterality)


def image_laterality(site: str, laterality: str) -> str:
    """R/L/B for a paired site with a side, U otherwise (unpaired or midline or not recorded)."""
    body = bodysites.BY_KEY.get(site)
    if body is None or not body.lateral:
        return "U"
    return IMAGE_LATERALITY.get(laterality, "U")
