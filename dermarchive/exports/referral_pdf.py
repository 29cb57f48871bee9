"""The referral letter's pure half: what a letter says, photos prepared for print, and the
PDF layout (reportlab Platypus), rendering, page previews and password protection.

Nothing here touches the archive or the disk: :func:`render_letter` takes a
:class:`ReferralLetter` and returns PDF bytes, so the dialog previews exactly what is saved.
Gathering a letter from the archive, the consent check, the audit and the atomic write are in
:mod:`.referral` (which re-exports these names).
"""

from __future__ import annotations

import functools
import io
import os
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any
from html import escape as _html_escape

from .. import __version__, log
from ..errors import DermArchiveError, InvalidInput

URGENCIES = {"routine": "Routine", "soon": "Soon", "urgent": "Urgent"}
PRINT_DPI = 200
MIN_PASSWORD = 6
# Decoders allowed for stored images (DESIGN §2: Pillow opens only an allow-list). MPO files open
# through the JPEG decoder (first frame).
_FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "WEBP", "HEIF")


class PhotoUnreadable(DermArchiveError):
    pass


@dataclass(frozen=True)
class Letterhead:
    name: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.address or self.phone or self.email)

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address, "phone": self.phone, "email": self.email}


# -- what the letter says ----------------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    """One photo as printed: metadata-free JPEG, its pixel size, and its printed size in points."""

    image_id: int
    jpeg: bytes
    pixels: tuple[int, int]
    size_pt: tuple[float, float]
    caption: str
    figure: int = 0


@dataclass(frozen=True)
class LesionSection:
    title: str          # "L1 · Left forearm", or "Other photographs"
    diagnosis: str
    notes: str
    photos: tuple[Photo, ...]


@dataclass(frozen=True)
class MapPin:
    """A referred lesion's place on the body map (fractions of the figure box, archive/bodymap.py)."""

    label: str
    view: str
    x: float
    y: float


@dataclass(frozen=True)
class ReferralLetter:
    letterhead: Letterhead
    letter_date: date
    to: str
    referrer: str
    urgency: str
    nhi: str
    patient_name: str
    dob: str | None
    age: int | None
    question: str
    history: str
    sections: tuple[LesionSection, ...] = ()
    map_pins: tuple[MapPin, ...] = ()  # the referred lesions that have a pin on the body map

    @property
    def photo_count(self) -> int:
        return sum(len(s.photos) for s in self.sections)


@dataclass
class Rendered:
    pdf: bytes
    pages: int


@dataclass
class ReferralPreview:
    png: bytes
    pages: int
    photos: int


# -- photos ------------------------------------------------------------------------------------
# Printed photo boxes: two to a row across the text frame (see the layout below).
PAGE_W, PAGE_H = 595.2756, 841.8898  # A4 in points
MARGIN = 54.0
TOP, BOTTOM = 50.0, 58.0
FRAME_W = PAGE_W - 2 * MARGIN
GUTTER = 14.0
PHOTO_BOX = ((FRAME_W - GUTTER) / 2 - 4, 205.0)

@functools.lru_cache(maxsize=16)
def _srgb_transform(icc: bytes, mode: str) -> Any:
    """A cached transform from an embedded ICC profile to sRGB; None for a profile lcms rejects."""
    from PIL import ImageCms

    try:
        return ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                                       mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None  # a broken profile: print the pixels as they are


def _fit(upright: tuple[int, int], box: tuple[float, float], dpi: int) -> tuple[tuple[float, float], tuple[int, int]]:
    """Printed size (points) of an upright picture fitted into ``box``, and its pixels at ``dpi``
    (never more than it has)."""
    scale = min(box[0] / upright[0], box[1] / upright[1])
    size_pt = (upright[0] * scale, upright[1] * scale)
    want = (max(1, min(upright[0], round(size_pt[0] / 72 * dpi))),
            max(1, min(upright[1], round(size_pt[1] / 72 * dpi))))
    return size_pt, want


