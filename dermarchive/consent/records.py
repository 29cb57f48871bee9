"""Consent records: versioned per visit, recorded and withdrawn here, decided by :mod:`.policy`.

A change never edits a row: it inserts version + 1, so the history of what the patient agreed to,
when and how, stays readable. Withdrawal is a new version carrying ``withdrawn_at`` and the reason;
it can be followed by deleting the visit's photos that are not essential for care (for real:
catalogue rows and blobs, via :func:`dermarchive.archive.records.delete_images`).

Audit entries carry ids, version numbers, the method and the scopes; never names.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from PIL import Image, UnidentifiedImageError

from .. import log
from ..archive import consent_rows, records
from ..archive.archive import Archive
from ..archive.header import now_iso
from ..errors import InvalidInput, NotFound
from .scopes import CLINICAL, LABELS, METHODS, PURPOSES, SECONDARY, WRITTEN_METHODS

SIGNATURE_MAX_BYTES = 4 * 1024 * 1024
SIGNATURE_MAX_SIDE = 1600  # larger scans are scaled down; a signature needs no more


@dataclass(frozen=True)
class ConsentVersion:
    id: int
    visit_id: int
    version: int
    scopes: tuple[str, ...]
    method: str
    exemption_reason: str | None
    obtained_by: str
    obtained_at: str
    signature_blob_id: str | None
    signature_on_paper: bool
    form_image_id: int | None
    notes: str
    recorded_by: str
    recorded_at: str
    withdrawn_at: str | None
    withdrawn_reason: str | None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def evidence(self) -> str:
        """How the consent is evidenced, in words for the history list and ``consent show``."""
        if self.method == "written-signature":
            if self.signature_blob_id:
                return "signature drawn on the pad (stored)"
            return "signed on paper (no image stored)" if self.signature_on_paper else "signature missing"
        if self.method == "photographed-form":
            return f"consent form photo (image {self.form_image_id})" if self.form_image_id else \
                "consent form photo was deleted"
        if self.method == "exemption":
            return f"exemption: {self.exemption_reason}"
        return "verbal consent, documented"

    def as_json(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id, "version": self.version, "scopes": list(self.scopes),
            "method": self.method, "exemption_reason": self.exemption_reason,
            "obtained_by": self.obtained_by, "obtained_at": self.obtained_at,
            "signature_stored": self.signature_blob_id is not None,
            "signature_on_paper": self.signature_on_paper, "form_image_id": self.form_image_id,
            "evidence": self.evidence, "notes": self.notes, "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at, "withdrawn": self.withdrawn,
            "withdrawn_at": self.withdrawn_at, "withdrawn_reason": self.withdrawn_reason,
        }


def _version(row: Any) -> ConsentVersion:
    return ConsentVersion(
        row["id"], row["visit_id"], row["version"], tuple(json.loads(row["scopes"])), row["method"],
        row["exemption_reason"], row["obtained_by"], row["obtained_at"], row["signature_blob_id"],
        bool(row["signature_on_paper"]), row["form_image_id"], row["notes"], row["recorded_by_name"],
        row["recorded_at"], row["withdrawn_at"], row["withdrawn_reason"])


def history(archive: Archive, visit_id: int) -> list[ConsentVersion]:
    """Every version of the visit's consent, oldest first."""
    return [_version(r) for r in consent_rows.versions(archive, visit_id)]


def current(archive: Archive, visit_id: int) -> ConsentVersion | None:
    row = consent_rows.latest(archive, visit_id)
    return _version(row) if row else None


def patient_consents(archive: Archive, patient_id: int) -> list[dict[str, Any]]:
    """Per visit (oldest first): the visit and its consent history; for ``consent show``."""
    out = []
    for visit in records.visits(archive, patient_id):
        versions = history(archive, visit.id)
        out.append({"visit_id": visit.id, "date": visit.date, "images": visit.image_count,
                    "current": versions[-1].as_json() if versions else None,
                    "history": [v.as_json() for v in versions]})
    return out


def latest_visit(archive: Archive, patient_id: int) -> int:
    visits = records.visits(archive, patient_id)
    if not visits:
        raise InvalidInput("This patient has no visits yet. Consent belongs to a visit: import the "
                           "visit's photos first, then record its consent.")
    return visits[-1].id


def signature_png(archive: Archive, version: ConsentVersion) -> bytes | None:
    """The decrypted PNG of the signature drawn on the pad, if one is stored."""
    return archive.read_blob(version.signature_blob_id) if version.signature_blob_id else None


