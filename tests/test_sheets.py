"""Photo consent sheets (issue 18): printed by the project, filled in and "photographed" by
tests/sheet_photos.py, read back, and used to sort a clinic day's phone folder by patient."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dermarchive.archive import records
from dermarchive.consent import policy
from dermarchive.consent import records as consent_records
from dermarchive.consent.scopes import CLINICAL, PURPOSES
from dermarchive.errors import InvalidInput
from dermarchive.sheets.issue import print_sheet, sheet_key
from dermarchive.sheets.payload import CodeProblem, SheetCode, decode, encode_sheet
from dermarchive.sheets.read import PAPER_SHARE, PRINT_PER_PAPER, look, paper_share
from dermarchive.workflows.clinic_day import import_clinic_day, plan_clinic_day

from .sheet_photos import Shot, fill, jpeg, photograph, skin_photo

PATIENTS = (("ZZZ0016", "Tester", "Aroha"), ("ZZZ0024", "Ngata", "Wiremu"), ("ZAC5361", "Smith", "Jo"))


def _shot(rng: random.Random, seed: int, **over) -> Shot:
    """A phone photo of a page on a desk: any quarter turn plus up to 25° askew, perspective,
    light falling off by up to half across the frame, blur, JPEG 70–88."""
    base = dict(angle=rng.choice([0, 90, 180, 270]) + rng.uniform(-25, 25), tilt=rng.uniform(0.02, 0.08),
                light=rng.uniform(0.2, 0.5), blur=rng.uniform(0.6, 1.6), quality=rng.randint(70, 88),
                size=rng.choice([(2400, 1800), (1800, 2400)]), seed=seed)
    base.update(over)
    return Shot(**base)


def _sheet_photo(pdf: bytes, ticked: list[str], signed: bool, seed: int, taken_at: str = "2026-11-30T09:00:00",
                 **over) -> bytes:
    rng = random.Random(seed)
    shot = _shot(rng, seed, **over)
    return jpeg(photograph(fill(pdf, ticked, signed=signed, seed=seed), shot), taken_at=taken_at,
                quality=shot.quality)


@pytest.fixture
def patients(archive):
    return [records.add_patient(archive, nhi, family, given, "1970-01-01") for nhi, family, given in PATIENTS]


# -- the code ---------------------------------------------------------------------------------
def test_code_mac_rejects_another_archive_and_an_altered_sheet(archive, make_archive):
    key = sheet_key(archive)
    text = encode_sheet(SheetCode(archive.archive_id, "ZZZ0016", "2026-11-30", 7), key)
    assert decode(text, archive.archive_id, key) == SheetCode(archive.archive_id, "ZZZ0016", "2026-11-30", 7)
    other = make_archive()
    with pytest.raises(CodeProblem) as foreign:
        decode(text, other.archive_id, sheet_key(other))
    assert foreign.value.kind == "foreign"
    altered = text.replace("ZZZ0016", "ZZZ0024")  # another patient's NHI written into the code
    with pytest.raises(CodeProblem) as bad:
        decode(altered, archive.archive_id, key)
    assert bad.value.kind == "unreadable"
    assert sheet_key(archive) != sheet_key(other) and len(key) == 32


def test_print_sheet_gives_serials_and_audits_without_patient_data(archive, patients):
    first = print_sheet(archive, "ZZZ0016", visit_date="2026-11-30", lesions=["L1 left forearm"])
    second = print_sheet(archive, "zzz0016")
    assert first.startswith(b"%PDF") and second.startswith(b"%PDF")
    from pypdf import PdfReader
    import io

    assert len(PdfReader(io.BytesIO(first)).pages) == 2  # the form, then the lesion labels
    assert len(PdfReader(io.BytesIO(second)).pages) == 1
    entries = [e for e in archive.audit.entries(archive.catalogue, action="sheet.print")]
    assert [e.details["serial"] for e in entries] == [1, 2]
    assert all("ZZZ0016" not in repr(e) and "Tester" not in repr(e) for e in entries)
    with pytest.raises(InvalidInput):
        print_sheet(archive, "ZZZ0016", visit_date="30/11/2026")


# -- reading photographed sheets --------------------------------------------------------------
def test_every_tick_and_signature_read_right_on_the_generated_set(archive, patients):
    """24 photographed sheets: random ticks, signed or not, each photo taken differently."""
    key = sheet_key(archive)
    pdf = print_sheet(archive, "ZZZ0024", visit_date="2026-11-30")
    wrong = []
    for seed in range(24):
        rng = random.Random(1000 + seed)
        ticked = [p for p in PURPOSES if rng.random() < 0.5]
        signed = rng.random() < 0.7
        photo = _sheet_photo(pdf, ticked, signed, 1000 + seed)
        paper, detail = paper_share(photo)  # the quick EXIF-thumbnail test never hides a sheet
        assert paper > 2 * PAPER_SHARE and detail > 1.5 * PRINT_PER_PAPER * paper, seed
        seen = look(photo, archive.archive_id, key)
        assert seen is not None and seen.kind == "sheet", seed
        assert seen.code.nhi == "ZZZ0024" and seen.code.visit_date == "2026-11-30"
        got = seen.consent
        if got.ticked != ticked or got.signed is not signed or got.unclear:
            wrong.append((seed, got.as_json(), ticked, signed))
    assert not wrong


def test_ordinary_photos_and_other_qr_codes_are_not_sheets(archive):
    import io

    import zxingcpp
    from PIL import Image

    key = sheet_key(archive)
    ordinary = jpeg(skin_photo(3), taken_at="2026-11-30T09:00:00")
    assert paper_share(ordinary)[0] < PAPER_SHARE  # not even decoded
    assert look(ordinary, archive.archive_id, key) is None
    assert look(jpeg(skin_photo(3), taken_at="2026-11-30T09:00:00", thumbnail=False), archive.archive_id, key) is None
    # A parking ticket's QR code on a photo is not ours: still an ordinary photo.
    photo = skin_photo(4)
    code = Image.fromarray(zxingcpp.create_barcode("https://example.org/ticket/123",
                                                   zxingcpp.BarcodeFormat.QRCode).to_image(scale=8))
    photo.paste(code.convert("RGB"), (100, 100))
    buf = io.BytesIO()
    photo.save(buf, "JPEG")
    assert look(buf.getvalue(), archive.archive_id, key) is None


def test_a_sheet_photo_without_an_exif_thumbnail_is_still_found(archive, patients):
    """Forwarded or edited photos lose their EXIF thumbnail: the photo itself is then looked at."""
    pdf = print_sheet(archive, "ZZZ0016")
    photo = jpeg(photograph(fill(pdf, ["clinical.documentation"], signed=True, seed=8), Shot(angle=180, seed=8)),
                 taken_at="2026-11-30T09:00:00", thumbnail=False)
    assert paper_share(photo) is None
    seen = look(photo, archive.archive_id, sheet_key(archive))
    assert seen.kind == "sheet" and seen.consent.ticked == ["clinical.documentation"] and seen.consent.signed


def test_unclear_boxes_are_unclear_not_guessed(archive, patients):
    """A page half out of the frame: the boxes and signature that are not in the photo are unclear."""
    from PIL import Image

    pdf = print_sheet(archive, "ZZZ0016")
    page = fill(pdf, ["clinical.documentation", "research"], signed=True, seed=5)
    w, h = page.size
    top = page.crop((0, 0, w, int(h * 0.52)))  # the photo shows only the upper half of the page
    canvas = Image.new("RGB", (w, int(h * 0.6)), (120, 90, 60))
    canvas.paste(top, (0, 0))
    seen = look(jpeg(canvas, taken_at="2026-11-30T09:00:00"), archive.archive_id, sheet_key(archive))
    assert seen is not None and seen.kind == "sheet"
    got = seen.consent
    assert got.signed is None
    assert "research" in got.unclear and "promotion" in got.unclear
    assert "research" not in got.ticked


# -- a clinic day -----------------------------------------------------------------------------
def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def _skin(folder: Path, name: str, seed: int, when: str) -> None:
    _write(folder, name, jpeg(skin_photo(seed), taken_at=when))


@pytest.fixture
def clinic_day(archive, patients, make_archive, tmp_path):
    """A phone folder: 2 waiting photos, patient A (sheet + 3), a foreign sheet + 1, patient B
    (sheet + 2, unsigned), an unreadable sheet + 1, patient C (sheet photographed twice + 2)."""
    folder = tmp_path / "phone"
    other = make_archive()
    records.add_patient(other, "ZZZ0016", "Tester", "Aroha")
    t = iter(f"2026-11-30T{h:02d}:{m:02d}:00" for h in range(8, 18) for m in range(0, 60, 3))
    want: dict[str, str | None] = {}

    def skin(name: str, nhi: str | None, seed: int) -> None:
        _skin(folder, name, seed, next(t))
        want[name] = nhi

    skin("IMG_0001.JPG", None, 1)
    skin("IMG_0002.JPG", None, 2)
    a = print_sheet(archive, "ZZZ0016", visit_date="2026-11-30")
    _write(folder, "IMG_0003.JPG", _sheet_photo(a, ["clinical.documentation", "clinical.referral", "education"],
                                                True, 11, taken_at=next(t)))
    want["IMG_0003.JPG"] = "ZZZ0016"
    for n in (4, 5, 6):
        skin(f"IMG_000{n}.JPG", "ZZZ0016", n)
    foreign = print_sheet(other, "ZZZ0016")
    _write(folder, "IMG_0007.JPG", _sheet_photo(foreign, ["clinical.documentation"], True, 12, taken_at=next(t)))
    want["IMG_0007.JPG"] = None
    skin("IMG_0008.JPG", None, 8)
    b = print_sheet(archive, "ZZZ0024")
    _write(folder, "IMG_0009.JPG", _sheet_photo(b, list(CLINICAL), False, 13, taken_at=next(t)))
    want["IMG_0009.JPG"] = "ZZZ0024"
    skin("IMG_0010.JPG", "ZZZ0024", 10)
    skin("IMG_0011.JPG", "ZZZ0024", 11)
    _write(folder, "IMG_0012.JPG", _unreadable_sheet(archive, next(t)))
    want["IMG_0012.JPG"] = None
    skin("IMG_0013.JPG", None, 13)
    c = print_sheet(archive, "ZAC5361", visit_date="2026-11-30")
    for name, seed in (("IMG_0014.JPG", 14), ("IMG_0015.JPG", 15)):
        _write(folder, name, _sheet_photo(c, ["clinical.documentation", "research"], True, seed, taken_at=next(t)))
        want[name] = "ZAC5361"
    skin("IMG_0016.JPG", "ZAC5361", 16)
    skin("IMG_0017.JPG", "ZAC5361", 17)
    return folder, want


def _unreadable_sheet(archive, when: str) -> bytes:
    """A sheet photographed so that its code's finder patterns show but a pen scribble and a
    coffee ring cover most of its data: seen as a code, not readable."""
    import numpy as np
    from PIL import ImageDraw

    from dermarchive.sheets import layout as L

    from .sheet_photos import PX_MM

    page = fill(print_sheet(archive, "ZAC5361"), ["clinical.documentation"], signed=True, seed=21)
    draw = ImageDraw.Draw(page)
    x0, y0, s = L.QR_X * PX_MM, L.QR_Y * PX_MM, L.QR_SIZE * PX_MM
    rng = np.random.default_rng(3)
    for _ in range(500):  # scribbled over the middle of the code, finder patterns left clear
        cx, cy = rng.uniform(0.3, 0.7, 2) * s
        draw.rectangle([x0 + cx, y0 + cy, x0 + cx + 6, y0 + cy + 6], fill=(255, 255, 255))
        cx, cy = rng.uniform(0.3, 0.7, 2) * s
        draw.rectangle([x0 + cx, y0 + cy, x0 + cx + 6, y0 + cy + 6], fill=(0, 0, 0))
    return jpeg(photograph(page, Shot(angle=4, tilt=0.03, light=0.2, blur=0.7, seed=21)), taken_at=when)


def test_clinic_day_sorts_every_photo_to_the_right_patient(archive, clinic_day):
    folder, want = clinic_day
    day = plan_clinic_day(archive, folder)
    got = {e.rel: day.patient_of(e.rel) for e in day.plan.entries}
    assert got == want
    assert [g.nhi for g in day.groups] == ["ZZZ0016", "ZZZ0024", "ZAC5361"]
    assert day.groups[2].sheets == ["IMG_0014.JPG", "IMG_0015.JPG"]  # one sheet photographed twice
    assert "before the first consent sheet" in day.waiting["IMG_0001.JPG"]
    assert "another archive" in day.waiting["IMG_0007.JPG"]
    assert "after a sheet of another archive" in day.waiting["IMG_0008.JPG"]
    assert "cannot be read" in day.waiting["IMG_0012.JPG"]
    assert "could not be read" in day.waiting["IMG_0013.JPG"]
    a, b, c = (g.consent for g in day.groups)
    assert a.ticked == ["clinical.documentation", "clinical.referral", "education"] and a.signed is True
    assert b.ticked == list(CLINICAL) and b.signed is False
    assert c.ticked == ["clinical.documentation", "research"] and c.signed is True
    assert day.entry_json("IMG_0003.JPG")["consent"] == {"ticked": a.ticked, "signed": True, "unclear": []}
    assert day.entry_json("IMG_0008.JPG")["status"] == "needs-patient"


def test_clinic_day_import_puts_photos_in_visits_and_records_only_confirmed_consent(archive, clinic_day):
    folder, want = clinic_day
    day = plan_clinic_day(archive, folder)
    a, b, c = day.groups
    result = import_clinic_day(archive, day, confirmed={a.serial: a.consent, b.serial: b.consent})
    by_patient = {p.nhi: records.images(archive, patient_id=p.id) for p in records.find_patients(archive)}
    for nhi in ("ZZZ0016", "ZZZ0024", "ZAC5361"):
        assert len(by_patient[nhi]) == sum(1 for v in want.values() if v == nhi)
        assert len({i.visit_id for i in by_patient[nhi]}) == 1  # one visit per patient
    forms = [i for i in by_patient["ZZZ0016"] if i.kind == "consent-form"]
    assert len(forms) == 1 and forms[0].visit_date == "2026-11-30"
    # Waiting photos were not imported at all.
    imported = sum(len(v) for v in by_patient.values())
    assert imported == sum(1 for v in want.values() if v)
    ga, gb, gc = result.groups
    # A: confirmed, clear and signed → recorded as a photographed form, audited as read from it.
    version = consent_records.current(archive, ga.visit_id)
    assert version.method == "photographed-form" and version.form_image_id == forms[0].id
    assert sorted(version.scopes) == sorted(a.consent.ticked)
    entry = [e for e in archive.audit.entries(archive.catalogue, action="consent.record")][-1]
    assert entry.details["read_from"] == "consent-sheet" and entry.user == archive.user.name
    # B: confirmed but unsigned → nothing recorded; C: nobody confirmed → nothing recorded.
    assert gb.consent_version is None and "not signed" in gb.consent_note
    assert consent_records.current(archive, gb.visit_id) is None
    assert gc.consent_version is None and consent_records.current(archive, gc.visit_id) is None
    # The sheet photo is never allowed for education, even though education was consented.
    clinical = [i.id for i in by_patient["ZZZ0016"] if i.kind != "consent-form"]
    assert not policy.check(archive, clinical, "education")
    assert policy.check(archive, [forms[0].id], "education")
    # Running the same folder again imports nothing twice and keeps the groups' visits.
    again = import_clinic_day(archive, plan_clinic_day(archive, folder), confirmed={a.serial: a.consent})
    assert not any(o.status == "imported" for g in again.groups for o in g.result.outcomes)
    assert consent_records.current(archive, ga.visit_id).version == version.version


def _label_photo(pdf: bytes, seed: int, when: str) -> bytes:
    """A close-up of a lesion with the sheet's first cut-out lesion label laid beside it."""
    from .sheet_photos import PX_MM, render_page

    cell = render_page(pdf, 1).crop((int(15 * PX_MM), int(20 * PX_MM), int(75 * PX_MM), int(66 * PX_MM)))
    photo = skin_photo(seed, (1600, 1200))
    label = cell.resize((560, 430)).rotate(random.Random(seed).uniform(-20, 20), expand=True, fillcolor=(200, 150, 120))
    photo.paste(label, (80, 60))
    return jpeg(photo, taken_at=when)


