"""The referral letter: a consent-checked PDF with the lesion photos (issue 7).

    build_referral(archive, patient_id, to=..., question=..., out=Path("referral.pdf"))

Three steps, each usable on its own:

1. :func:`draft_letter` gathers what the letter says (letterhead, patient, lesions, photos) from
   the archive, after the consent policy allowed every photo for ``clinical.referral``. Photos
   are decoded in memory, turned upright (EXIF orientation), converted to sRGB, downsampled to
   about 200 dpi at the size they are printed, and re-encoded as baseline JPEG with no metadata.
2. :func:`render_letter` (in :mod:`.referral_pdf`, re-exported here) is the pure layout
   (reportlab Platypus): a :class:`ReferralLetter` in, PDF bytes out. Nothing touches the archive
   or the disk, so the dialog previews exactly what is saved (:func:`render_page_png` draws page 1
   in memory with PDFium).
3. :func:`build_referral` adds the rules: refuse before anything is written, optional AES-256
   password, atomic write (temp + rename in the target folder), one ``export`` audit entry
   (ids, purpose, recipient; never names, NHIs or the file name the user chose).

PDF document properties are neutral (no patient identifiers). reportlab's file /ID is an MD5 of a
fixed string, the time stamp and those neutral properties, so it carries nothing about the patient.

Password protection uses pypdf (AES-256, PDF 2.0 security handler revision 6), run in memory
after reportlab: reportlab's own AES-256 is the deprecated revision 5 (weaker password check)
and needs the unmaintained pure-Python ``pyaes``.

The practice letterhead lives in the archive setting ``practice.letterhead`` (see
:data:`LETTERHEAD_KEY`): ``{"name": str, "address": str (lines), "phone": str, "email": str}``.
How each user signs referrals is remembered in ``referral.referrer.<user id>`` (a string).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .. import log
from ..archive import records
from ..archive.archive import Archive
from ..archive.fsutil import atomic_write_bytes, describe_os_error
from ..consent import policy
from ..errors import Cancelled, InvalidInput, StorageError
from .referral_pdf import (MIN_PASSWORD, URGENCIES, LesionSection, Letterhead, MapPin, Photo, PhotoUnreadable,
                           ReferralLetter, ReferralPreview, encrypt_pdf, layout_story, print_photo, render_letter,
                           render_page_png)

PURPOSE = "clinical.referral"
LETTERHEAD_KEY = "practice.letterhead"
DEFAULT_KINDS = ("clinical", "dermoscopic")
KIND_LABELS = {"clinical": "Clinical", "dermoscopic": "Dermoscopic", "consent-form": "Consent form",
               "other": "Other"}
PHOTO_WORKERS = min(4, os.cpu_count() or 1)

Progress = Callable[[int, int, str], None]
CancelCheck = Callable[[], bool]

# -- letterhead --------------------------------------------------------------------------------
def letterhead(archive: Archive) -> Letterhead:
    value = archive.setting(LETTERHEAD_KEY, {}) or {}
    return Letterhead(**{k: str(value.get(k, "")) for k in ("name", "address", "phone", "email")})


def set_letterhead(archive: Archive, *, name: str | None = None, address: str | None = None,
                   phone: str | None = None, email: str | None = None) -> Letterhead:
    """Change the given parts of the practice letterhead (``None`` keeps a part as it is)."""
    current = letterhead(archive).as_json()
    for key, value in (("name", name), ("address", address), ("phone", phone), ("email", email)):
        if value is not None:
            current[key] = "\n".join(line.strip() for line in value.strip().splitlines() if line.strip())
    if len(current["name"]) > 120 or any(len(v) > 400 for v in current.values()):
        raise InvalidInput("The practice letterhead is too long: keep the name under 120 characters "
                           "and each other part under 400.")
    before = letterhead(archive).as_json()
    changed = sorted(k for k in current if current[k] != before[k])
    if changed:  # what every referral letter from now on will carry: audited (part names only)
        with archive.transaction() as tx:
            archive.set_setting(tx, LETTERHEAD_KEY, current)
            archive.record(tx, "settings.letterhead", {"user": archive.user.id}, {"changed": changed})
    return Letterhead(**current)


def _referrer_key(archive: Archive) -> str:
    return f"referral.referrer.{archive.user.id}"


def default_referrer(archive: Archive) -> str:
    """Who signs: the user's profile ("Dr Jane Smith (registration 12345)"), else how they signed
    their last referral, else their user name."""
    from ..archive.profiles import profile

    return profile(archive).signature or str(archive.setting(_referrer_key(archive), "") or archive.user.name)


def file_name(archive: Archive, patient_id: int, image_ids: list[int], on: date | None = None) -> str:
    """'Referral ZZZ0016 2026-12-03 L1.pdf': the NHI, the day and the lesion(s) of the photos."""
    nhi = records.get_patient(archive, patient_id).nhi
    labels = {l.id: l.label for l in records.lesions(archive, patient_id)}
    lesion_ids = sorted({i.lesion_id for i in records.images(archive, image_ids=image_ids) if i.lesion_id})
    names = [labels[i] for i in lesion_ids if i in labels][:3]
    safe = "-".join("".join(c if c.isalnum() or c in "-_" else "_" for c in n) for n in names)
    return f"Referral {nhi} {(on or date.today()).isoformat()}" + (f" {safe}" if safe else "") + ".pdf"


def _when(img: records.ImageRecord) -> str:
    taken = records.parse_iso(img.taken_at)
    if taken is not None:
        return f"{taken.day} {taken:%b %Y, %H:%M}"
    visit = date.fromisoformat(img.visit_date[:10])
    return f"{visit.day} {visit:%b %Y} (visit date)"


def _caption(img: records.ImageRecord, site: str) -> str:
    return " · ".join(p for p in (_when(img), KIND_LABELS.get(img.kind, img.kind), site) if p)


# -- gathering ---------------------------------------------------------------------------------
def default_image_ids(archive: Archive, patient_id: int) -> list[int]:
    """The patient's clinical and dermoscopic photos whose consent allows referral."""
    candidates = [i.id for i in records.images(archive, patient_id=patient_id, kinds=DEFAULT_KINDS)]
    refused = {r.image_id for r in policy.check(archive, candidates, PURPOSE)}
    return [i for i in candidates if i not in refused]