# -- validation -------------------------------------------------------------------------------
def normalise_signature(data: bytes) -> bytes:
    """A signature image (pad drawing or a scan) → a clean PNG without metadata.

    Refuses files that are not images, absurdly large, or blank (a blank pad is not a signature).
    """
    if not data:
        raise InvalidInput("The signature image is empty.")
    if len(data) > SIGNATURE_MAX_BYTES:
        raise InvalidInput("The signature image is larger than 4 MB; scan or photograph it smaller.")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP", "TIFF"]) as img:
            if img.width * img.height > 40_000_000:
                raise InvalidInput("The signature image has too many pixels.")
            img.load()
            ink = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("The signature file is not a readable PNG, JPEG, WebP or TIFF image.") from None
    # Ink = pixels that are opaque and darker than the paper.
    gray = ink.convert("L")
    alpha = ink.getchannel("A")
    dark = gray.point(lambda v: 255 if v < 160 else 0)
    marks = Image.composite(dark, Image.new("L", ink.size, 0), alpha.point(lambda v: 255 if v > 64 else 0))
    bbox = marks.getbbox()
    if bbox is None or (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) < 25:
        raise InvalidInput("The signature is blank. Ask the patient to sign, or choose another method.")
    ink.thumbnail((SIGNATURE_MAX_SIDE, SIGNATURE_MAX_SIDE))
    out = io.BytesIO()
    ink.save(out, "PNG", optimize=True)  # Pillow writes no text chunks unless asked (pnginfo)
    return out.getvalue()


def _check_when(obtained_at: str | None) -> str:
    if not obtained_at:
        return now_iso()
    text = obtained_at.strip()
    try:
        when = datetime.fromisoformat(text) if "T" in text or " " in text else \
            datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise InvalidInput(f"The consent date must be YYYY-MM-DD (got '{obtained_at}').") from None
    if when.date() > date.today():
        raise InvalidInput("The consent date is in the future.")
    return text


def _check_scopes(scopes: Iterable[str], method: str) -> list[str]:
    chosen = []
    for s in scopes:
        if s not in PURPOSES:
            raise InvalidInput(f"Unknown consent purpose '{s}'. Known: {', '.join(PURPOSES)}.")
        if s not in chosen:
            chosen.append(s)
    secondary = [s for s in chosen if s in SECONDARY]
    if method not in WRITTEN_METHODS and secondary:
        who = "An exemption" if method == "exemption" else "Verbal consent"
        raise InvalidInput(f"{who} covers clinical purposes only; for "
                           f"{', '.join(LABELS[s].lower() for s in secondary)} the patient's written consent "
                           "is needed (a signature or a photographed consent form).")
    if method == "exemption":
        return list(CLINICAL)
    if not chosen:
        raise InvalidInput("Choose at least one purpose the patient agrees to.")
    return [p for p in PURPOSES if p in chosen]  # canonical order


def check_choice(*, scopes: Iterable[str], method: str, obtained_by: str, exemption_reason: str | None = None,
                 signature: bytes | None = None,
                 signature_on_paper: bool = False) -> tuple[list[str], str, bytes | None]:
    """The rules every consent record meets, checked before anything is stored.

    Asked by :func:`record_consent` and by the import use case before a single photo is imported,
    so each rule has one message in one place. Returns the purposes in canonical order, the
    exemption reason, and the signature normalised to PNG (or None).
    """
    if method not in METHODS:
        raise InvalidInput(f"Unknown consent method '{method}'. Use one of: {', '.join(METHODS)}.")
    chosen = _check_scopes(scopes, method)
    reason = (exemption_reason or "").strip()
    if method == "exemption" and not reason:
        raise InvalidInput("An exemption needs its reason (e.g. suspected non-accidental injury "
                           "of a child).")
    if method != "exemption" and reason:
        raise InvalidInput("An exemption reason is recorded only with the 'exemption' method.")
    if not obtained_by.strip():
        raise InvalidInput("Say who obtained the consent.")
    return chosen, reason, _check_signature(method, signature, signature_on_paper)


def _check_signature(method: str, signature: bytes | None, on_paper: bool) -> bytes | None:
    if method != "written-signature" and (signature is not None or on_paper):
        raise InvalidInput("A signature is recorded only with the 'written-signature' method.")
    if method == "written-signature":
        if signature is not None and on_paper:
            raise InvalidInput("Record either the signature drawn on the pad or that it was signed on "
                               "paper, not both.")
        if signature is None and not on_paper:
            raise InvalidInput("Written consent needs the patient's signature: draw it on the pad, "
                               "or record that it was signed on paper.")
        return normalise_signature(signature) if signature is not None else None
    return None


def _check_form(archive: Archive, visit_id: int, method: str, form_image_id: int | None) -> None:
    if method != "photographed-form" and form_image_id is not None:
        raise InvalidInput("A consent form photo is recorded only with the 'photographed-form' method.")
    if method == "photographed-form":
        if form_image_id is None:
            raise InvalidInput("Choose the photo of the signed consent form (an image of this visit).")
        found = consent_rows.image_visits_and_kinds(archive, [form_image_id]).get(form_image_id)
        if found is None:
            raise NotFound(f"Image {form_image_id} is not in this archive.")
        form_visit, form_kind = found
        if form_visit != visit_id:
            raise InvalidInput(f"Image {form_image_id} belongs to another visit; the consent form photo "
                               f"must be from the visit it covers.")
        if form_kind != "consent-form":
            raise InvalidInput(f"Image {form_image_id} is not marked as a consent form; mark it as "
                               f"'consent-form' first.")