def test_a_lesion_label_in_a_photo_files_it_under_that_lesion(archive, patients, tmp_path):
    folder = tmp_path / "phone"
    a = print_sheet(archive, "ZZZ0016", visit_date="2026-11-30", lesions=["L1 left arm"])
    b = print_sheet(archive, "ZZZ0024", lesions=["B1 back"])
    _write(folder, "IMG_1.JPG", _sheet_photo(a, ["clinical.documentation"], True, 31, taken_at="2026-11-30T10:00:00"))
    _write(folder, "IMG_2.JPG", _label_photo(a, 32, "2026-11-30T10:01:00"))
    _write(folder, "IMG_3.JPG", jpeg(skin_photo(33), taken_at="2026-11-30T10:02:00"))
    _write(folder, "IMG_4.JPG", _label_photo(b, 34, "2026-11-30T10:03:00"))  # another sheet's label: ignored
    day = plan_clinic_day(archive, folder)
    assert [g.nhi for g in day.groups] == ["ZZZ0016"]
    assert day.groups[0].photos == ["IMG_2.JPG", "IMG_3.JPG", "IMG_4.JPG"]
    assert day.groups[0].lesions == {"IMG_2.JPG": "L1 left arm"}
    assert day.entry_json("IMG_2.JPG")["lesion"] == "L1 left arm"
    import_clinic_day(archive, day)
    patient = records.patient_by_nhi(archive, "ZZZ0016")
    lesion = records.find_lesion(archive, patient.id, "L1 left arm")
    assert lesion is not None
    with_lesion = [i for i in records.images(archive, patient_id=patient.id) if i.lesion_id == lesion.id]
    assert len(with_lesion) == 1


def test_an_iphone_heic_is_judged_on_its_own_thumbnail(archive, corpus):
    """A real iPhone HEIC carries a 320-px thumbnail: the quick test reads it (a full HEIC decode
    takes seconds); the photo is not a sheet."""
    data = (corpus / "iphone_13_pro_max.HEIC").read_bytes()
    assert paper_share(data) is not None
    assert look(data, archive.archive_id, sheet_key(archive)) is None


def test_a_sheet_printed_before_a_user_was_removed_still_reads(archive):
    """Removing a user makes a new master key (issue 15); sheets already printed and handed to
    patients must still be recognised as this archive's, not as altered."""
    from dermarchive.archive import CHEAP_TEST_PARAMS

    before = SheetCode(archive.archive_id, "ZZZ0016", "2026-11-30", 3)
    text = encode_sheet(before, sheet_key(archive))
    archive.add_user("dr.leaving", "clinician", "a long passphrase for dr leaving 42", kdf=CHEAP_TEST_PARAMS)
    archive.remove_user("dr.leaving")
    assert decode(text, archive.archive_id, sheet_key(archive)) == before