def _select_images(archive: Archive, patient_id: int, image_ids: list[int] | None) -> list[records.ImageRecord]:
    if image_ids is None:
        ids = default_image_ids(archive, patient_id)
        if not ids:
            candidates = [i.id for i in records.images(archive, patient_id=patient_id, kinds=DEFAULT_KINDS)]
            if candidates:  # photos there are, none consented: a consent refusal like any other (exit 3)
                raise policy.ConsentRefused(PURPOSE, policy.check(archive, candidates, PURPOSE))
            raise InvalidInput("This patient has no clinical or dermoscopic photos to send with a referral.")
        return records.images(archive, image_ids=ids)
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    found = {i.id: i for i in records.images(archive, image_ids=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"Image(s) {', '.join(map(str, missing))} are not in this archive.")
    others = [i for i in ids if found[i].patient_id != patient_id]
    if others:
        raise InvalidInput(f"Image(s) {', '.join(map(str, others))} belong to another patient; "
                           "a referral carries one patient's photos only.")
    return sorted(found.values(), key=lambda i: i.sort_key)


def _check_text(to: str, question: str, urgency: str, history: str, referrer: str) -> None:
    if not to.strip():
        raise InvalidInput("Say who the referral is to (the recipient and their practice or service).")
    if not question.strip():
        raise InvalidInput("A referral needs a clinical question: what you are asking the recipient.")
    if urgency not in URGENCIES:
        raise InvalidInput(f"Urgency must be one of {', '.join(URGENCIES)} (got '{urgency}').")
    for name, text, limit in (("recipient", to, 600), ("clinical question", question, 4000),
                              ("history and findings", history, 12000), ("referrer", referrer, 300)):
        if len(text) > limit:
            raise InvalidInput(f"The {name} is too long ({len(text)} characters; at most {limit}).")


def prepare_photos(archive: Archive, imgs: list[records.ImageRecord], *,
                   photo_cache: dict[int, Photo] | None = None, progress: Progress | None = None,
                   cancelled: CancelCheck | None = None) -> dict[int, Photo]:
    """Print-ready photos by image id: decrypted and prepared in memory, a few at a time.

    Decryption, decoding and resizing release the GIL, so a small thread pool uses the machine's
    cores. Progress is reported as photos finish; a cancel stops photos not yet started.
    """
    total = len(imgs)
    ready = {i.id: photo_cache[i.id] for i in imgs if photo_cache is not None and i.id in photo_cache}
    todo = [i for i in imgs if i.id not in ready]
    if progress:
        progress(len(ready), total, f"Preparing {total} photo(s)")

    def one(img: records.ImageRecord) -> Photo | None:
        if cancelled and cancelled():
            return None
        try:
            jpeg, pixels, size_pt = print_photo(records.image_bytes(archive, img), orientation=img.orientation)
        except PhotoUnreadable as exc:
            raise PhotoUnreadable(f"Image {img.id} cannot be printed: {exc}. Nothing was written.") from None
        return Photo(img.id, jpeg, pixels, size_pt, "")

    if todo:
        workers = max(1, min(len(todo), PHOTO_WORKERS))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="referral-photo") as pool:
            futures = {pool.submit(one, img): img for img in todo}
            try:
                for future in as_completed(futures):
                    photo = future.result()
                    if photo is None:
                        continue
                    ready[photo.image_id] = photo
                    if photo_cache is not None:
                        photo_cache[photo.image_id] = photo
                    if progress:
                        progress(len(ready), total, f"Prepared photo {len(ready)} of {total}")
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    if len(ready) < total or (cancelled and cancelled()):
        raise Cancelled("Creating the referral")
    return ready


