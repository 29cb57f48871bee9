"""Referral PDF (issue 7): real archives, real corpus photos, the PDF read back with pypdf and
rendered with PDFium.

The import pipeline and the consent API are built side by side with this, so the helpers here
store corpus JPEGs with ``store_blob`` + ``insert_image`` and write consent rows directly.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pillow_heif import register_heif_opener
from pypdf import PdfReader

from dermarchive.archive import records
from dermarchive.archive.archive import Archive
from dermarchive.archive.header import now_iso
from dermarchive.archive.verify import verify
from dermarchive.consent.policy import ConsentRefused
from dermarchive.errors import Cancelled, InvalidInput
from dermarchive.exports import referral

register_heif_opener()  # the helper reads HEIC corpus files to record their size

NHI = "ZZZ0016"
FAMILY, GIVEN = "Te Whāriki", "Mereana"
QUESTION = "Please assess for superficial BCC versus Bowen's disease; excision or topical therapy?"


@dataclass
class Seeded:
    patient_id: int
    lesion_id: int
    visit_id: int
    image_ids: list[int]


def grant(archive: Archive, visit_id: int, scopes: list[str], method: str = "written-signature") -> None:
    """A new consent version for the visit (the consent API is built concurrently)."""
    with archive.transaction() as tx:
        version = (tx.scalar("SELECT max(version) FROM consent WHERE visit_id = ?", (visit_id,)) or 0) + 1
        tx.execute("INSERT INTO consent (visit_id, version, scopes, method, obtained_by, obtained_at, "
                   "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (visit_id, version, json.dumps(scopes), method, "Dr Test", now_iso(), now_iso()))


def store_photo(archive: Archive, tx, path: Path, *, visit_id: int, lesion_id: int | None,
                kind: str = "clinical", taken_at: str | None = "2025-03-12T10:32:00+13:00") -> int:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        orientation = img.getexif().get(0x0112, 1)
        fmt = img.format
    blob = archive.store_blob(tx, data)
    return records.insert_image(archive, tx, visit_id=visit_id, lesion_id=lesion_id, kind=kind, blob_id=blob,
                                width=width, height=height, original_format=fmt, stored_format=fmt,
                                orientation=orientation, taken_at=taken_at,
                                taken_at_source="exif-offset" if taken_at else "unknown")


def seed(archive: Archive, corpus: Path, files: tuple[str, ...] = ("landscape_6.jpg", "iphone_hdr_NO.jpg"),
         *, scopes: tuple[str, ...] = ("clinical.documentation", "clinical.referral"), nhi: str = NHI,
         label: str = "L1") -> Seeded:
    try:
        patient = records.patient_by_nhi(archive, nhi)
    except Exception:  # noqa: BLE001 - first call
        patient = records.add_patient(archive, nhi, FAMILY, GIVEN, "1961-03-14")
    lesion = records.add_lesion(archive, patient.id, label, site="forearm", laterality="left",
                                diagnosis="Superficial BCC vs Bowen's disease",
                                notes="Enlarging over 4 months; bled once after minor trauma.")
    visit = records.add_visit(archive, patient.id, "2025-03-12", clinician="Dr Test")
    with archive.transaction() as tx:
        ids = [store_photo(archive, tx, corpus / f, visit_id=visit, lesion_id=lesion) for f in files]
    if scopes:
        grant(archive, visit, list(scopes))
    return Seeded(patient.id, lesion, visit, ids)


def make(archive: Archive, seeded: Seeded, out: Path, **kw) -> dict:
    args = dict(to="Dr A. Specialist\nDermatology Service, Te Toka Tumai Auckland", question=QUESTION,
                history="Fair skin, outdoor worker. No previous skin cancers.", urgency="soon",
                referrer="Dr Test, GP", out=out)
    args.update(kw)
    return referral.build_referral(archive, seeded.patient_id, **args)


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def embedded_images(reader: PdfReader) -> list:
    return [img for page in reader.pages for img in page.images]


# -- content --------------------------------------------------------------------------------------
def test_letter_has_identifiers_question_and_every_photo(archive, corpus, tmp_path):
    referral.set_letterhead(archive, name="Harbourside Skin Clinic", address="12 Quay St\nAuckland 1010",
                            phone="09 555 0199")
    s = seed(archive, corpus)
    out = tmp_path / "letter.pdf"
    summary = make(archive, s, out)
    assert summary["count"] == 2 and summary["images"] == s.image_ids and not summary["encrypted"]

    reader = PdfReader(out)
    text = text_of(reader)
    for expected in (NHI, FAMILY.upper(), GIVEN, "14 March 1961", "Harbourside Skin Clinic", "09 555 0199",
                     "Dr A. Specialist", "superficial BCC versus Bowen", "outdoor worker", "SOON",
                     "Left forearm", "Superficial BCC vs Bowen's disease", "Fig. 1", "Fig. 2",
                     "12 Mar 2025, 10:32", "CONFIDENTIAL", f"Page 1 of {len(reader.pages)}"):
        assert expected in text, expected
    age = date.today().year - 1961 - ((date.today().month, date.today().day) < (3, 14))
    assert f"age {age}" in text
    assert len(embedded_images(reader)) == 2
    assert summary["pages"] == len(reader.pages)


def test_embedded_photos_carry_no_metadata_and_are_about_200_dpi(archive, corpus, tmp_path):
    # iphone_hdr_NO.jpg is a real iPhone photo with GPS and maker notes in its EXIF.
    s = seed(archive, corpus, ("iphone_hdr_NO.jpg", "HMD_Nokia_8.3_5G.jpg"))
    out = tmp_path / "letter.pdf"
    make(archive, s, out)
    raw = out.read_bytes()
    for marker in (b"Exif\x00\x00", b"Apple", b"iPhone", b"Nokia", b"http://ns.adobe.com/xap"):
        assert marker not in raw, marker
    images = embedded_images(PdfReader(out))
    assert len(images) == 2
    for img in images:
        data = img.data
        assert data[:2] == b"\xff\xd8"  # JPEG passed through
        assert b"Exif" not in data and b"ICC_PROFILE" not in data
        with Image.open(io.BytesIO(data)) as pil:
            assert not pil.getexif()
            # printed at most ~82 mm wide: 200 dpi is about 650 px, far below the 3264 px original
            assert max(pil.size) <= 700
            assert max(pil.size) >= 400


def test_a_comment_left_in_a_stored_photo_never_reaches_the_letter(corpus):
    # Imports strip JPEG comments; a stored copy that still has one (an older import, a restored
    # backup) must not carry it into the PDF: Pillow writes info["comment"] back by default.
    from tests.test_consent_support import with_comment

    planted = "Patient SMITH Jane NHI ZZZ0016"
    data = with_comment((corpus / "landscape_1.jpg").read_bytes(), planted)
    assert Image.open(io.BytesIO(data)).info.get("comment") == planted.encode()
    printed, _pixels, _points = referral.print_photo(data)
    assert planted.encode() not in printed and b"\xff\xfe" not in printed[:printed.find(b"\xff\xda")]
    assert "comment" not in Image.open(io.BytesIO(printed)).info


def test_orientation_applied_for_all_eight_exif_orientations(archive, corpus, tmp_path):
    files = tuple(f"landscape_{n}.jpg" for n in range(1, 9))
    s = seed(archive, corpus, files)
    out = tmp_path / "letter.pdf"
    make(archive, s, out)
    images = embedded_images(PdfReader(out))
    assert len(images) == 8
    decoded = [Image.open(io.BytesIO(i.data)).convert("L") for i in images]
    # same scene, so once upright every one matches orientation 1 (taken in capture order = file order)
    reference = decoded[0]
    assert reference.width > reference.height
    for pic in decoded[1:]:
        assert pic.size == reference.size
        diff = sum(abs(a - b) for a, b in zip(pic.resize((60, 45)).tobytes(), reference.resize((60, 45)).tobytes()))
        assert diff / (60 * 45) < 12, "a photo is mirrored or rotated"


def test_document_properties_carry_no_identifiers(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    out = tmp_path / "letter.pdf"
    make(archive, s, out)
    reader = PdfReader(out)
    info = {k: str(v) for k, v in (reader.metadata or {}).items()}
    assert info["/Title"] == "Clinical referral"
    blob = json.dumps(info) + repr(reader.trailer.get("/ID"))
    for ident in (NHI, FAMILY, GIVEN, "1961", "Whāriki", "Whariki"):
        assert ident not in blob


def test_password_protected_pdf_needs_the_password(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    out = tmp_path / "locked.pdf"
    summary = make(archive, s, out, pdf_password="kiwi-fern-2025")
    assert summary["encrypted"]
    reader = PdfReader(out)
    assert reader.is_encrypted
    assert reader.decrypt("wrong password") == 0
    reader = PdfReader(out)
    assert reader.decrypt("kiwi-fern-2025") != 0
    encrypt = reader.trailer["/Encrypt"].get_object()
    assert (encrypt["/V"], encrypt["/R"]) == (5, 6)  # AES-256, the PDF 2.0 security handler
    assert encrypt["/CF"]["/StdCF"]["/CFM"] == "/AESV3"
    assert out.read_bytes().startswith(b"%PDF-1.7")  # R6 is PDF 2.0 = 1.7 with Adobe extension level 8
    assert reader.trailer["/Root"]["/Extensions"]["/ADBE"]["/ExtensionLevel"] == 8
    assert NHI in text_of(reader)
    assert NHI.encode() not in out.read_bytes()
    info = {k: str(v) for k, v in (reader.metadata or {}).items()}
    assert info["/Title"] == "Clinical referral" and info["/Producer"] == "DermArchive"
    assert not any(ident in json.dumps(info) for ident in (NHI, GIVEN, "1961"))
    assert len(embedded_images(reader)) == 1
    # and PDFium opens it with the password too
    assert referral.render_page_png(out.read_bytes(), password="kiwi-fern-2025")[:4] == b"\x89PNG"


def test_short_pdf_password_is_refused_before_writing(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    out = tmp_path / "x.pdf"
    with pytest.raises(InvalidInput, match="at least 6 characters"):
        make(archive, s, out, pdf_password="abc")
    assert not out.exists()


# -- consent ---------------------------------------------------------------------------------------
def test_refusal_names_each_photo_and_scope_and_writes_nothing(archive, corpus, tmp_path):
    allowed = seed(archive, corpus, ("landscape_1.jpg",))
    unconsented = seed(archive, corpus, ("landscape_2.jpg", "landscape_3.jpg"), scopes=(), label="L2")
    out = tmp_path / "letter.pdf"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConsentRefused) as err:
        make(archive, allowed, out, image_ids=allowed.image_ids + unconsented.image_ids)
    message = str(err.value)
    for image_id in unconsented.image_ids:
        assert f"image {image_id} lacks 'clinical.referral'" in message
    assert f"image {allowed.image_ids[0]} " not in message
    assert "Nothing was written" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no PDF, no temp file
    actions = [e.action for e in archive.audit.entries(archive.catalogue)]
    assert "export.refused" in actions and "export" not in actions


def test_withdrawn_consent_refuses(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    with archive.transaction() as tx:
        tx.execute("UPDATE consent SET withdrawn_at = ?, withdrawn_reason = 'patient asked' WHERE visit_id = ?",
                   (now_iso(), s.visit_id))
    with pytest.raises(ConsentRefused, match="withdrawn"):
        make(archive, s, tmp_path / "x.pdf", image_ids=s.image_ids)
    assert not (tmp_path / "x.pdf").exists()


def test_default_images_are_consented_clinical_and_dermoscopic(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    seed(archive, corpus, ("landscape_2.jpg",), scopes=("clinical.documentation",), label="L2")
    with archive.transaction() as tx:
        derm = store_photo(archive, tx, corpus / "jolla.jpg", visit_id=s.visit_id, lesion_id=s.lesion_id,
                           kind="dermoscopic")
        store_photo(archive, tx, corpus / "landscape_4.jpg", visit_id=s.visit_id, lesion_id=None, kind="other")
    summary = make(archive, s, tmp_path / "d.pdf", image_ids=None)
    assert summary["images"] == sorted([s.image_ids[0], derm])
    assert "Dermoscopic" in text_of(PdfReader(tmp_path / "d.pdf"))


def test_no_consented_photos_is_a_consent_refusal_naming_each_photo(archive, corpus, tmp_path):
    """Issue 14: a consent refusal like any other (the CLI exits 3), not 'invalid input'."""
    from dermarchive.consent.policy import ConsentRefused

    s = seed(archive, corpus, ("landscape_1.jpg",), scopes=())
    with pytest.raises(ConsentRefused, match=f"image {s.image_ids[0]} lacks 'clinical.referral'"):
        make(archive, s, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_photo_of_another_patient_is_refused(archive, corpus, tmp_path):
    mine = seed(archive, corpus, ("landscape_1.jpg",))
    theirs = seed(archive, corpus, ("landscape_2.jpg",), nhi="ZAC5361")
    with pytest.raises(InvalidInput, match=f"Image\\(s\\) {theirs.image_ids[0]} belong to another patient"):
        make(archive, mine, tmp_path / "x.pdf", image_ids=mine.image_ids + theirs.image_ids)


# -- writing and audit -----------------------------------------------------------------------------
def test_audit_entry_has_ids_and_recipient_but_no_identifiers(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    make(archive, s, tmp_path / f"{FAMILY} {NHI}.pdf")
    entry = archive.audit.entries(archive.catalogue, action="export")[-1]
    assert entry.subject == {"patient": s.patient_id, "images": s.image_ids}
    assert entry.details["purpose"] == "clinical.referral"
    assert entry.details["recipient"] == "Dr A. Specialist, Dermatology Service, Te Toka Tumai Auckland"
    dumped = json.dumps(entry.as_json(), ensure_ascii=False)
    for ident in (NHI, FAMILY, GIVEN, "1961-03-14"):
        assert ident not in dumped
    assert verify(archive) == []


def test_overwrites_atomically_and_leaves_no_temp_files(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    out = tmp_path / "letters" / "r.pdf"
    out.parent.mkdir()
    out.write_bytes(b"old letter")
    make(archive, s, out)
    assert out.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in out.parent.iterdir()] == ["r.pdf"]


def test_unwritable_target_is_a_plain_error_and_not_audited(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(InvalidInput, match="not-a-folder is a file, not a folder"):
        make(archive, s, blocker / "sub" / "r.pdf")
    assert archive.audit.entries(archive.catalogue, action="export") == []
    assert verify(archive) == []


def test_cancel_writes_nothing(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg", "landscape_2.jpg"))
    calls = []

    def progress(done, total, message):
        calls.append((done, total))

    with pytest.raises(Cancelled):
        make(archive, s, tmp_path / "x.pdf", progress=progress, cancelled=lambda: len(calls) >= 1)
    assert not (tmp_path / "x.pdf").exists()
    assert calls == [(0, 2)]


@pytest.mark.parametrize("kw, message", [
    ({"to": "  "}, "who the referral is to"),
    ({"question": ""}, "clinical question"),
    ({"urgency": "asap"}, "Urgency must be one of routine, soon, urgent"),
    ({"out": "letter.docx"}, "ending in .pdf"),
])
def test_bad_input_is_named(archive, corpus, tmp_path, kw, message):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    if "out" in kw:
        kw["out"] = tmp_path / kw["out"]
    with pytest.raises(InvalidInput, match=message):
        make(archive, s, tmp_path / "x.pdf", **kw) if "out" not in kw else make(archive, s, **kw)
    assert list(tmp_path.glob("*.pdf")) == [] and list(tmp_path.glob("*.docx")) == []


def test_unreadable_stored_image_is_named(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    with archive.transaction() as tx:
        bad = store_photo(archive, tx, corpus / "truncated_jpeg.jpg", visit_id=s.visit_id, lesion_id=s.lesion_id)
    # truncated_jpeg.jpg decodes partially in Pillow only with LOAD_TRUNCATED_IMAGES; we must not print it
    with pytest.raises(referral.PhotoUnreadable, match=f"Image {bad} cannot be printed"):
        make(archive, s, tmp_path / "x.pdf", image_ids=s.image_ids + [bad])
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize("name, portrait", [("arrow.heic", True), ("sugarshack.mpo", False),
                                             ("clipboard_target.png", False), ("Apple iPhone 4S.jpg", True)])
def test_other_stored_formats_print_upright_as_plain_jpeg(archive, corpus, tmp_path, name, portrait):
    # arrow.heic: iPhone 8 Plus portrait HEIC; Apple iPhone 4S.jpg: landscape pixels with orientation 6
    s = seed(archive, corpus, (name,))
    make(archive, s, tmp_path / "h.pdf")
    (img,) = embedded_images(PdfReader(tmp_path / "h.pdf"))
    with Image.open(io.BytesIO(img.data)) as pil:
        assert pil.format == "JPEG" and not pil.getexif()
        assert (pil.height > pil.width) == portrait


def test_preview_is_page_one_in_memory_and_audits_nothing(archive, corpus, tmp_path, monkeypatch):
    s = seed(archive, corpus, ("landscape_6.jpg", "iphone_hdr_NO.jpg", "jolla.jpg"))
    bad = seed(archive, corpus, ("landscape_2.jpg",), scopes=(), label="L2")
    monkeypatch.chdir(tmp_path)
    before = len(archive.audit.entries(archive.catalogue))
    cache: dict = {}
    fields = dict(to="Dr B", question="Excise?", photo_cache=cache)
    preview = referral.preview_referral(archive, s.patient_id, image_ids=s.image_ids, dpi=40, **fields)
    page = Image.open(io.BytesIO(preview.png))
    assert page.format == "PNG" and abs(page.width - 595.28 * 40 / 72) <= 1
    assert preview.photos == 3 and preview.pages >= 1
    assert sorted(cache) == sorted(s.image_ids)  # the dialog's cache is filled for the next preview
    with pytest.raises(ConsentRefused):
        referral.preview_referral(archive, s.patient_id, image_ids=s.image_ids + bad.image_ids, **fields)
    assert len(archive.audit.entries(archive.catalogue)) == before  # no export, no refusal entry
    assert [p.name for p in tmp_path.iterdir()] == [archive.path.name]  # nothing beside the archive


# -- look ------------------------------------------------------------------------------------------
def test_rendered_first_page_shows_letterhead_band_and_photos(archive, corpus, tmp_path):
    referral.set_letterhead(archive, name="Harbourside Skin Clinic", address="12 Quay St", phone="09 555 0199")
    s = seed(archive, corpus, ("landscape_6.jpg", "iphone_hdr_NO.jpg"))
    out = tmp_path / "look.pdf"
    make(archive, s, out)
    png = referral.render_page_png(out.read_bytes(), 0, dpi=72)
    page = Image.open(io.BytesIO(png)).convert("RGB")
    assert abs(page.width - 595.28) <= 1 and abs(page.height - 841.89) <= 1  # A4
    # the accent rule under the letterhead runs across the page (teal), and the page is not blank
    mid = [page.getpixel((page.width // 2, y)) for y in range(page.height // 5)]
    assert any(b - r > 50 and g - r > 30 for r, g, b in mid)
    colours = page.resize((40, 56)).getcolors(40 * 56)
    assert colours is not None and len(colours) > 50  # photographs, not just text on white


def test_macrons_survive_into_the_pdf_text(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    make(archive, s, tmp_path / "m.pdf")
    assert "TE WHĀRIKI" in text_of(PdfReader(tmp_path / "m.pdf"))


def test_png_with_orientation_tag_prints_upright_without_distortion(corpus):
    # The importer stores PNG/TIFF/WebP as PNG with an allow-list EXIF that keeps Orientation.
    with Image.open(corpus / "landscape_6.jpg") as src:  # 450x600 pixels, orientation 6
        exif = src.getexif()
        buf = io.BytesIO()
        src.save(buf, "PNG", exif=exif.tobytes())
    jpeg, pixels, size_pt = referral.print_photo(buf.getvalue())
    assert pixels[0] > pixels[1] and abs(pixels[0] / pixels[1] - 600 / 450) < 0.02
    assert abs(size_pt[0] / size_pt[1] - 600 / 450) < 0.01
    with Image.open(corpus / "landscape_1.jpg") as ref, Image.open(io.BytesIO(jpeg)) as got:
        a = ref.convert("L").resize((60, 45)).tobytes()
        b = got.convert("L").resize((60, 45)).tobytes()
    assert sum(abs(x - y) for x, y in zip(a, b)) / len(a) < 12


def test_without_a_unicode_font_macrons_fold_to_plain_letters(archive, corpus, tmp_path, monkeypatch):
    from dermarchive.exports import referral_pdf

    monkeypatch.setattr(referral_pdf, "_fonts", ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", False))
    s = seed(archive, corpus, ("landscape_1.jpg",))
    make(archive, s, tmp_path / "h.pdf", question="Tāmati's lesion — excise?")
    text = text_of(PdfReader(tmp_path / "h.pdf"))
    assert "TE WHARIKI" in text and "Tamati's lesion — excise?" in text


def test_referrer_defaults_to_how_this_user_signed_last_time(archive, corpus, tmp_path):
    s = seed(archive, corpus, ("landscape_1.jpg",))
    assert referral.default_referrer(archive) == archive.user.name
    make(archive, s, tmp_path / "a.pdf", referrer="Dr Jane Smith, GP")
    assert referral.default_referrer(archive) == "Dr Jane Smith, GP"
    make(archive, s, tmp_path / "b.pdf", referrer=None)
    assert "Referred by Dr Jane Smith, GP" in text_of(PdfReader(tmp_path / "b.pdf"))


def test_core_and_cli_do_not_import_qt():
    code = ("import sys; sys.modules['PySide6'] = None; "
            "import dermarchive.exports.referral, dermarchive.cli.referral; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_letterhead_setting_round_trips(archive):
    assert referral.letterhead(archive).is_empty
    referral.set_letterhead(archive, name=" Harbourside ", address="1 Quay St\n\n Auckland ", phone="09 555")
    referral.set_letterhead(archive, phone="09 556")
    lh = referral.letterhead(archive)
    assert (lh.name, lh.address, lh.phone) == ("Harbourside", "1 Quay St\nAuckland", "09 556")
    assert archive.setting(referral.LETTERHEAD_KEY)["name"] == "Harbourside"


def test_letterhead_changes_are_audited_by_part_and_saving_unchanged_records_nothing(archive):
    referral.set_letterhead(archive, name="Harbourside", phone="09 555")
    referral.set_letterhead(archive, phone="09 556")
    referral.set_letterhead(archive, name="Harbourside", phone="09 556")  # saved again, unchanged
    entries = archive.audit.entries(archive.catalogue, action="settings.letterhead")
    assert [e.details["changed"] for e in entries] == [["name", "phone"], ["phone"]]
    assert all("Harbourside" not in json.dumps(e.details) for e in entries)
    assert archive.audit.verify(archive.catalogue) == []
