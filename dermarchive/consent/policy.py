"""The consent policy: the single place that decides what may be done with each image.

Every export path (referral PDF, de-identified export, DICOM/PACS, patient access) calls
:func:`check` (or :func:`require`) before it writes a byte. Rules (DESIGN §4):

* The latest consent version of the image's visit decides.
* No consent record at all: only ``clinical.documentation``.
* Withdrawn consent: only ``clinical.documentation``.
* Exemption (reason recorded): the clinical purposes; nothing else.
* Without written consent (signature or photographed form), only clinical purposes, even if the
  record lists more. "Written" needs its evidence: a stored signature or a signature recorded as
  being on paper, or a consent-form photo that is still in the archive (deleting the form photo
  takes the non-clinical scopes with it).
* A photo of a consent form carries the patient's name and signature: it is never used for
  education, publication, research or promotion, whatever the consent says.
* ``clinical.documentation`` (keeping the photo in the record) is always allowed.
* Patient access (the patient's own copy) is always allowed.
* There is no override.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from ..archive import consent_rows
from ..errors import DermArchiveError
from .scopes import CLINICAL, PATIENT_ACCESS, PURPOSES, WRITTEN_METHODS

if TYPE_CHECKING:
    from ..archive import Archive


@dataclass(frozen=True)
class CurrentConsent:
    """What the policy needs to know of a visit's latest consent version."""

    visit_id: int
    version: int
    scopes: frozenset[str]
    method: str
    withdrawn: bool
    # Written consent with its evidence (signature image, signature on paper, or form photo).
    written: bool = True


@dataclass(frozen=True)
class Refusal:
    image_id: int
    purpose: str
    reason: str

    def __str__(self) -> str:
        return f"image {self.image_id} lacks '{self.purpose}': {self.reason}"


class ConsentRefused(DermArchiveError):
    """An export was refused; names every image and the scope it lacks. Nothing was written."""

    exit_code = 3

    def __init__(self, purpose: str, refusals: list[Refusal]) -> None:
        lines = "\n".join(f"  - {r}" for r in refusals)
        super().__init__(
            f"Export refused: {len(refusals)} image(s) may not be used for '{purpose}'. "
            f"Nothing was written.\n{lines}"
        )
        self.purpose = purpose
        self.refusals = refusals


def allowed_purposes(consent: CurrentConsent | None) -> frozenset[str]:
    if consent is None or consent.withdrawn:
        return frozenset({"clinical.documentation"})
    if consent.method == "exemption":
        return frozenset(CLINICAL)
    granted = consent.scopes & frozenset(PURPOSES)
    if consent.method not in WRITTEN_METHODS or not consent.written:
        granted &= frozenset(CLINICAL)
    # Keeping the photo in the patient's own clinical record is always allowed.
    return granted | {"clinical.documentation"}


def _why_not(consent: CurrentConsent | None, purpose: str) -> str:
    if consent is None:
        return "no consent is recorded for its visit"
    if consent.withdrawn:
        return f"consent for its visit was withdrawn (version {consent.version})"
    if consent.method == "exemption":
        return "its visit is covered by an exemption, which allows clinical purposes only"
    if purpose in consent.scopes and consent.method not in WRITTEN_METHODS:
        return f"consent was {consent.method}, and only written consent allows non-clinical use"
    if purpose in consent.scopes and not consent.written:
        return "the written consent's signature or form photo is no longer in the archive"
    return f"the consent for its visit (version {consent.version}) does not grant it"


def current_consents(archive: Archive, visit_ids: list[int]) -> dict[int, CurrentConsent]:
    rows = consent_rows.latest_of_visits(archive, visit_ids)
    return {r["visit_id"]: CurrentConsent(r["visit_id"], r["version"], frozenset(json.loads(r["scopes"])),
                                          r["method"], r["withdrawn_at"] is not None, _has_evidence(r))
            for r in rows}


def _has_evidence(row: Any) -> bool:
    if row["method"] == "written-signature":
        return bool(row["signature_blob_id"] or row["signature_on_paper"])
    if row["method"] == "photographed-form":
        return row["form_image_id"] is not None
    return False


def _images_of(archive: Archive, image_ids: list[int]) -> dict[int, tuple[int, str]]:
    """image id → (visit id, kind) for the images that exist."""
    return consent_rows.image_visits_and_kinds(archive, image_ids)


def _allowed_for_image(consent: CurrentConsent | None, kind: str) -> frozenset[str]:
    purposes = allowed_purposes(consent)
    return purposes & frozenset(CLINICAL) if kind == "consent-form" else purposes


def allowed(archive: Archive, image_id: int, purpose: str) -> bool:
    return not check(archive, [image_id], purpose)


def check(archive: Archive, image_ids: list[int], purpose: str) -> list[Refusal]:
    """Every image of ``image_ids`` that may not be used for ``purpose``, with the reason."""
    if purpose == PATIENT_ACCESS:
        return []
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    found = _images_of(archive, image_ids)
    consents = current_consents(archive, sorted({v for v, _k in found.values()}))
    refusals = []
    for image_id in image_ids:
        if image_id not in found:
            refusals.append(Refusal(image_id, purpose, "it is not in this archive"))
            continue
        visit_id, kind = found[image_id]
        consent = consents.get(visit_id)
        if purpose not in _allowed_for_image(consent, kind):
            reason = (_why_not(consent, purpose) if purpose not in allowed_purposes(consent)
                      else "it is a photo of a consent form, which identifies the patient")
            refusals.append(Refusal(image_id, purpose, reason))
    return refusals


def require(archive: Archive, image_ids: list[int], purpose: str) -> None:
    """Raise :class:`ConsentRefused` (and audit the refusal) unless every image is allowed."""
    refusals = check(archive, image_ids, purpose)
    if refusals:
        archive.log_event("export.refused", {"images": [r.image_id for r in refusals]},
                          {"purpose": purpose, "count": len(refusals)})
        raise ConsentRefused(purpose, refusals)


def image_scopes(archive: Archive, image_ids: list[int]) -> dict[int, frozenset[str]]:
    """Allowed purposes per image (for badges in the GUI and the image panel)."""
    found = _images_of(archive, image_ids)
    consents = current_consents(archive, sorted({v for v, _k in found.values()}))
    return {i: _allowed_for_image(consents.get(v), k) for i, (v, k) in found.items()}
