"""What the catalogue keeps for DICOM (schema migration 50): UIDs and dermoscopy attributes.

* **UIDs.** A visit is a DICOM study; its images form one series per modality (XC clinical
  photos, DMS dermoscopy); each image is one SOP instance. The UIDs are made once (``2.25.`` +
  a random UUID, so no organisation root is needed) and kept, so exporting or sending again
  produces the same instances: a PACS sees a re-send as the same object, not a duplicate.
* **Dermoscopy attributes** (Dermoscopic Image module, Supplement 221): light source
  polarisation, contact or not, immersion medium, optical magnification. A NULL column means
  "the archive's default", which the practice sets once for its dermatoscope
  (:func:`set_dermoscopy_defaults`); :func:`set_dermoscopy_attributes` records values per image
  (e.g. a non-polarised contact image with oil immersion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

import uuid


from ..errors import InvalidInput

if TYPE_CHECKING:
    from .archive import Archive
    from .catalogue import Transaction

# Defined terms of the Dermoscopic Image module (checked by dciodvfy in the tests)
POLARIZATIONS = ("POLARIZED", "NON_POLARIZED")
CONTACT_METHODS = ("CONTACT", "NON_CONTACT")
IMMERSION_MEDIA = ("", "WATER", "ULTRASOUND_GEL", "ALCOHOL", "MINERAL_OIL", "PLASTIC_CAP")

# Built-in defaults: a common hand-held polarised contact dermatoscope at 10x, no fluid.
BUILTIN_DEFAULTS: dict[str, Any] = {"polarization": "POLARIZED", "contact": "CONTACT",
                                    "immersion": "", "magnification": 10.0}
DEFAULTS_SETTING = "dicom.dermoscopy_defaults"
_COLUMNS = {"polarization": "dermoscopy_polarization", "contact": "dermoscopy_contact",
            "immersion": "dermoscopy_immersion", "magnification": "dermoscopy_magnification"}


@dataclass(frozen=True)
class Dermoscopy:
    polarization: str
    contact: str
    immersion: str
    magnification: float | None


def _validated(attrs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(attrs) - set(_COLUMNS)
    if unknown:
        raise InvalidInput(f"Unknown dermoscopy attribute(s): {', '.join(sorted(unknown))}; "
                           f"use {', '.join(_COLUMNS)}.")
    out = dict(attrs)
    checks = {"polarization": POLARIZATIONS, "contact": CONTACT_METHODS, "immersion": IMMERSION_MEDIA}
    for key, allowed in checks.items():
        if key in out and out[key] is not None:
            out[key] = str(out[key]).strip().upper().replace("-", "_").replace(" ", "_")
            if out[key] == "NONE":
                out[key] = ""
            if out[key] not in allowed:
                shown = ", ".join(a or "none" for a in allowed)
                raise InvalidInput(f"Dermoscopy {key} must be one of: {shown} (got '{attrs[key]}').")
    if out.get("magnification") is not None:
        try:
            out["magnification"] = float(out["magnification"])
        except (TypeError, ValueError):
            raise InvalidInput("Dermoscopy magnification must be a number, e.g. 10.") from None
        if not 1 <= out["magnification"] <= 1000:
            raise InvalidInput("Dermoscopy magnification must be between 1 and 1000.")
    if out.get("contact") == "NON_CONTACT" and out.get("immersion"):
        raise InvalidInput("An immersion medium only applies to contact dermoscopy.")
    return out


def dermoscopy_defaults(archive: Archive) -> Dermoscopy:
    values = {**BUILTIN_DEFAULTS, **(archive.setting(DEFAULTS_SETTING) or {})}
    return Dermoscopy(values["polarization"], values["contact"], values["immersion"], values["magnification"])


def set_dermoscopy_defaults(archive: Archive, **attrs: Any) -> Dermoscopy:
    """Set the practice's dermatoscope defaults (used where an image has no values of its own)."""
    attrs = _validated(attrs)
    current = {**BUILTIN_DEFAULTS, **(archive.setting(DEFAULTS_SETTING) or {}), **attrs}
    _validated(current)
    with archive.transaction() as tx:
        archive.set_setting(tx, DEFAULTS_SETTING, current)
    return dermoscopy_defaults(archive)