def draft_letter(archive: Archive, patient_id: int, *, image_ids: list[int] | None = None, to: str,
                 question: str, history: str = "", urgency: str = "routine", referrer: str | None = None,
                 letter_date: date | None = None, audit_refusal: bool = True,
                 photo_cache: dict[int, Photo] | None = None, progress: Progress | None = None,
                 cancelled: CancelCheck | None = None) -> ReferralLetter:
    """Everything the letter says, photos prepared; raises ConsentRefused before any photo is read.

    ``audit_refusal`` is False for previews (a refusal is audited when someone tries to save).
    ``photo_cache`` (owned by the caller, e.g. the dialog) keeps prepared photos between previews.
    """
    referrer = (referrer or "").strip() or default_referrer(archive)
    _check_text(to, question, urgency, history, referrer)
    patient = records.get_patient(archive, patient_id)
    chosen = _select_images(archive, patient_id, image_ids)
    ids = [i.id for i in chosen]
    if audit_refusal:
        policy.require(archive, ids, PURPOSE)
    else:
        refusals = policy.check(archive, ids, PURPOSE)
        if refusals:
            raise policy.ConsentRefused(PURPOSE, refusals)

    lesions = {l.id: l for l in records.lesions(archive, patient_id)}
    order = sorted({i.lesion_id for i in chosen if i.lesion_id in lesions},
                   key=lambda lid: (lesions[lid].label.casefold(), lid))
    groups: list[tuple[records.Lesion | None, list[records.ImageRecord]]] = [
        (lesions[lid], [i for i in chosen if i.lesion_id == lid]) for lid in order]
    loose = [i for i in chosen if i.lesion_id not in lesions]
    if loose:
        groups.append((None, loose))

    prepared = prepare_photos(archive, [i for _lesion, imgs in groups for i in imgs], photo_cache=photo_cache,
                              progress=progress, cancelled=cancelled)
    figure = 0
    sections = []
    for lesion, imgs in groups:
        site = lesion.site_label if lesion else ""
        photos = []
        for img in imgs:
            figure += 1
            ready = prepared[img.id]
            photos.append(Photo(img.id, ready.jpeg, ready.pixels, ready.size_pt,
                                _caption(img, site or "site not recorded"), figure))
        if lesion is not None:
            title = f"{lesion.label} · {site}" if lesion.site or lesion.site_text else lesion.label
            sections.append(LesionSection(title, lesion.diagnosis, lesion.notes, tuple(photos)))
        else:
            sections.append(LesionSection("Other photographs", "", "", tuple(photos)))
    if progress:
        progress(len(chosen), len(chosen), "Laying out the letter")
    return ReferralLetter(
        letterhead=letterhead(archive), letter_date=letter_date or date.today(), to=to.strip(),
        referrer=referrer, urgency=urgency, nhi=patient.nhi, patient_name=patient.display_name,
        dob=patient.dob, age=patient.age(), question=question.strip(), history=history.strip(),
        sections=tuple(sections), map_pins=_map_pins(archive, patient_id, [lesions[lid] for lid in order]))


def _map_pins(archive: Archive, patient_id: int, referred: list[records.Lesion]) -> tuple[MapPin, ...]:
    """Body-map pins of the referred lesions (those that have one)."""
    from ..archive import bodymap

    pins = bodymap.pins(archive, patient_id)
    return tuple(MapPin(l.label, pins[l.id].view, pins[l.id].x, pins[l.id].y) for l in referred if l.id in pins)