def print_photo(data: bytes, box: tuple[float, float] = PHOTO_BOX,
                dpi: int = PRINT_DPI, orientation: int = 1) -> tuple[bytes, tuple[int, int], tuple[float, float]]:
    """Stored image bytes → (JPEG without metadata, pixel size, printed size in points).

    Upright (the one orientation rule of :mod:`dermarchive.ingest.picture`; ``orientation`` is the
    catalogue's value, used when the file states none), sRGB, fitted into ``box`` points and
    sampled at ``dpi`` (never upsampled; a JPEG is draft-decoded near that size, so a 200 MP photo
    is never decoded in full). Raises :class:`PhotoUnreadable` for data that cannot be decoded.
    """
    from PIL import Image, ImageCms

    from ..ingest.picture import PictureError, decode_upright, open_picture, orientation_of, upright_size

    try:
        with open_picture(data, _FORMATS) as probe:
            turn = orientation_of(probe, orientation)
            size_pt, want = _fit(upright_size(probe.size, turn), box, dpi)
        decoded = decode_upright(data, recorded=orientation, max_side=max(want), formats=_FORMATS)
        out = decoded.image
        if out.mode in ("RGBA", "LA", "PA") or (out.mode == "P" and "transparency" in out.info):
            rgba = out.convert("RGBA")
            out = Image.new("RGB", rgba.size, "white")
            out.paste(rgba, mask=rgba.getchannel("A"))
        if out.mode not in ("RGB", "CMYK"):
            out = out.convert("RGB")
        if out.size != want:
            out = out.resize(want, Image.Resampling.LANCZOS, reducing_gap=2.0)
        # Colour: to sRGB after resizing (fewer pixels); phones write Display P3 profiles.
        to_srgb = _srgb_transform(decoded.icc, out.mode) if decoded.icc else None
        out = ImageCms.applyTransform(out, to_srgb) if to_srgb is not None else out
        if out.mode != "RGB":
            out = out.convert("RGB")
        out.info = {}  # Pillow writes some info keys by default (a JPEG "comment", "dpi"…)
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=86, optimize=True)  # no exif=, no icc_profile=: no metadata
        return buf.getvalue(), out.size, size_pt
    except PictureError as exc:
        raise PhotoUnreadable(str(exc)) from None
    except (OSError, ValueError, SyntaxError, MemoryError):
        raise PhotoUnreadable("its picture data is damaged and cannot be decoded") from None


# -- layout (pure) -----------------------------------------------------------------------------
INK = "#1d2b36"
ACCENT = "#0f5e73"
MUTED = "#5b6b75"
RULE = "#c9d5db"
PANEL = "#eef4f6"
URGENCY_COLOURS = {"routine": "#4d6b7a", "soon": "#b26a00", "urgent": "#b3261e"}

# TrueType families with Latin Extended-A (Māori macrons); first found wins. Helvetica is the
# last resort, and then text is folded to what its WinAnsi encoding can show (ā → a).
_FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Italic.ttf"),
    (os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts", "arial.ttf"),
     os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts", "arialbd.ttf"),
     os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts", "ariali.ttf")),
    ("/System/Library/Fonts/Supplemental/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
     "/System/Library/Fonts/Supplemental/Arial Italic.ttf"),
)
_fonts: tuple[str, str, str, bool] | None = None
_RENDER_LOCK = threading.RLock()


def _letter_fonts() -> tuple[str, str, str, bool]:
    """(regular, bold, italic, unicode) font names, registered once."""
    global _fonts
    with _RENDER_LOCK:
        if _fonts is None:
            _fonts = _register_fonts()
    return _fonts


def _register_fonts() -> tuple[str, str, str, bool]:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    extra = os.environ.get("DERMARCHIVE_LETTER_FONTS")  # "regular.ttf:bold.ttf:italic.ttf"
    candidates = ((tuple(extra.split(os.pathsep)),) if extra else ()) + _FONT_CANDIDATES
    for regular, bold, italic in candidates:
        if not (os.path.exists(regular) and os.path.exists(bold)):
            continue
        try:
            pdfmetrics.registerFont(TTFont("Letter", regular))
            pdfmetrics.registerFont(TTFont("Letter-Bold", bold))
            pdfmetrics.registerFont(TTFont("Letter-Italic", italic if os.path.exists(italic) else regular))
        except Exception:  # noqa: BLE001 - an unreadable font file: try the next
            continue
        addMapping("Letter", 0, 0, "Letter")
        addMapping("Letter", 1, 0, "Letter-Bold")
        addMapping("Letter", 0, 1, "Letter-Italic")
        addMapping("Letter", 1, 1, "Letter-Bold")
        return ("Letter", "Letter-Bold", "Letter-Italic", True)
    log.exports.warning("no Unicode TrueType font found; the referral uses Helvetica")
    return ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", False)


def _fold(text: str) -> str:
    """For Helvetica only: characters outside Latin-1 become their base letter (ā → a)."""
    out = []
    for ch in text:
        if ord(ch) < 256 or ch in "–—‘’“”•…€":
            out.append(ch)
        else:
            out.append("".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 256) or "?")
    return "".join(out)


