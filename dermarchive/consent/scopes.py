"""The purposes a photo may be used for, and how consent was obtained (DESIGN §4)."""

from __future__ import annotations

CLINICAL = ("clinical.documentation", "clinical.referral", "clinical.second_opinion", "clinical.triage")
SECONDARY = ("education", "publication", "research", "promotion")
PURPOSES = CLINICAL + SECONDARY
PATIENT_ACCESS = "patient-access"  # the patient's own copy: always allowed, not a consent scope

DESCRIPTIONS = {
    "clinical.documentation": "Keep in the clinical record for the patient's own care.",
    "clinical.referral": "Send to another clinician or service the patient is referred to.",
    "clinical.second_opinion": "Show to a colleague for a second opinion.",
    "clinical.triage": "Use to triage the urgency of a referral or appointment.",
    "education": "Teach health professionals and students (de-identified).",
    "publication": "Publish in a journal, book or conference talk (de-identified).",
    "research": "Use in approved research (de-identified).",
    "promotion": "Use in the practice's promotional material (de-identified).",
}

LABELS = {
    "clinical.documentation": "Clinical record",
    "clinical.referral": "Referral",
    "clinical.second_opinion": "Second opinion",
    "clinical.triage": "Triage",
    "education": "Education",
    "publication": "Publication",
    "research": "Research",
    "promotion": "Promotion",
}

METHODS = ("written-signature", "photographed-form", "verbal", "exemption")
WRITTEN_METHODS = ("written-signature", "photographed-form")
METHOD_LABELS = {
    "written-signature": "Written signature",
    "photographed-form": "Photographed consent form",
    "verbal": "Documented verbal consent",
    "exemption": "Exemption (no consent; reason required)",
}


def parse_purposes(text: str) -> list[str]:
    """'clinical.referral, education' → validated list, raising with the unknown name."""
    from ..errors import InvalidInput

    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "clinical":
            out += [p for p in CLINICAL if p not in out]
            continue
        if part not in PURPOSES:
            raise InvalidInput(f"Unknown consent purpose '{part}'. Known: {', '.join(PURPOSES)}.")
        if part not in out:
            out.append(part)
    return out
