"""Standard body sites for lesions.

Each site has a stable key (stored in the catalogue), a label for people, and its ISIC "general
anatomic site" group (the categories dermatology image sets use). Free text and laterality are
stored beside the key. SNOMED CT codes for DICOM (CID 4029) are added by the DICOM export.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BodySite:
    key: str
    label: str
    isic: str
    lateral: bool  # whether left/right applies


SITES: tuple[BodySite, ...] = (
    BodySite("scalp", "Scalp", "head/neck", False),
    BodySite("face", "Face", "head/neck", True),
    BodySite("ear", "Ear", "head/neck", True),
    BodySite("neck", "Neck", "head/neck", True),
    BodySite("chest", "Chest", "anterior torso", True),
    BodySite("abdomen", "Abdomen", "anterior torso", True),
    BodySite("back", "Back", "posterior torso", True),
    BodySite("flank", "Flank", "lateral torso", True),
    BodySite("shoulder", "Shoulder", "upper extremity", True),
    BodySite("upper-arm", "Upper arm", "upper extremity", True),
    BodySite("forearm", "Forearm", "upper extremity", True),
    BodySite("hand", "Hand (back)", "upper extremity", True),
    BodySite("palm", "Palm", "palms/soles", True),
    BodySite("buttock", "Buttock", "posterior torso", True),
    BodySite("thigh", "Thigh", "lower extremity", True),
    BodySite("lower-leg", "Lower leg", "lower extremity", True),
    BodySite("foot", "Foot (top)", "lower extremity", True),
    BodySite("sole", "Sole", "palms/soles", True),
    BodySite("genital", "Genital area", "oral/genital", False),
    BodySite("oral", "Mouth / lips", "oral/genital", False),
    BodySite("nail", "Nail", "upper extremity", True),
)

BY_KEY = {s.key: s for s in SITES}
LATERALITIES = ("", "left", "right", "bilateral", "midline")


def label(key: str, free_text: str = "", laterality: str = "") -> str:
    """'Left forearm (dorsal, 3 cm below elbow)' — for captions and lists."""
    site = BY_KEY.get(key)
    base = site.label if site else (key or "Site not recorded")
    if laterality in ("left", "right"):
        base = f"{laterality.capitalize()} {base[0].lower()}{base[1:]}"
    elif laterality in ("bilateral", "midline"):
        base = f"{base} ({laterality})"
    return f"{base} ({free_text})" if free_text else base