def _para_text(text: str, unicode_font: bool) -> str:
    text = text if unicode_font else _fold(text)
    # &, < and > as xml.sax.saxutils.escape does, without its import of urllib, http and ssl
    # (this module is imported by every command's start-up, for the referral urgencies)
    return "<br/>".join(_html_escape(line, quote=False) for line in text.strip().splitlines())


def _styles(fonts: tuple[str, str, str, bool]) -> dict[str, Any]:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    regular, bold, italic, _ = fonts
    base = ParagraphStyle("body", fontName=regular, fontSize=9.6, leading=13.4, textColor=HexColor(INK))
    return {
        "body": base,
        "practice": ParagraphStyle("practice", base, fontName=bold, fontSize=15, leading=18,
                                   textColor=HexColor(ACCENT)),
        "contact": ParagraphStyle("contact", base, fontSize=8.4, leading=11, alignment=TA_RIGHT,
                                  textColor=HexColor(MUTED)),
        "title": ParagraphStyle("title", base, fontName=bold, fontSize=17, leading=21),
        "label": ParagraphStyle("label", base, fontName=bold, fontSize=8, leading=13.4,
                                textColor=HexColor(MUTED)),
        "value": base,
        "strong": ParagraphStyle("strong", base, fontName=bold),
        "h2": ParagraphStyle("h2", base, fontName=bold, fontSize=11.5, leading=15, spaceBefore=12,
                             spaceAfter=4, textColor=HexColor(ACCENT), keepWithNext=1),
        "h3": ParagraphStyle("h3", base, fontName=bold, fontSize=10.4, leading=14, spaceBefore=8,
                             spaceAfter=2, keepWithNext=1),
        "caption": ParagraphStyle("caption", base, fontName=italic, fontSize=7.8, leading=10,
                                  textColor=HexColor(MUTED)),
        "badge": ParagraphStyle("badge", base, fontName=bold, fontSize=9.5, leading=12,
                                textColor=HexColor("#ffffff"), alignment=1),
    }


def _fmt_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


MAP_FIGURE_H = 150.0  # points: a small map, two figures side by side


def body_map_drawing(pins: tuple[MapPin, ...]) -> Any:
    """Front and back figures drawn from the body map's geometry (the same polygons as the
    app's SVGs), with a labelled pin per referred lesion."""
    from reportlab.graphics.shapes import Circle, Drawing, Polygon, String
    from reportlab.lib.colors import HexColor

    from ..archive import bodymap

    scale = MAP_FIGURE_H / bodymap.HEIGHT
    fig_w = bodymap.WIDTH * scale
    gap, top = 40.0, 14.0
    drawing = Drawing(2 * fig_w + gap, MAP_FIGURE_H + top)
    origin = {"front": 0.0, "back": fig_w + gap}

    def at(view: str, x: float, y: float) -> tuple[float, float]:  # box units → points, y up
        return origin[view] + x * scale, MAP_FIGURE_H - y * scale

    for view, caption in (("front", "Front"), ("back", "Back")):
        for region in bodymap.regions(view):
            pts = [c for x, y in region.points for c in at(view, x, y)]
            drawing.add(Polygon(pts, fillColor=HexColor(bodymap.FILL), strokeColor=HexColor(bodymap.STROKE),
                                strokeWidth=0.4))
        drawing.add(String(origin[view] + fig_w / 2, MAP_FIGURE_H + 4, caption, fontSize=8,
                           textAnchor="middle", fillColor=HexColor("#333333")))
        right, left = ("R", "L") if view == "front" else ("L", "R")
        drawing.add(String(origin[view], 2, right, fontSize=6, fillColor=HexColor("#555555")))
        drawing.add(String(origin[view] + fig_w, 2, left, fontSize=6, textAnchor="end",
                           fillColor=HexColor("#555555")))
    for pin in pins:
        cx, cy = at(pin.view, pin.x * bodymap.WIDTH, pin.y * bodymap.HEIGHT)
        drawing.add(Circle(cx, cy, 3.2, fillColor=HexColor("#b3261e"), strokeColor=HexColor("#ffffff"),
                           strokeWidth=0.8))
        drawing.add(String(cx + 4.5, cy - 2.5, pin.label, fontSize=7, fillColor=HexColor("#111111")))
    return drawing


