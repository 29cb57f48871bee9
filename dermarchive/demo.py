"""``dermarchive demo``: a ready demo archive with synthetic patients (test NHIs starting with Z).

Everything in it is made up: names, dates, and the photographs, which are drawn procedurally with
Pillow (skin-tone background with texture and lighting, lesions that grow and darken over visits,
dermoscopic round-field views with a pigment network, and one photographed consent form per
visit). Photos are encoded as real JPEGs in memory and stored through the same core calls an
import uses (``store_blob``, ``records.insert_image``, in-memory thumbnails); nothing decrypted is
written to disk. Consent records are varied on purpose (signature, photographed form, verbal,
exemption, withdrawn, none) so the consent badges and export refusals have something to show.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from . import nhi as nhi_mod
from .archive import Archive, records
from .archive.keys import KdfParams
from .consent.records import record_consent
from .errors import Cancelled, InvalidInput
from .ingest.thumbnails import make_thumbnails_from_bytes
from .paths import data_dir
from .workflows.consent import withdraw_consent

DEMO_PASSPHRASE = "demo archive 2024"
DEMO_USER = "demo.clinician"
DEMO_SEED = 4242

Progress = Callable[[int, int, str], None]

# (family, given, date of birth, Fitzpatrick-ish skin tone RGB)
_PEOPLE = [
    ("Tester", "Aroha", "1968-03-14", (224, 184, 150)),
    ("Sample", "Bernard", "1951-11-02", (238, 203, 178)),
    ("Example", "Mei", "1983-06-25", (214, 170, 128)),
    ("Demo", "Sione", "1975-09-09", (170, 120, 86)),
    ("Fictional", "Priya", "1990-01-30", (190, 140, 100)),
    ("Placeholder", "Tom", "1944-07-18", (242, 210, 188)),
    ("Synthetic", "Hana", "1962-12-05", (228, 190, 160)),
    ("Madeup", "Rawiri", "1958-04-21", (180, 128, 92)),
    ("Notreal", "Grace", "1999-10-12", (236, 198, 170)),
    ("Invented", "Luca", "1971-02-27", (220, 176, 140)),
]

_SITES = [("back", "left"), ("forearm", "right"), ("chest", "midline"), ("face", "left"),
          ("lower-leg", "right"), ("shoulder", "left"), ("thigh", "left"), ("scalp", ""),
          ("upper-arm", "right"), ("abdomen", "right"), ("hand", "left"), ("neck", "right")]
_SITE_TEXT = ["", "3 cm below the scapula", "dorsal", "near the hairline", "", "lateral", ""]
_DIAGNOSES = ["", "Benign naevus", "Seborrhoeic keratosis", "Atypical naevus – monitor",
              "Suspected BCC", "Dermatofibroma", ""]


@dataclass(frozen=True)
class DemoSize:
    patients: int
    lesions: tuple[int, int]  # per patient, inclusive range
    visits: tuple[int, int]
    dermoscopy_every: int  # a dermoscopic photo for every n-th lesion (1 = all)
    photo_px: tuple[int, int]


FULL = DemoSize(patients=10, lesions=(3, 4), visits=(4, 5), dermoscopy_every=1, photo_px=(1024, 768))
SMALL = DemoSize(patients=3, lesions=(1, 2), visits=(2, 2), dermoscopy_every=2, photo_px=(480, 360))


@dataclass(frozen=True)
class DemoSummary:
    path: Path
    created: bool
    patients: int
    lesions: int
    images: int
    consents: int
    seconds: float


def default_path() -> Path:
    return data_dir() / "demo-archive"


def test_nhis(count: int) -> list[str]:
    """``count`` valid test NHIs (all start with Z), the design's known answers first."""
    known = ["ZZZ0016", "ZZZ0024", "ZAC5361", "ZBN77VL", "ZSC21TN", "ZZZ00AC"]
    out = [n for n in known if nhi_mod.problem(n) is None]
    seen = set(out)
    letters = "ZYXWVUTSRQPNMLKJHGFEDCBA"  # no I or O
    for second in letters:
        for third in letters:
            for number in range(10_000):
                if len(out) >= count:
                    return out[:count]
                candidate = f"Z{second}{third}{number:04d}"
                if candidate not in seen and nhi_mod.problem(candidate) is None:
                    out.append(candidate)
                    seen.add(candidate)
    return out[:count]


