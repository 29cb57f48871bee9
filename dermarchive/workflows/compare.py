"""Compare two photos of a lesion: the later one laid over the earlier one (issue 17).

The one use case behind ``dermarchive compare`` and the GUI's aligned compare. Both photos are
decrypted (each audited as a view), decoded upright in memory with the project's one upright
decoder, and registered (:mod:`dermarchive.compare.registration`); the stored photos never
change. Consent: the clinical rules of the consent policy (comparing is clinical documentation);
both photos must be of one patient and be clinical or dermoscopic photos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from ..archive import records
from ..archive.archive import Archive
from ..compare import registration
from ..consent import policy
from ..errors import Cancelled, DermArchiveError, InvalidInput, NotFound
from ..exports.deidentified import upright_image

Progress = Callable[[int, int, str], None]
PURPOSE = "clinical.documentation"
COMPARABLE_KINDS = ("clinical", "dermoscopic")


class NotAligned(DermArchiveError):
    """The two photos could not be laid over each other (the plain pair is still there to see)."""

    exit_code = 4

    def __init__(self, reason: str) -> None:
        super().__init__(f"The two photos could not be aligned: {reason}. Compare them side by side instead.")
        self.reason = reason


@dataclass
class Comparison:
    earlier: records.ImageRecord         # the fixed photo (A)
    later: records.ImageRecord           # the moving photo (B), laid over A
    registration: registration.Registration
    interval_days: int | None            # B's capture day minus A's (negative if B is older)
    fixed: np.ndarray                    # A upright, RGB
    moving: np.ndarray                   # B upright, RGB
    aligned: np.ndarray | None           # B warped into A's upright frame (A's size), None if not aligned

    def as_json(self) -> dict[str, object]:
        """The exact shape of ``compare.json`` (issue 17)."""
        reg = self.registration
        return {"transform": reg.as_json()["transform"], "inliers": reg.inliers,
                "residual_px": None if reg.residual_px is None else round(reg.residual_px, 3),
                "interval_days": self.interval_days}


def capture_day(image: records.ImageRecord) -> date | None:
    """The day a photo was taken (its EXIF time, else its visit's date)."""
    when = records.parse_iso(image.taken_at) or records.parse_iso(image.visit_date)
    return when.date() if when else None


def interval_days(earlier: records.ImageRecord, later: records.ImageRecord) -> int | None:
    a, b = capture_day(earlier), capture_day(later)
    return (b - a).days if a and b else None


def _pixels(archive: Archive, image: records.ImageRecord) -> np.ndarray:
    pic, _icc = upright_image(records.view_image(archive, image), image.orientation)
    return np.asarray(pic)


def compare_images(archive: Archive, earlier_id: int, later_id: int, *, progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None, warp: bool = True) -> Comparison:
    """Register photo ``later_id`` onto photo ``earlier_id`` (ids of image rows).

    Never raises because the photos do not align: ``registration.ok`` says so, with the reason,
    and ``aligned`` is None. Raises for a refused consent, a wrong pair or a damaged photo.
    """
    if earlier_id == later_id:
        raise InvalidInput("Choose two different photos to compare.")
    found = {i.id: i for i in records.images(archive, image_ids=[earlier_id, later_id])}
    for image_id in (earlier_id, later_id):
        if image_id not in found:
            raise NotFound(f"Photo {image_id} is not in this archive.")
    policy.require(archive, [earlier_id, later_id], PURPOSE)
    earlier, later = found[earlier_id], found[later_id]
    for img in (earlier, later):
        if img.kind not in COMPARABLE_KINDS:
            raise InvalidInput(f"Photo {img.id} is a {img.kind.replace('-', ' ')} photo; only clinical and "
                               f"dermoscopic photos can be compared.")
    if earlier.patient_id != later.patient_id:
        raise InvalidInput("The two photos belong to different patients; compare photos of one patient.")

    def step(done: int, message: str) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("Comparing the photos")
        if progress:
            progress(done, 6, message)

    step(0, "Opening the earlier photo")
    fixed = _pixels(archive, earlier)
    step(1, "Opening the later photo")
    moving = _pixels(archive, later)
    step(2, "Aligning")
    dermoscopy = earlier.kind == later.kind == "dermoscopic"
    try:
        reg = registration.register(fixed, moving, dermoscopy=dermoscopy, cancelled=cancelled)
    except registration.RegistrationCancelled:
        raise Cancelled("Comparing the photos") from None
    step(5, "Laying the later photo over the earlier one")
    aligned = None
    if reg.ok and warp and reg.transform is not None:
        aligned = registration.warp(moving, reg.transform, (fixed.shape[1], fixed.shape[0]))
    step(6, "Done")
    archive.log_event("image.compare", {"images": [earlier.id, later.id], "patient": earlier.patient_id},
                      {"aligned": reg.ok, "inliers": reg.inliers})
    return Comparison(earlier, later, reg, interval_days(earlier, later), fixed, moving, aligned)


def interval_text(days: int | None) -> str:
    """'14 months later', '3 weeks later', 'same day', '2 years 1 month earlier' — for captions."""
    if days is None:
        return "date unknown"
    if days == 0:
        return "same day"
    when = "later" if days > 0 else "earlier"
    n = abs(days)

    def unit(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"

    if n < 14:
        return f"{unit(n, 'day')} {when}"
    if n < 61:
        return f"{unit(round(n / 7), 'week')} {when}"
    months = round(n / 30.44)
    if months < 24:
        return f"{unit(months, 'month')} {when}"
    years, rest = divmod(months, 12)
    return f"{unit(years, 'year')}{' ' + unit(rest, 'month') if rest else ''} {when}"