def layout_story(letter: ReferralLetter) -> list[Any]:
    """The letter as Platypus flowables (pure: no archive, no disk)."""
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import HRFlowable, Image, KeepTogether, Paragraph, Spacer, Table, TableStyle

    fonts = _letter_fonts()
    st = _styles(fonts)

    def para(text: str, style: str = "body") -> Any:
        return Paragraph(_para_text(text, fonts[3]), st[style])

    story: list[Any] = []
    lh = letter.letterhead
    contact = [lh.address, f"Phone {lh.phone}" if lh.phone else "", lh.email]
    if not lh.is_empty:  # no letterhead set: the letter starts with its title
        head = Table([[para(lh.name, "practice"), para("\n".join(c for c in contact if c), "contact")]],
                     colWidths=[FRAME_W * 0.55, FRAME_W * 0.45])
        head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                  ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
        story += [head, Spacer(1, 6)]
    story += [HRFlowable(width="100%", thickness=1.6, color=HexColor(ACCENT)), Spacer(1, 14)]

    badge = Table([[Paragraph(URGENCIES[letter.urgency].upper(), st["badge"])]], colWidths=[78])
    badge.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), HexColor(URGENCY_COLOURS[letter.urgency])),
                               ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
    title = Table([[Paragraph("Dermatology referral", st["title"]), badge]], colWidths=[FRAME_W - 80, 80])
    title.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story += [title, Spacer(1, 10)]

    rows = [("Date", _fmt_date(letter.letter_date)), ("To", letter.to), ("From", letter.referrer)]
    meta = Table([[para(k.upper(), "label"), para(v)] for k, v in rows], colWidths=[70, FRAME_W - 70])
    meta.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    story += [meta, Spacer(1, 12)]

    born = "not recorded"
    if letter.dob:
        born = _fmt_date(date.fromisoformat(letter.dob)) + (f" (age {letter.age})" if letter.age is not None else "")
    name_w, nhi_w = FRAME_W * 0.44, FRAME_W * 0.2
    patient = Table([[para("PATIENT", "label"), para("NHI", "label"), para("DATE OF BIRTH", "label")],
                     [para(letter.patient_name, "strong"), para(letter.nhi, "strong"), para(born)]],
                    colWidths=[name_w, nhi_w, FRAME_W - name_w - nhi_w])
    patient.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), HexColor(PANEL)),
                                 ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                 ("LEFTPADDING", (0, 0), (-1, -1), 10), ("TOPPADDING", (0, 0), (-1, 0), 6),
                                 ("BOTTOMPADDING", (0, 0), (-1, 0), 0), ("TOPPADDING", (0, 1), (-1, 1), 0),
                                 ("BOTTOMPADDING", (0, -1), (-1, -1), 8),
                                 ("LINEBEFORE", (0, 0), (0, -1), 3, HexColor(ACCENT))]))
    story += [patient]

    story += [Paragraph("Clinical question", st["h2"]), para(letter.question)]
    if letter.history:
        story += [Paragraph("History and findings", st["h2"]), para(letter.history)]

    sign = f"Referred by {letter.referrer}"
    if lh.name:
        sign += f", {lh.name}"
    if lh.phone:
        sign += f". Questions about this referral: phone {lh.phone.replace(' ', chr(0xA0))}"
    story += [Spacer(1, 12), para(sign + ".")]

    # The section heading travels with the first lesion, so it never ends a page on its own.
    intro: list[Any] = []
    if letter.sections:
        n = letter.photo_count
        intro = [Paragraph("Lesions and photographs", st["h2"]),
                 para(f"{n} photograph{'s' if n != 1 else ''}, shown upright; figure numbers below.")]
    if letter.map_pins:
        story.append(KeepTogether(intro + [Spacer(1, 4), body_map_drawing(letter.map_pins), Spacer(1, 6)]))
        intro = []
    for section in letter.sections:
        block: list[Any] = intro + [Paragraph(_para_text(section.title, fonts[3]), st["h3"])]
        intro = []
        facts = [("Diagnosis / differential", section.diagnosis), ("Notes", section.notes)]
        facts = [(k, v) for k, v in facts if v.strip()]
        if facts:
            ft = Table([[para(k.upper(), "label"), para(v)] for k, v in facts], colWidths=[130, FRAME_W - 130])
            ft.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
            block += [ft]
        block.append(Spacer(1, 6))
        cells = []
        for photo in section.photos:
            picture = Image(io.BytesIO(photo.jpeg), width=photo.size_pt[0], height=photo.size_pt[1])
            cells.append([picture, Spacer(1, 3),
                          Paragraph(f"<b>Fig. {photo.figure}</b>  " + _para_text(photo.caption, fonts[3]),
                                    st["caption"])])
        col = (FRAME_W - GUTTER) / 2
        rows2 = [cells[i:i + 2] + ([""] if len(cells[i:i + 2]) == 1 else []) for i in range(0, len(cells), 2)]
        for r, row in enumerate(rows2):
            t = Table([row], colWidths=[col + GUTTER / 2, col + GUTTER / 2])
            t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), GUTTER / 2),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
            if r == 0:
                story.append(KeepTogether(block + [t]))
            else:
                story.append(t)
        if not rows2:
            story.append(KeepTogether(block))

    return story