# -- writing ----------------------------------------------------------------------------------
def record_consent(archive: Archive, visit_id: int, *, scopes: Iterable[str], method: str,
                   obtained_by: str, obtained_at: str | None = None,
                   exemption_reason: str | None = None, signature: bytes | None = None,
                   signature_on_paper: bool = False, form_image_id: int | None = None,
                   notes: str = "", read_from_sheet: bool = False) -> ConsentVersion:
    """Record a new consent version for ``visit_id`` (version + 1; earlier versions are kept).

    ``read_from_sheet``: the scopes were read by the app from a photographed consent sheet and
    confirmed by the user recording them (the audit entry says so).

    ``signature`` is an image of the signature (the pad's PNG, or a scan), stored encrypted.
    """
    visit = records.get_visit(archive, visit_id)
    chosen, reason, png = check_choice(scopes=scopes, method=method, obtained_by=obtained_by,
                                       exemption_reason=exemption_reason, signature=signature,
                                       signature_on_paper=signature_on_paper)
    when = _check_when(obtained_at)
    _check_form(archive, visit_id, method, form_image_id)
    with archive.transaction() as tx:
        blob_id = archive.store_blob(tx, png) if png is not None else None
        cid, version = consent_rows.append_version(archive, tx, visit_id, {
            "scopes": json.dumps(chosen), "method": method, "exemption_reason": reason or None,
            "obtained_by": obtained_by.strip(), "obtained_at": when, "signature_blob_id": blob_id,
            "signature_on_paper": int(signature_on_paper), "form_image_id": form_image_id,
            "notes": notes.strip()})
        archive.record(tx, "consent.record", {"patient": visit.patient_id, "visit": visit_id, "consent": cid},
                       {"version": version, "method": method, "scopes": chosen,
                        "signature": "stored" if blob_id else ("paper" if signature_on_paper else "none"),
                        **({"read_from": "consent-sheet"} if read_from_sheet else {})})
    log.consent.info("consent version %d recorded for visit %d", version, visit_id)
    found = current(archive, visit_id)
    assert found is not None
    return found


def affected_images(archive: Archive, visit_id: int) -> list[records.ImageRecord]:
    """The visit's photos a withdrawal concerns (consent-form photos are the record of consent
    itself and are kept)."""
    return [i for i in records.images(archive, visit_id=visit_id) if i.kind != "consent-form"]


def record_withdrawal(archive: Archive, visit_id: int, *, reason: str, withdrawn_at: str | None = None,
                      essential: Mapping[int, bool] | None = None,
                      delete_non_essential: bool = False) -> tuple[ConsentVersion, list[int], list[int]]:
    """Record the withdrawal of the visit's consent (a new version).

    ``essential`` updates the photos' "essential for care" marks first (the withdrawal dialog's
    checkboxes). Returns (the new version, the photos to delete — those not essential for care,
    when ``delete_non_essential`` — and all the photos concerned). Deleting them, here and in
    the PACS, is the use case's: :func:`dermarchive.workflows.consent.withdraw_consent`.
    """
    visit = records.get_visit(archive, visit_id)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Withdrawing consent needs the reason the patient gave (or 'not given').")
    when = _check_when(withdrawn_at)
    latest = current(archive, visit_id)
    if latest is None:
        raise InvalidInput("No consent is recorded for this visit, so there is nothing to withdraw; "
                           "its photos are already limited to the clinical record.")
    if latest.withdrawn:
        raise InvalidInput(f"Consent for this visit was already withdrawn on {(latest.withdrawn_at or '')[:10]}.")
    photos = {i.id: i for i in affected_images(archive, visit_id)}
    unknown = sorted(set(essential or {}) - set(photos))
    if unknown:
        raise InvalidInput(f"Image(s) {', '.join(map(str, unknown))} are not photos of this visit.")
    with archive.transaction() as tx:
        for image_id, flag in (essential or {}).items():
            if bool(flag) != photos[image_id].essential_for_care:
                consent_rows.set_essential_for_care(tx, image_id, bool(flag))
                archive.record(tx, "image.update", {"image": image_id}, {"fields": ["essential_for_care"]})
        cid, version = consent_rows.append_version(archive, tx, visit_id, {
            "scopes": json.dumps(list(latest.scopes)), "method": latest.method,
            "exemption_reason": latest.exemption_reason, "obtained_by": latest.obtained_by,
            "obtained_at": latest.obtained_at, "signature_blob_id": latest.signature_blob_id,
            "signature_on_paper": int(latest.signature_on_paper), "form_image_id": latest.form_image_id,
            "notes": latest.notes, "withdrawn_at": when, "withdrawn_reason": reason})
        archive.record(tx, "consent.withdraw", {"patient": visit.patient_id, "visit": visit_id, "consent": cid},
                       {"version": version, "delete_non_essential": delete_non_essential})
    is_essential = {i: (essential or {}).get(i, p.essential_for_care) for i, p in photos.items()}
    doomed = sorted(i for i, keep in is_essential.items() if not keep) if delete_non_essential else []
    version_now = current(archive, visit_id)
    assert version_now is not None
    return version_now, doomed, sorted(photos)
