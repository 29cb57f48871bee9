"""De-identified export for education, publication, research and promotion (DESIGN §4).

* The consent policy decides first: one refused image refuses the export, nothing is written,
  and :class:`~dermarchive.consent.policy.ConsentRefused` names each image and the missing scope.
* Each photo is decoded in memory, turned upright, redacted (blur or crop rectangles, given as
  fractions of the upright picture), and re-encoded as a JPEG carrying no metadata at all: no
  EXIF, XMP, IPTC or comments; only an ICC colour profile may stay.
* Files get neutral names (``image-001.jpg``); ``images.csv`` and ``images.json`` carry neutral
  fields only: body site, kind, diagnosis, age band, days since the first exported photo.
* Written into a temp folder beside ``out`` and renamed into place, so a failure or a cancel
  leaves nothing behind. The archive's originals are never changed. Audited as ``export``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter

from .. import log
from ..archive import bodysites, records
from ..archive.archive import Archive
from ..archive.fsutil import check_new_folder, new_folder, write_new_file
from ..consent import policy
from ..consent.scopes import SECONDARY
from ..errors import Cancelled, InvalidInput, NotFound
from ..ingest.picture import PictureError, decode_upright

Progress = Callable[[int, int, str], None]
DECODE_FORMATS = ("JPEG", "MPO", "PNG", "HEIF", "TIFF", "WEBP")
JPEG_QUALITY = 95
WORKERS = 2  # photos decoded/encoded at once: the speed of two cores, the memory of two photos
SIDECAR_FIELDS = ("file", "kind", "lesion", "body_site", "diagnosis", "age_band", "days_since_first_photo",
                  "redacted", "note")
# The size policy (ingest.picture): a de-identified copy needs no more than this; a larger photo
# (a 200 MP phone JPEG) is downscaled while decoding, and the export says so. 50 MP: a 200 MP
# JPEG decodes at 1/2 scale (49.9 MP), never at full size.
EXPORT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Redaction:
    """A rectangle on the upright picture, as fractions (0–1) of its width and height.

    ``blur`` hides what is inside (face, tattoo, jewellery); ``crop`` keeps only what is inside.
    """

    kind: str
    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if self.kind not in ("blur", "crop"):
            raise InvalidInput(f"A redaction is 'blur' or 'crop' (got '{self.kind}').")
        eps = 1e-6
        if not (self.w > 0 and self.h > 0 and self.x >= -eps and self.y >= -eps
                and self.x + self.w <= 1 + eps and self.y + self.h <= 1 + eps):
            raise InvalidInput("A redaction rectangle must lie inside the picture and have a size.")

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        left, top = round(self.x * width), round(self.y * height)
        right = max(left + 1, min(width, round((self.x + self.w) * width)))
        bottom = max(top + 1, min(height, round((self.y + self.h) * height)))
        return left, top, right, bottom

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "x": self.x, "y": self.y, "w": self.w, "h": self.h}


Redactions = Mapping[int, Sequence[Redaction]]


# -- pictures ---------------------------------------------------------------------------------
def upright_image(data: bytes, recorded_orientation: int = 1, *, max_side: int | None = None,
                  max_pixels: int | None = EXPORT_MAX_PIXELS) -> tuple[Image.Image, bytes | None]:
    """Decode stored image bytes into an upright RGB picture (in memory) and its ICC profile."""
    pic, icc, _note = _upright(data, recorded_orientation, max_side=max_side, max_pixels=max_pixels)
    return pic, icc


def _upright(data: bytes, recorded_orientation: int, *, max_side: int | None = None,
             max_pixels: int | None = EXPORT_MAX_PIXELS) -> tuple[Image.Image, bytes | None, str]:
    try:
        decoded = decode_upright(data, recorded=recorded_orientation, max_side=max_side,
                                 max_pixels=max_pixels, formats=DECODE_FORMATS)
    except PictureError as exc:
        raise InvalidInput(f"A stored image could not be decoded ({exc}); run 'dermarchive verify'.") from None
    pic = decoded.image if decoded.image.mode == "RGB" else decoded.image.convert("RGB")
    pic.info = {}  # nothing of the source's metadata (EXIF, XMP, comment…) may ride along
    return pic, decoded.icc, decoded.note()


def _blur_box(pic: Image.Image, box: tuple[int, int, int, int]) -> None:
    """Irreversibly hide a region: a coarse mosaic, then a blur to soften its block edges."""
    region = pic.crop(box)
    w, h = region.size
    cells = max(1, max(w, h) // 12)  # about 12 blocks across the longer side, whatever the size
    small = region.resize((max(1, w // cells), max(1, h // cells)), Image.Resampling.BOX)
    mosaic = small.resize((w, h), Image.Resampling.NEAREST)
    pic.paste(mosaic.filter(ImageFilter.GaussianBlur(max(2, cells // 2))), box)


def apply_redactions(pic: Image.Image, redactions: Sequence[Redaction]) -> Image.Image:
    """Blur every blur rectangle, then crop to the crop rectangle (at most one)."""
    crops = [r for r in redactions if r.kind == "crop"]
    if len(crops) > 1:
        raise InvalidInput("Draw at most one crop rectangle per photo.")
    out = pic.copy()
    for r in redactions:
        if r.kind == "blur":
            _blur_box(out, r.box(*out.size))
    if crops:
        out = out.crop(crops[0].box(*out.size))
    return out


def encode_clean_jpeg(pic: Image.Image, icc: bytes | None = None, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG with no EXIF, XMP, IPTC or comment: only JFIF and (if given) the ICC profile."""
    out = io.BytesIO()
    params: dict[str, Any] = {"quality": quality, "optimize": True, "subsampling": 0}
    if icc:
        params["icc_profile"] = icc
    pic.save(out, "JPEG", **params)
    return out.getvalue()