def set_dermoscopy_attributes(archive: Archive, image_ids: list[int], **attrs: Any) -> int:
    """Record dermoscopy attributes for dermoscopic images; ``None`` resets one to the default.

    Returns the number of images changed. Raises for images that are not dermoscopic.
    """
    attrs = _validated(attrs)
    if not attrs or not image_ids:
        return 0
    marks = ",".join("?" * len(image_ids))
    rows = archive.catalogue.query(f"SELECT id, kind FROM image WHERE id IN ({marks})", list(image_ids))
    found = {r["id"]: r["kind"] for r in rows}
    missing = [i for i in image_ids if i not in found]
    if missing:
        raise InvalidInput(f"Image(s) {', '.join(map(str, missing))} are not in this archive.")
    wrong = [i for i in image_ids if found[i] != "dermoscopic"]
    if wrong:
        raise InvalidInput(f"Image(s) {', '.join(map(str, wrong))} are not dermoscopic; "
                           "dermoscopy attributes apply to dermoscopic images only.")
    sets = ", ".join(f"{_COLUMNS[k]} = :{k}" for k in attrs)
    with archive.transaction() as tx:
        for image_id in image_ids:
            tx.execute(f"UPDATE image SET {sets} WHERE id = :id", {**attrs, "id": image_id})
        archive.record(tx, "image.update", {"images": list(image_ids)},
                       {"fields": sorted(_COLUMNS[k] for k in attrs)})
    return len(image_ids)


def record_dermoscopy_defaults(archive: Archive, tx: Transaction, image_ids: list[int]) -> None:
    """At import: write the current defaults into dermoscopic rows that have no values yet, so a
    later change of dermatoscope does not rewrite how older photos were taken. Runs in the
    importer's transaction ``tx``."""
    d = dermoscopy_defaults(archive)
    for image_id in image_ids:
        tx.execute(
            "UPDATE image SET dermoscopy_polarization = coalesce(dermoscopy_polarization, ?), "
            "dermoscopy_contact = coalesce(dermoscopy_contact, ?), "
            "dermoscopy_immersion = coalesce(dermoscopy_immersion, ?), "
            "dermoscopy_magnification = coalesce(dermoscopy_magnification, ?) "
            "WHERE id = ? AND kind = 'dermoscopic'",
            (d.polarization, d.contact, d.immersion, d.magnification, image_id))


def dermoscopy_of(archive: Archive, image_id: int) -> Dermoscopy:
    row = archive.catalogue.query_one(
        "SELECT dermoscopy_polarization, dermoscopy_contact, dermoscopy_immersion, "
        "dermoscopy_magnification FROM image WHERE id = ?", (image_id,))
    default = dermoscopy_defaults(archive)
    if row is None:
        return default
    contact = row[1] if row[1] is not None else default.contact
    immersion = row[2] if row[2] is not None else default.immersion
    return Dermoscopy(row[0] if row[0] is not None else default.polarization, contact,
                      immersion if contact == "CONTACT" else "",
                      row[3] if row[3] is not None else default.magnification)


DEVICE_SETTING = "dicom.dermatoscope"


@dataclass(frozen=True)
class Dermatoscope:
    """The practice's dermatoscope, for the Enhanced General Equipment module of DMS images."""

    manufacturer: str
    model: str
    serial: str


def dermatoscope(archive: Archive) -> Dermatoscope:
    value = archive.setting(DEVICE_SETTING) or {}
    return Dermatoscope(value.get("manufacturer", ""), value.get("model", ""), value.get("serial", ""))


def set_dermatoscope(archive: Archive, *, manufacturer: str, model: str, serial: str) -> Dermatoscope:
    fields = {"manufacturer": manufacturer.strip(), "model": model.strip(), "serial": serial.strip()}
    for key, text in fields.items():
        if len(text) > 64 or any(ord(c) < 32 or c == "\\" for c in text):
            raise InvalidInput(f"The dermatoscope {key} must be at most 64 printable characters.")
    with archive.transaction() as tx:
        archive.set_setting(tx, DEVICE_SETTING, fields)
    return dermatoscope(archive)