# -- drawing ------------------------------------------------------------------------------------
def _jpeg(img: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _skin_texture(size: tuple[int, int], tone: tuple[int, int, int], rng: random.Random) -> Image.Image:
    """One patient's skin: colour, pores and mottling, freckles and a few hairs (made once, cropped per photo)."""
    w, h = size
    base = Image.new("RGB", size, tone)
    noise = Image.effect_noise((w // 2, h // 2), 28).resize(size, Image.Resampling.BILINEAR)
    shade = Image.merge("RGB", [noise.point(lambda v, k=k: int(tone[k] * (0.86 + 0.28 * v / 255)))
                                for k in range(3)])
    img = Image.blend(base, shade, 0.55)
    draw = ImageDraw.Draw(img)
    for _ in range(w * h // 9000):
        x, y = rng.randrange(w), rng.randrange(h)
        if rng.random() < 0.6:
            r = rng.uniform(1, 3)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c * 0.8) for c in tone))
        else:
            a, length = rng.uniform(0, math.pi), rng.uniform(8, 30)
            draw.line((x, y, x + length * math.cos(a), y + length * math.sin(a)),
                      fill=tuple(int(c * 0.55) for c in tone), width=1)
    return img


_GRADIENT = Image.radial_gradient("L").resize((512, 512), Image.Resampling.BILINEAR)


def _skin(size: tuple[int, int], texture: Image.Image, rng: random.Random) -> Image.Image:
    """A photo-sized crop of the patient's skin under a soft, off-centre light."""
    w, h = size
    x, y = rng.randrange(texture.width - w + 1), rng.randrange(texture.height - h + 1)
    img = texture.crop((x, y, x + w, y + h))
    dx, dy = rng.randint(96, 160), rng.randint(96, 160)  # off-centre window of a wider light falloff
    light = _GRADIENT.crop((dx, dy, dx + 256, dy + 256))
    light = light.point(lambda v: int(v * 0.5)).resize(size, Image.Resampling.BILINEAR)
    tone = img.getpixel((w // 2, h // 2))
    return Image.composite(Image.new("RGB", size, tuple(int(c * 0.72) for c in tone)), img, light)


def _blob_points(cx: float, cy: float, radius: float, irregular: float,
                 shape: list[float]) -> list[tuple[float, float]]:
    pts = []
    n = len(shape)
    for i, wobble in enumerate(shape):
        a = 2 * math.pi * i / n
        r = radius * (1 + irregular * wobble)
        pts.append((cx + r * math.cos(a), cy + r * 0.85 * math.sin(a)))
    return pts


def _lesion(img: Image.Image, centre: tuple[float, float], radius: float, colour: tuple[int, int, int],
            irregular: float, shape: list[float], network: bool) -> None:
    """Paint a pigmented lesion: soft edge, darker centre, optional pigment network and dots.

    Work happens in the lesion's bounding box only, so big photos stay cheap to draw.
    """
    reach = radius * (1 + irregular) * 1.3 + 4
    box = (max(0, int(centre[0] - reach)), max(0, int(centre[1] - reach)),
           min(img.width, int(centre[0] + reach)), min(img.height, int(centre[1] + reach)))
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = centre[0] - box[0], centre[1] - box[1]
    region = img.crop(box)
    mask = Image.new("L", (w, h), 0)
    md = ImageDraw.Draw(mask)
    md.polygon(_blob_points(cx, cy, radius, irregular, shape), fill=210)
    md.polygon(_blob_points(cx + radius * 0.08, cy, radius * 0.55, irregular * 1.3, shape[::-1]), fill=250)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, radius * 0.08)))
    region.paste(Image.new("RGB", (w, h), colour), (0, 0), mask)
    if network:
        overlay = Image.new("L", (w, h), 0)
        od = ImageDraw.Draw(overlay)
        step = max(5, int(radius / 11))
        rng = random.Random(int(radius * 1000))
        for k in range(-int(radius), int(radius), step):
            j = rng.uniform(-0.4, 0.4) * step
            od.line((cx + k + j, cy - radius, cx + k - j + step * 0.9, cy + radius), fill=95, width=2)
            od.line((cx - radius, cy + k - j, cx + radius, cy + k + j - step * 0.8), fill=95, width=2)
        for _ in range(int(radius / 6)):
            a, r = rng.uniform(0, 2 * math.pi), rng.uniform(0, radius * 0.7)
            x, y, s = cx + r * math.cos(a), cy + r * math.sin(a), rng.uniform(1.5, step * 0.35)
            od.ellipse((x - s, y - s, x + s, y + s), fill=170)
        overlay = Image.composite(overlay, Image.new("L", (w, h), 0), mask)
        dark = tuple(int(c * 0.45) for c in colour)
        region.paste(Image.new("RGB", (w, h), dark), (0, 0), overlay.filter(ImageFilter.GaussianBlur(1.6)))
    img.paste(region, box[:2])