def redacted_preview(archive: Archive, image_id: int, redactions: Sequence[Redaction] = (),
                     max_side: int = 1200) -> bytes:
    """The upright (optionally redacted) picture as screen-size JPEG bytes, for the redaction tool."""
    image = records.get_image(archive, image_id)
    pic, _icc = upright_image(records.image_bytes(archive, image), image.orientation, max_side=max_side)
    return encode_clean_jpeg(apply_redactions(pic, redactions), quality=88)


# -- neutral fields ---------------------------------------------------------------------------
def age_band(dob: str | None, on: date) -> str:
    if not dob:
        return "unknown"
    born = date.fromisoformat(dob)
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age < 0:
        return "unknown"
    if age >= 90:
        return "90+"  # ages above 89 are grouped (HIPAA safe harbour)
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def _photo_date(image: records.ImageRecord) -> date:
    parsed = records.parse_iso(image.taken_at)
    return parsed.date() if parsed else date.fromisoformat(image.visit_date)


def _choose_images(archive: Archive, patient_id: int, image_ids: Sequence[int] | None) -> list[records.ImageRecord]:
    if image_ids is None:
        chosen = [i for i in records.images(archive, patient_id=patient_id) if i.kind != "consent-form"]
        if not chosen:
            raise InvalidInput("This patient has no photos to export.")
        return chosen
    if not image_ids:
        raise InvalidInput("Choose at least one photo to export.")
    found = {i.id: i for i in records.images(archive, image_ids=list(image_ids))}
    missing = [i for i in image_ids if i not in found]
    if missing:
        raise NotFound(f"Image(s) {', '.join(map(str, missing))} are not in this archive.")
    others = [i for i in image_ids if found[i].patient_id != patient_id]
    if others:
        raise InvalidInput(f"Image(s) {', '.join(map(str, others))} belong to another patient.")
    return sorted({found[i].id: found[i] for i in image_ids}.values(), key=lambda i: i.sort_key)


def suggest_folder(parent: Path | str, purpose: str, on: date | None = None) -> Path:
    """A neutral, not yet used folder name for an export, e.g. ``education-export-2026-03-01``."""
    base = f"{purpose}-export-{(on or date.today()).isoformat()}"
    parent = Path(parent)
    candidate, n = parent / base, 2
    while candidate.exists():
        candidate, n = parent / f"{base}-{n}", n + 1
    return candidate


def _sidecars(rows: list[dict[str, Any]], purpose: str) -> tuple[bytes, bytes]:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SIDECAR_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    meta = {"purpose": purpose, "count": len(rows), "images": rows,
            "note": "De-identified: no names, NHI, dates of birth, dates, file names or metadata."}
    return text.getvalue().encode("utf-8"), json.dumps(meta, indent=2, ensure_ascii=False).encode("utf-8")


def _render(data: bytes, orientation: int, redactions: Sequence[Redaction]) -> tuple[bytes, str]:
    """Stored bytes → upright, redacted, metadata-free JPEG (runs in a worker thread), and the
    size note when the photo was downscaled (the size policy)."""
    pic, icc, note = _upright(data, orientation)
    return encode_clean_jpeg(apply_redactions(pic, redactions), icc), note


