"""The photo consent sheet as an A4 PDF: the practice's photography consent form with a code.

Page 1 is the form (patient in large type, the code, one tick box per purpose with its one-line
explanation from :mod:`dermarchive.consent.scopes`, signature and date lines, four corner marks).
Page 2, when lesion labels are asked for, holds small labels to cut out and photograph beside a
lesion, each with its own code. Positions come from :mod:`.layout`, which the reader uses too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .. import __version__
from ..consent.scopes import DESCRIPTIONS, LABELS, PURPOSES
from . import layout as L
from .payload import LesionCode, SheetCode, encode_lesion, encode_sheet


@dataclass(frozen=True)
class SheetContent:
    """Everything printed on one sheet (codes already encoded)."""

    patient_name: str
    nhi: str
    dob: str | None
    visit_date: str | None
    serial: int
    code_text: str
    lesion_codes: list[tuple[str, str]] = field(default_factory=list)  # (label, code text)


def qr_modules(text: str) -> Any:
    """The code's module matrix (True = dark), from zxing-cpp's writer (error correction Q:
    a quarter of the symbol may be smudged or glared and it still reads)."""
    import numpy as np
    import zxingcpp

    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def _draw_qr(c: Any, text: str, x_mm: float, y_mm: float, size_mm: float) -> None:
    """The code with its symbol exactly filling the square at (x, y) (mm from the top-left)."""
    from reportlab.lib.units import mm

    modules = qr_modules(text)
    n = modules.shape[0]
    step = size_mm * mm / n
    top = (L.PAGE_H - y_mm) * mm
    left = x_mm * mm
    c.setFillColorRGB(0, 0, 0)
    for row in range(n):
        col = 0
        while col < n:  # one rectangle per run of dark modules: a small, crisp PDF
            if not modules[row, col]:
                col += 1
                continue
            start = col
            while col < n and modules[row, col]:
                col += 1
            c.rect(left + start * step, top - (row + 1) * step, (col - start) * step, step, stroke=0, fill=1)


def _fmt(day: str | None) -> str:
    return date.fromisoformat(day).strftime("%d %b %Y") if day else ""


def render_sheet(content: SheetContent) -> bytes:
    """PDF bytes of the sheet (and its lesion labels page)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    from ..exports.referral_pdf import _RENDER_LOCK, _fold, _letter_fonts

    regular, bold, _italic, unicode_font = _letter_fonts()
    fold = (lambda s: s) if unicode_font else _fold
    H = L.PAGE_H

    def at(y_mm: float) -> float:
        return float((H - y_mm) * mm)

    buf = io.BytesIO()
    with _RENDER_LOCK:
        c = Canvas(buf, pagesize=(L.PAGE_W * mm, H * mm), pageCompression=1)
        c.setTitle("Photo consent sheet")
        c.setAuthor("DermArchive")
        c.setCreator(f"DermArchive {__version__}")
        c.setProducer("DermArchive")
        for cx, cy in L.MARK_CENTRES:
            c.rect((cx - L.MARK_SIZE / 2) * mm, at(cy + L.MARK_SIZE / 2), L.MARK_SIZE * mm, L.MARK_SIZE * mm,
                   stroke=0, fill=1)
        c.setFont(bold, 15)
        c.drawString(L.MARGIN_X * mm, at(30), "Consent to clinical photography")
        c.setFont(bold, 22)
        c.drawString(L.MARGIN_X * mm, at(46), fold(content.patient_name)[:34])
        c.setFont(bold, 20)
        c.drawString(L.MARGIN_X * mm, at(58), f"NHI  {content.nhi}")
        c.setFont(regular, 15)
        c.drawString(L.MARGIN_X * mm, at(68), f"Born  {_fmt(content.dob) or 'not recorded'}")
        if content.visit_date:
            c.drawString(L.MARGIN_X * mm, at(77), f"Visit  {_fmt(content.visit_date)}")
        _draw_qr(c, content.code_text, L.QR_X, L.QR_Y, L.QR_SIZE)
        c.setFont(regular, 7.5)
        c.drawCentredString((L.QR_X + L.QR_SIZE / 2) * mm, at(L.QR_Y + L.QR_SIZE + 8),
                            f"Sheet {content.serial} · photograph this page first")
        c.setFont(regular, 10)
        c.drawString(L.MARGIN_X * mm, at(92), "I agree that photographs of my skin taken today may be used for "
                                              "each purpose I tick below.")
        c.drawString(L.MARGIN_X * mm, at(97.5), "Purposes I do not tick are not allowed. I can withdraw my consent "
                                                "at any time.")
        c.setLineWidth(1.4)
        for scope in PURPOSES:
            box = L.tick_box(scope)
            c.rect(box.x * mm, at(box.y + box.h), box.w * mm, box.h * mm, stroke=1, fill=0)
            c.setFont(bold, 12)
            c.drawString((box.x + box.w + 5) * mm, at(box.y + 3.4), LABELS[scope])
            c.setFont(regular, 9.5)
            c.drawString((box.x + box.w + 5) * mm, at(box.y + 8.2), DESCRIPTIONS[scope])
        c.setLineWidth(0.9)
        c.line(L.SIGNATURE_X0 * mm, at(L.SIGNATURE_LINE_Y), L.SIGNATURE_X1 * mm, at(L.SIGNATURE_LINE_Y))
        c.line(L.DATE_X0 * mm, at(L.SIGNATURE_LINE_Y), L.DATE_X1 * mm, at(L.SIGNATURE_LINE_Y))
        c.setFont(regular, 9)
        c.drawString(L.SIGNATURE_X0 * mm, at(L.SIGNATURE_LINE_Y + 5), "Signature of the patient (or their guardian)")
        c.drawString(L.DATE_X0 * mm, at(L.SIGNATURE_LINE_Y + 5), "Date")
        c.setFont(regular, 7.5)
        c.drawString(L.MARGIN_X * mm, at(262), "Staff: photograph this page before the patient's photos; "
                                               "the archive sorts the photos that follow to this patient.")
        c.drawString(L.MARGIN_X * mm, at(266), "Keep the whole page in the picture, flat and in focus.")
        c.showPage()
        if content.lesion_codes:
            _lesion_page(c, content, fold, regular, bold)
        c.save()
    return buf.getvalue()