def _ruler(img: Image.Image, label: str) -> None:
    """A paper scale ruler and lesion sticker, as clinics put beside a lesion."""
    w, h = img.size
    d = ImageDraw.Draw(img)
    x0, y0, length = int(w * 0.06), int(h * 0.86), int(w * 0.42)
    d.rectangle((x0, y0, x0 + length, y0 + int(h * 0.07)), fill=(246, 246, 240), outline=(120, 120, 120))
    for i in range(51):
        x = x0 + 6 + i * (length - 12) / 50
        tick = h * (0.035 if i % 10 == 0 else 0.02 if i % 5 == 0 else 0.012)
        d.line((x, y0, x, y0 + tick), fill=(30, 30, 30), width=1)
    sx, sy = int(w * 0.78), int(h * 0.08)
    d.rounded_rectangle((sx, sy, sx + int(w * 0.14), sy + int(h * 0.09)), radius=6, fill=(255, 250, 190),
                        outline=(150, 140, 60))
    d.text((sx + 10, sy + 8), label, fill=(40, 40, 40), font_size=max(12, h // 22))


def _dermoscopic(size: tuple[int, int], texture: Image.Image, colour: tuple[int, int, int],
                 growth: float, shape: list[float], irregular: float, rng: random.Random) -> Image.Image:
    """Round-field dermoscopy view: magnified skin in a black circle."""
    w, h = size
    side = min(w, h)
    field = _skin((side, side), texture, rng)
    _lesion(field, (side / 2, side / 2), side * 0.22 * growth, colour, irregular, shape, network=True)
    img = Image.new("RGB", size, (8, 8, 8))
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((side * 0.04, side * 0.04, side * 0.96, side * 0.96), fill=255)
    img.paste(field, ((w - side) // 2, (h - side) // 2), mask.filter(ImageFilter.GaussianBlur(2)))
    d = ImageDraw.Draw(img)
    cx = (w - side) // 2
    for i in range(11):  # the scale printed on the contact plate
        x = cx + side * 0.3 + i * side * 0.04
        d.line((x, side * 0.9, x, side * (0.92 if i % 5 else 0.94)), fill=(235, 235, 235), width=1)
    return img


def _consent_form(size: tuple[int, int], visit_day: str, method: str, rng: random.Random) -> Image.Image:
    """A photographed paper consent form lying slightly askew on a desk."""
    w, h = size
    grain = Image.effect_noise((w // 4, h // 4), 40).resize(size, Image.Resampling.BILINEAR)
    desk = Image.blend(Image.new("RGB", size, (120, 92, 64)), grain.convert("RGB"), 0.12)
    pw, ph = int(w * 0.55), int(h * 0.9)
    paper = Image.new("RGBA", (pw, ph), (250, 249, 244, 255))
    d = ImageDraw.Draw(paper)
    fs = max(10, ph // 30)
    d.text((pw * 0.08, ph * 0.05), "CONSENT FOR CLINICAL PHOTOGRAPHY", fill=(20, 20, 20), font_size=fs)
    d.text((pw * 0.08, ph * 0.05 + fs * 1.6), f"Visit {visit_day}   (demo form, not a real patient)",
           fill=(70, 70, 70), font_size=int(fs * 0.7))
    y = ph * 0.2
    for i, item in enumerate(["My clinical record", "Referral to another clinician", "Teaching (no name)",
                              "Publication (no name)", "Research (no name)"]):
        d.rectangle((pw * 0.08, y, pw * 0.08 + fs, y + fs), outline=(30, 30, 30), width=2)
        if method != "verbal" and (i < 2 or rng.random() < 0.5):
            d.line((pw * 0.08 + 3, y + fs / 2, pw * 0.08 + fs / 2, y + fs - 3), fill=(20, 40, 140), width=3)
            d.line((pw * 0.08 + fs / 2, y + fs - 3, pw * 0.08 + fs + 3, y - 4), fill=(20, 40, 140), width=3)
        d.text((pw * 0.08 + fs * 1.6, y), item, fill=(30, 30, 30), font_size=int(fs * 0.8))
        y += fs * 1.8
    for _ in range(6):  # body text as grey lines
        d.line((pw * 0.08, y, pw * rng.uniform(0.6, 0.92), y), fill=(150, 150, 150), width=max(2, fs // 5))
        y += fs * 0.9
    sy = ph * 0.82
    d.line((pw * 0.08, sy, pw * 0.6, sy), fill=(60, 60, 60), width=2)
    d.text((pw * 0.08, sy + 6), "Signature", fill=(80, 80, 80), font_size=int(fs * 0.6))
    pts = [(pw * (0.1 + 0.045 * i), sy - fs * (0.3 + 0.9 * abs(math.sin(i * 1.7 + rng.random()))))
           for i in range(11)]
    d.line(pts, fill=(15, 30, 120), width=3, joint="curve")
    paper = paper.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BILINEAR, expand=True)
    desk.paste(paper, ((w - paper.width) // 2, (h - paper.height) // 2), paper)
    return desk


def _signature_png(rng: random.Random) -> bytes:
    img = Image.new("RGB", (400, 120), "white")
    d = ImageDraw.Draw(img)
    pts = [(20 + 34 * i, 60 + 35 * math.sin(i * 1.3 + rng.random())) for i in range(11)]
    d.line(pts, fill=(10, 20, 90), width=4, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


# -- building -----------------------------------------------------------------------------------
def _store_photo(archive: Archive, tx: Any, img: Image.Image, *, visit_id: int, lesion_id: int | None,
                 kind: str, taken_at: str, notes: str = "") -> int:
    data = _jpeg(img)
    thumbs = make_thumbnails_from_bytes(data)
    blob = archive.store_blob(tx, data)
    thumb = archive.store_blob(tx, thumbs.thumb)
    preview = archive.store_blob(tx, thumbs.preview)
    return records.insert_image(
        archive, tx, visit_id=visit_id, lesion_id=lesion_id, kind=kind, blob_id=blob,
        width=img.width, height=img.height, original_format="JPEG", stored_format="JPEG",
        taken_at=taken_at, taken_at_source="exif-offset", device_make="DemoCam",
        device_model="DemoCam Derm 2" if kind == "dermoscopic" else "DemoCam Phone 12",
        thumb_blob_id=thumb, preview_blob_id=preview, essential_for_care=(kind != "consent-form"),
        notes=notes)


_CONSENT_PLANS = [
    # (method, scopes, withdrawn)
    ("written-signature", ["clinical.documentation", "clinical.referral", "clinical.second_opinion",
                           "education", "research"], False),
    ("photographed-form", ["clinical.documentation", "clinical.referral", "education", "publication"], False),
    ("verbal", ["clinical.documentation", "clinical.referral", "clinical.triage"], False),
    ("exemption", ["clinical.documentation", "clinical.referral", "clinical.triage"], False),
    ("written-signature", ["clinical.documentation", "clinical.referral", "education", "research",
                           "publication"], True),
    (None, [], False),  # no consent recorded for this visit
]


def _add_consent(archive: Archive, rng: random.Random, *, visit_id: int, visit_day: str,
                 plan: tuple[str | None, list[str], bool], form_image_id: int) -> int:
    """Record the visit's consent as any user would: through the consent rules and the withdrawal
    use case, so the demo cannot hold a record that the app would refuse."""
    method, scopes, withdrawn = plan
    if method is None:
        return 0
    record_consent(archive, visit_id, scopes=scopes, method=method, obtained_by=DEMO_USER,
                   obtained_at=f"{visit_day}T09:{rng.randint(10, 59):02d}:00+12:00",
                   exemption_reason=("Urgent referral; patient could not consent at the time (delirium)."
                                     if method == "exemption" else None),
                   signature=_signature_png(rng) if method == "written-signature" else None,
                   form_image_id=form_image_id if method == "photographed-form" else None,
                   notes="Demo consent record.")
    if withdrawn:
        later = (date.fromisoformat(visit_day) + timedelta(days=40)).isoformat()
        withdraw_consent(archive, visit_id, withdrawn_at=f"{later}T14:00:00+12:00",
                         reason="Patient asked that the photos not be used for teaching or research.")
    return 2 if withdrawn else 1


def _layout(size: DemoSize, seed: int) -> list[tuple[int, int]]:
    """(lesions, visits) per patient, from their own random stream so counts are known up front."""
    rng = random.Random(seed + 1)
    return [(rng.randint(*size.lesions), rng.randint(*size.visits)) for _ in range(size.patients)]


def plan_counts(size: DemoSize = FULL, seed: int = DEMO_SEED) -> tuple[int, int, int]:
    """(patients, lesions, photos) that :func:`build_demo` will make with ``size``."""
    lesions = photos = 0
    for n_les, n_vis in _layout(size, seed):
        lesions += n_les
        derm = sum(1 for k in range(n_les) if k % size.dermoscopy_every == 0)
        photos += n_vis * (n_les + derm + 1)
    return size.patients, lesions, photos


def build_demo(path: Path, passphrase: str, *, kdf: KdfParams | None = None, size: DemoSize = FULL,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
               seed: int = DEMO_SEED) -> DemoSummary:
    """Create the demo archive at ``path`` (a new or empty folder). Deterministic for one seed."""
    started = time.perf_counter()
    progress = progress or (lambda done, total, message="": None)
    cancelled = cancelled or (lambda: False)
    _, _, total = plan_counts(size, seed)
    rng = random.Random(seed)
    n_lesions = n_images = n_consents = 0
    nhis = test_nhis(size.patients)
    layout = _layout(size, seed)
    today = date.today()
    archive = Archive.create(path, DEMO_USER, passphrase, kdf=kdf, role="clinician")
    try:
        for p in range(size.patients):
            family, given, dob, tone = _PEOPLE[p % len(_PEOPLE)]
            if p >= len(_PEOPLE):
                family = f"{family}{p // len(_PEOPLE) + 1}"
            patient = records.add_patient(archive, nhis[p], family, given, dob)
            n_les, n_vis = layout[p]
            first = today - timedelta(days=rng.randint(900, 1400))
            days = [first + timedelta(days=i * 180 + rng.randint(0, 60)) for i in range(n_vis)]
            w, h = size.photo_px
            texture = _skin_texture((w + w // 4, h + h // 4), tone, rng)
            lesion_ids: list[tuple[int, dict[str, Any]]] = []
            with archive.transaction() as tx:
                for k in range(n_les):
                    site, lat = _SITES[(p * 3 + k) % len(_SITES)]
                    look = {"colour": (rng.randint(70, 120), rng.randint(40, 70), rng.randint(20, 45)),
                            "radius": rng.uniform(0.05, 0.09), "growth": rng.uniform(0.0, 0.35),
                            "irregular": rng.uniform(0.05, 0.3), "dermoscopy": k % size.dermoscopy_every == 0,
                            "shape": [rng.uniform(-1, 1) for _ in range(24)],
                            "at": (rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.6))}
                    lid = records.add_lesion(archive, patient.id, f"L{k + 1}", site=site, laterality=lat,
                                             site_text=rng.choice(_SITE_TEXT), diagnosis=rng.choice(_DIAGNOSES),
                                             tx=tx)
                    lesion_ids.append((lid, look))
            n_lesions += n_les
            for v, day in enumerate(days):
                if cancelled():
                    raise Cancelled("Building the demo archive")
                with archive.transaction() as tx:
                    vid = records.add_visit(archive, patient.id, day.isoformat(), clinician="Dr Demo", tx=tx)
                    hour = 9 + v % 7
                    plan = _CONSENT_PLANS[(p + v) % len(_CONSENT_PLANS)]
                    form = _consent_form(size.photo_px, day.isoformat(), plan[0] or "verbal", rng)
                    form_id = _store_photo(archive, tx, form, visit_id=vid, lesion_id=None, kind="consent-form",
                                           taken_at=f"{day.isoformat()}T{hour:02d}:00:00+12:00",
                                           notes="Consent form")
                    n_images += 1
                    for k, (lid, look) in enumerate(lesion_ids):
                        t = v / max(1, n_vis - 1)
                        growth = 1 + look["growth"] * t
                        colour = tuple(max(0, int(c * (1 - 0.25 * look["growth"] * t))) for c in look["colour"])
                        irregular = look["irregular"] * (1 + t * look["growth"] * 2)
                        img = _skin(size.photo_px, texture, rng)
                        _lesion(img, (w * look["at"][0], h * look["at"][1]), min(w, h) * look["radius"] * growth,
                                colour, irregular, look["shape"], network=False)
                        _ruler(img, f"L{k + 1}")
                        stamp = f"{day.isoformat()}T{hour:02d}:{5 + 3 * k:02d}:00+12:00"
                        _store_photo(archive, tx, img, visit_id=vid, lesion_id=lid, kind="clinical", taken_at=stamp)
                        n_images += 1
                        if look["dermoscopy"]:
                            derm = _dermoscopic(size.photo_px, texture, colour, growth, look["shape"], irregular, rng)
                            stamp = f"{day.isoformat()}T{hour:02d}:{6 + 3 * k:02d}:00+12:00"
                            _store_photo(archive, tx, derm, visit_id=vid, lesion_id=lid, kind="dermoscopic",
                                         taken_at=stamp)
                            n_images += 1
                    archive.record(tx, "image.import", {"patient": patient.id, "visit": vid},
                                   {"count": len(lesion_ids) + 1, "source": "demo"})
                n_consents += _add_consent(archive, rng, visit_id=vid, visit_day=day.isoformat(),
                                           plan=plan, form_image_id=form_id)
                progress(n_images, total, f"patient {p + 1} of {size.patients}")
    except BaseException:
        archive.close()
        raise
    archive.close()
    return DemoSummary(path, True, size.patients, n_lesions, n_images, n_consents, time.perf_counter() - started)


def ensure_demo(path: Path, passphrase: str, *, kdf: KdfParams | None = None, size: DemoSize = FULL,
                progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> DemoSummary:
    """Build the demo archive at ``path``, or check that the one already there opens."""
    started = time.perf_counter()
    if (path / "archive.json").exists():
        with Archive.open(path, DEMO_USER, passphrase) as archive:
            n = records.counts(archive)
        return DemoSummary(path, False, n["patient"], n["lesion"], n["image"], n["consent"],
                           time.perf_counter() - started)
    if path.exists() and any(path.iterdir()):
        raise InvalidInput(f"{path} is not empty and holds no archive; choose another folder with --path.")
    return build_demo(path, passphrase, kdf=kdf, size=size, progress=progress, cancelled=cancelled)