# -- the export --------------------------------------------------------------------------------
def preview_referral(archive: Archive, patient_id: int, *, dpi: int = 96,
                     progress: Progress | None = None, cancelled: CancelCheck | None = None,
                     **fields: Any) -> ReferralPreview:
    """Page 1 of the letter as PNG bytes (in memory), for the dialog; writes and audits nothing."""
    letter = draft_letter(archive, patient_id, audit_refusal=False, progress=progress, cancelled=cancelled,
                          **fields)
    rendered = render_letter(letter)
    return ReferralPreview(render_page_png(rendered.pdf, dpi=dpi), rendered.pages, letter.photo_count)


def _recipient(to: str) -> str:
    """The recipient and their practice on one line, for the audit log."""
    return ", ".join(re.sub(r"\s+", " ", line).strip(" ,") for line in to.splitlines() if line.strip())[:200]


def build_referral(archive: Archive, patient_id: int, *, image_ids: list[int] | None = None, to: str,
                   question: str, history: str = "", urgency: str = "routine", referrer: str | None = None,
                   out: Path | str, pdf_password: str | None = None, letter_date: date | None = None,
                   photo_cache: dict[int, Photo] | None = None, progress: Progress | None = None,
                   cancelled: CancelCheck | None = None) -> dict[str, Any]:
    """Write the referral PDF to ``out`` (atomically) and audit it; returns a summary.

    Refuses (:class:`~dermarchive.consent.policy.ConsentRefused`, audited) before anything is
    written when any photo lacks ``clinical.referral`` consent.
    """
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise InvalidInput(f"The referral is saved as a PDF: give a file name ending in .pdf (got '{out.name}').")
    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name ending in .pdf.")
    existing = next((p for p in out.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InvalidInput(f"Cannot save the referral there: {existing} is a file, not a folder.")
    if pdf_password is not None and len(pdf_password) < MIN_PASSWORD:
        raise InvalidInput(f"The PDF password must be at least {MIN_PASSWORD} characters.")
    started = datetime.now()
    letter = draft_letter(archive, patient_id, image_ids=image_ids, to=to, question=question, history=history,
                          urgency=urgency, referrer=referrer, letter_date=letter_date, photo_cache=photo_cache,
                          progress=progress, cancelled=cancelled)
    rendered = render_letter(letter)
    data = encrypt_pdf(rendered.pdf, pdf_password) if pdf_password else rendered.pdf
    if cancelled and cancelled():
        raise Cancelled("Creating the referral")
    ids = [p.image_id for s in letter.sections for p in s.photos]
    written = False
    try:
        with archive.transaction() as tx:
            archive.record(tx, "export", {"patient": patient_id, "images": ids},
                           {"purpose": PURPOSE, "format": "referral-pdf", "recipient": _recipient(to),
                            "urgency": urgency, "count": len(ids), "pages": rendered.pages,
                            "encrypted": bool(pdf_password)})
            archive.set_setting(tx, _referrer_key(archive), letter.referrer)  # offered next time
            try:
                atomic_write_bytes(out, data, action="save the referral PDF")
            except StorageError:
                raise
            except OSError as exc:  # e.g. creating the folder failed (a file is in the way)
                raise StorageError(describe_os_error(exc, "save the referral PDF")) from None
            written = True
    except BaseException:
        if written:  # the audit entry did not commit: take the file back
            out.unlink(missing_ok=True)
        raise
    seconds = (datetime.now() - started).total_seconds()
    log.exports.info("referral written: %d photo(s), %d page(s), %d bytes, %.2f s", len(ids), rendered.pages,
                     len(data), seconds)
    return {"path": str(out), "count": len(ids), "images": ids, "pages": rendered.pages, "bytes": len(data),
            "encrypted": bool(pdf_password), "purpose": PURPOSE}


__all__ = [
    "PURPOSE", "LETTERHEAD_KEY", "URGENCIES", "Letterhead", "letterhead", "set_letterhead", "default_referrer",
    "file_name", "Photo",
    "LesionSection", "ReferralLetter", "ReferralPreview", "PhotoUnreadable", "print_photo", "default_image_ids",
    "draft_letter", "layout_story", "render_letter", "render_page_png", "encrypt_pdf", "preview_referral",
    "build_referral",
]