def _sidecar_row(name: str, image: records.ImageRecord, lesion_of: Mapping[int, records.Lesion],
                 lesion_no: dict[int, str], dob: str | None, first: date,
                 redactions: Sequence[Redaction]) -> dict[str, Any]:
    """The neutral fields of one exported photo; lesions are numbered in order of appearance."""
    lesion = lesion_of.get(image.lesion_id) if image.lesion_id else None
    if lesion is not None:
        lesion_no.setdefault(lesion.id, f"lesion-{len(lesion_no) + 1}")
    taken = _photo_date(image)
    return {
        "file": name, "kind": image.kind,
        "lesion": lesion_no[lesion.id] if lesion else "",
        "body_site": bodysites.label(lesion.site, "", lesion.laterality) if lesion and lesion.site else "",
        "diagnosis": lesion.diagnosis if lesion else "",
        "age_band": age_band(dob, taken),
        "days_since_first_photo": (taken - first).days,
        "redacted": ",".join(sorted({r.kind for r in redactions})),
    }


def export_deidentified(archive: Archive, patient_id: int, purpose: str, out: Path | str, *,
                        image_ids: Sequence[int] | None = None, redactions: Redactions | None = None,
                        progress: Progress | None = None,
                        cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Export the patient's photos (or ``image_ids``) de-identified into the new folder ``out``.

    Returns ``{"count", "out", "files", "redacted", "purpose"}``. Raises ConsentRefused (nothing
    written) when any chosen photo lacks ``purpose``.
    """
    if purpose not in SECONDARY:
        raise InvalidInput(f"A de-identified export is for {', '.join(SECONDARY)} (got '{purpose}').")
    patient = records.get_patient(archive, patient_id)
    chosen = _choose_images(archive, patient_id, image_ids)
    redactions = {int(k): list(v) for k, v in (redactions or {}).items()}
    stray = sorted(set(redactions) - {i.id for i in chosen})
    if stray:
        raise InvalidInput(f"Redactions given for image(s) {', '.join(map(str, stray))}, which are not "
                           f"in this export.")
    for rs in redactions.values():
        if sum(r.kind == "crop" for r in rs) > 1:
            raise InvalidInput("Draw at most one crop rectangle per photo.")
    policy.require(archive, [i.id for i in chosen], purpose)

    out = Path(out)
    check_new_folder(out)
    total = len(chosen)
    first = min(_photo_date(i) for i in chosen)
    lesion_of = {l.id: l for l in records.lesions(archive, patient_id)}
    lesion_no: dict[int, str] = {}
    rows: list[dict[str, Any]] = []

    def finish(tmp: Path, n: int, image: records.ImageRecord, rendering: Future[tuple[bytes, str]]) -> None:
        name = f"image-{n:03d}.jpg"
        jpeg_bytes, note = rendering.result()
        write_new_file(tmp / name, jpeg_bytes)
        rows.append(_sidecar_row(name, image, lesion_of, lesion_no, patient.dob, first,
                                 redactions.get(image.id, [])) | {"note": note})
        if progress:
            progress(n, total, f"Exported photo {n} of {total}")

    with new_folder(out) as tmp:
        if progress:
            progress(0, total, "Preparing the export")
        # Decoding and encoding (Pillow releases the GIL) run in WORKERS threads; blobs are
        # decrypted here, at most WORKERS photos ahead of the one being written.
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="deidentify") as pool:
            pending: deque[tuple[int, records.ImageRecord, Future[tuple[bytes, str]]]] = deque()
            for n, image in enumerate(chosen, 1):
                if cancelled and cancelled():
                    raise Cancelled("The export")
                pending.append((n, image, pool.submit(_render, records.image_bytes(archive, image),
                                                      image.orientation, redactions.get(image.id, []))))
                if len(pending) >= WORKERS:
                    finish(tmp, *pending.popleft())
            while pending:
                finish(tmp, *pending.popleft())
        csv_bytes, json_bytes = _sidecars(rows, purpose)
        write_new_file(tmp / "images.csv", csv_bytes)
        write_new_file(tmp / "images.json", json_bytes)
    redacted = sum(1 for i in chosen if redactions.get(i.id))
    archive.log_event("export", {"patient": patient_id, "images": [i.id for i in chosen]},
                      {"purpose": purpose, "count": total, "redacted": redacted, "kind": "deidentified"})
    log.exports.info("de-identified export: %d image(s), %d redacted", total, redacted)
    downscaled = [r["file"] + ": " + r["note"] for r in rows if r["note"]]
    return {"count": total, "out": str(out), "files": [r["file"] for r in rows],
            "redacted": redacted, "purpose": purpose, "downscaled": downscaled}