def render_letter(letter: ReferralLetter) -> Rendered:
    """PDF bytes of the letter, with neutral document properties and 'Page x of y'."""
    from reportlab import rl_config
    from reportlab.lib.colors import HexColor
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    fonts = _letter_fonts()
    fold = (lambda s: s) if fonts[3] else _fold
    running = fold(f"{letter.patient_name} · NHI {letter.nhi}")

    class NumberedCanvas(Canvas):
        """Keeps each page until the end so the footer can say 'Page x of y'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            self.saveState()
            self.setStrokeColor(HexColor(RULE))
            self.setLineWidth(0.6)
            self.line(MARGIN, 40, PAGE_W - MARGIN, 40)
            self.setFillColor(HexColor(MUTED))
            self.setFont(fonts[1], 7.2)
            self.drawString(MARGIN, 29, "CONFIDENTIAL CLINICAL INFORMATION")
            self.setFont(fonts[0], 7.2)
            self.drawString(MARGIN, 20, "For the addressee's clinical use only. If you received this in error, "
                                        "tell the sender and destroy it.")
            self.drawRightString(PAGE_W - MARGIN, 29, f"Page {number} of {total}")
            self.drawRightString(PAGE_W - MARGIN, 20, running)
            if number > 1:
                self.setFont(fonts[1], 8)
                self.drawString(MARGIN, PAGE_H - 32, "Dermatology referral (continued)")
                self.setFont(fonts[0], 8)
                self.drawRightString(PAGE_W - MARGIN, PAGE_H - 32, running)
                self.line(MARGIN, PAGE_H - 38, PAGE_W - MARGIN, PAGE_H - 38)
            self.restoreState()

    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf, pagesize=(PAGE_W, PAGE_H), leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP, bottomMargin=BOTTOM,
        title="Clinical referral", author="DermArchive", subject="Clinical referral letter",
        creator=f"DermArchive {__version__}", producer="DermArchive", keywords=[], lang="en-NZ")
    frame = Frame(MARGIN, BOTTOM, FRAME_W, PAGE_H - TOP - BOTTOM, leftPadding=0, rightPadding=0, topPadding=0,
                  bottomPadding=0, id="body")
    doc.addPageTemplates([PageTemplate(id="letter", frames=[frame])])
    # Binary streams: ASCII85 (reportlab's default) makes photos 25 % bigger and, without its C
    # accelerator, takes longer than everything else together.
    with _RENDER_LOCK:  # reportlab keeps global state (fonts, rl_config): one build at a time
        saved_a85, rl_config.useA85 = rl_config.useA85, 0
        try:
            doc.build(layout_story(letter), canvasmaker=NumberedCanvas)
        finally:
            rl_config.useA85 = saved_a85
    return Rendered(buf.getvalue(), doc.page)


def render_page_png(pdf: bytes, page: int = 0, *, dpi: int = 96, password: str | None = None) -> bytes:
    """One page of a PDF as PNG bytes, rendered in memory by PDFium (for the dialog's preview)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf, password=password)
    try:
        pdf_page = doc[page]
        bitmap = pdf_page.render(scale=dpi / 72)
        try:
            buf = io.BytesIO()
            bitmap.to_pil().save(buf, "PNG")
            return buf.getvalue()
        finally:  # PDFium's native buffers go now, not whenever the collector gets to them
            bitmap.close()
            pdf_page.close()
    finally:
        doc.close()


def encrypt_pdf(pdf: bytes, password: str) -> bytes:
    """AES-256 (security handler revision 6) with pypdf, in memory."""
    from pypdf import PdfReader, PdfWriter

    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The PDF password must be at least {MIN_PASSWORD} characters.")
    from pypdf.generic import DictionaryObject, NameObject, NumberObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Producer": "DermArchive"})
    writer.encrypt(user_password=password, owner_password=None, algorithm="AES-256")
    # AES-256 (revision 6) is PDF 2.0, known to PDF 1.7 readers as Adobe extension level 8.
    writer.pdf_header = "%PDF-1.7"
    writer._root_object[NameObject("/Extensions")] = DictionaryObject({
        NameObject("/ADBE"): DictionaryObject({NameObject("/BaseVersion"): NameObject("/1.7"),
                                               NameObject("/ExtensionLevel"): NumberObject(8)})})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