def _lesion_page(c: Any, content: SheetContent, fold: Any, regular: str, bold: str) -> None:
    """Cut-out lesion labels: 3 × 5 cells of 60 × 46 mm a page, each with its own small code."""
    from reportlab.lib.units import mm

    cols, rows, cell_w, cell_h, left, top, code = 3, 5, 60.0, 46.0, 15.0, 20.0, 26.0
    for n, (label, text) in enumerate(content.lesion_codes):
        if n and n % (cols * rows) == 0:  # page full: continue on the next
            c.showPage()
        row, col = divmod(n % (cols * rows), cols)
        x, y = left + col * cell_w, top + row * cell_h
        c.setDash(2, 2)
        c.setLineWidth(0.4)
        c.rect(x * mm, (L.PAGE_H - y - cell_h) * mm, cell_w * mm, cell_h * mm, stroke=1, fill=0)
        c.setDash()
        _draw_qr(c, text, x + 4, y + 6, code)
        text, size = fold(label), 11.0
        while size > 7 and c.stringWidth(text, bold, size) > (cell_w - code - 9) * mm:
            size -= 0.5
        while c.stringWidth(text, bold, size) > (cell_w - code - 9) * mm:
            text = text[:-2] + "…"
        c.setFont(bold, size)
        c.drawString((x + code + 7) * mm, (L.PAGE_H - y - 14) * mm, text)
        c.setFont(regular, 7)
        c.drawString((x + code + 7) * mm, (L.PAGE_H - y - 20) * mm, "Lesion label")
        c.drawString((x + code + 7) * mm, (L.PAGE_H - y - 25) * mm, f"sheet {content.serial}")
    c.showPage()


def sheet_content(archive_id: str, key: bytes, *, patient_name: str, nhi: str, dob: str | None,
                  visit_date: str | None, serial: int, lesions: list[str]) -> SheetContent:
    code = encode_sheet(SheetCode(archive_id, nhi, visit_date, serial), key)
    labels = [(label, encode_lesion(LesionCode(archive_id, serial, label), key)) for label in lesions]
    return SheetContent(patient_name, nhi, dob, visit_date, serial, code, labels)