# -- UIDs --------------------------------------------------------------------------------------
def _new_uid() -> str:
    return f"2.25.{uuid.uuid4().int}"  # PS3.5 B.2: a UUID as an integer under 2.25 (no org root needed)


def study_uid(tx: Transaction, visit_id: int) -> str:
    uid = tx.scalar("SELECT study_uid FROM dicom_study WHERE visit_id = ?", (visit_id,))
    if uid is None:
        uid = _new_uid()
        tx.execute("INSERT INTO dicom_study (visit_id, study_uid) VALUES (?, ?)", (visit_id, uid))
    return str(uid)


def series_uid(tx: Transaction, visit_id: int, modality: str) -> str:
    uid = tx.scalar("SELECT series_uid FROM dicom_series WHERE visit_id = ? AND modality = ?",
                    (visit_id, modality))
    if uid is None:
        uid = _new_uid()
        tx.execute("INSERT INTO dicom_series (visit_id, modality, series_uid) VALUES (?, ?, ?)",
                   (visit_id, modality, uid))
    return str(uid)


def instance_uid(tx: Transaction, image_id: int) -> str:
    uid = tx.scalar("SELECT sop_instance_uid FROM dicom_instance WHERE image_id = ?", (image_id,))
    if uid is None:
        uid = _new_uid()
        tx.execute("INSERT INTO dicom_instance (image_id, sop_instance_uid) VALUES (?, ?)", (image_id, uid))
    return str(uid)


def derived_uid(uid: str, purpose: str) -> str:
    """A UID that always follows from ``uid`` (e.g. a series' frame of reference): 2.25.<uuid5>."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, f'{uid}/{purpose}').int}"


def known_instance_uids(archive: Archive, image_ids: list[int]) -> dict[int, str]:
    """SOP Instance UIDs already given to these images (images never exported have none)."""
    if not image_ids:
        return {}
    marks = ",".join("?" * len(image_ids))
    rows = archive.catalogue.query(
        f"SELECT image_id, sop_instance_uid FROM dicom_instance WHERE image_id IN ({marks})", list(image_ids))
    return {r[0]: r[1] for r in rows}


# -- what was sent to the PACS ------------------------------------------------------------------
def study_uids_of_visits(archive: Archive, visit_ids: set[int]) -> set[str]:
    """The DICOM study UIDs already made for these visits."""
    if not visit_ids:
        return set()
    marks = ",".join("?" * len(visit_ids))
    rows = archive.catalogue.query(f"SELECT study_uid FROM dicom_study WHERE visit_id IN ({marks})",
                                   sorted(visit_ids))
    return {str(r[0]) for r in rows}


def sent_images(archive: Archive, image_ids: list[int]) -> dict[int, str]:
    """image id → when it was sent, for those of ``image_ids`` a PACS has (as far as we know)."""
    if not image_ids:
        return {}
    marks = ",".join("?" * len(image_ids))
    rows = archive.catalogue.query(
        f"SELECT image_id, sent_at FROM dicom_instance WHERE sent_at IS NOT NULL AND image_id IN ({marks})",
        list(image_ids))
    return {int(r[0]): str(r[1]) for r in rows}


def mark_sent(tx: Transaction, image_id: int, sent_at: str, sent_to: str) -> None:
    tx.execute("UPDATE dicom_instance SET sent_at = ?, sent_to = ? WHERE image_id = ?", (sent_at, sent_to, image_id))


def mark_not_sent(tx: Transaction, image_ids: list[int]) -> None:
    """The PACS no longer holds these (deleted there, or it dropped them after saying stored)."""
    if image_ids:
        marks = ",".join("?" * len(image_ids))
        tx.execute(f"UPDATE dicom_instance SET sent_at = NULL, sent_to = NULL WHERE image_id IN ({marks})",
                   list(image_ids))
