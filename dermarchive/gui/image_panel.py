"""Side panel: the selected photo's metadata and, at a glance, what its consent allows.

Scopes come from the consent policy (``policy.image_scopes``), the one place that decides; the
consent method and withdrawal from the visit's current consent version.

A photo whose stored copy is damaged says so at the top, in plain words with the remedy: what
this session found (a thumbnail or the photo that would not decrypt, from
:data:`~dermarchive.gui.thumbnails.damage`) plus a quick look at its files (missing or
wrong-sized; one ``stat`` each, no decryption). The panel updates when damage is found while
it shows that photo.

Dermoscopic photos get a short line of how they were taken ("Dermoscopy: polarised, contact,
10×") and a "Dermoscopy settings…" button that opens
:class:`~dermarchive.gui.dermoscopy_dialog.DermoscopyDialog` for the selected dermoscopic photos;
the panel shows the new values when it is saved.
"""

from __future__ import annotations

import html
from typing import Any

import shiboken6

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..archive import records
from ..consent import policy
from ..consent import records as consent_records
from ..consent.scopes import LABELS, METHOD_LABELS, PURPOSES
from ..errors import DermArchiveError
from ..archive import dicom_store
from . import messages
from .dermoscopy_dialog import DermoscopyDialog, describe
from .thumbnails import damage, damage_problem, damaged_advice, damaged_message
from .timeline import KIND_TAGS, nice_date, nice_time

PARTS = (("photo", "blob_id"), ("screen copy", "preview_blob_id"), ("thumbnail", "thumb_blob_id"))


class ImagePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imagePanel")
        self.details = QLabel(self)
        self.details.setObjectName("imageDetails")
        self.consent = QLabel(self)
        self.consent.setObjectName("consentScopes")
        self.damage = QLabel(self)  # plain words when the stored copy is damaged, else hidden
        self.damage.setObjectName("damageNotice")
        self.damage.setStyleSheet("QLabel#damageNotice { color: #a23b2a; background: #fbecea;"
                                  " border: 1px solid #e3b4ae; border-radius: 4px; padding: 6px; }")
        for label in (self.details, self.consent, self.damage):
            label.setTextFormat(Qt.TextFormat.PlainText if label is self.damage else Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.damage.hide()
        # Dermoscopic photos: how they were taken, and a button to change it
        self.dermoscopy = QWidget(self)
        self.dermoscopy.setObjectName("dermoscopySection")
        self.dermoscopy_line = QLabel(self.dermoscopy)
        self.dermoscopy_line.setObjectName("dermoscopyLine")
        self.dermoscopy_line.setTextFormat(Qt.TextFormat.PlainText)
        self.dermoscopy_line.setWordWrap(True)
        self.dermoscopy_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dermoscopy_button = QPushButton("Dermoscopy settings…", self.dermoscopy)
        self.dermoscopy_button.setObjectName("dermoscopyButton")
        self.dermoscopy_button.setToolTip("Light, contact, immersion medium and magnification of the selected "
                                          "dermoscopic photos (used when they are sent as DICOM)")
        self.dermoscopy_button.clicked.connect(self.edit_dermoscopy)
        section = QVBoxLayout(self.dermoscopy)
        section.setContentsMargins(0, 2, 0, 4)
        section.setSpacing(6)
        section.addWidget(self.dermoscopy_line)
        row = QHBoxLayout()
        row.addWidget(self.dermoscopy_button)
        row.addStretch(1)
        section.addLayout(row)
        self.dermoscopy_dialog: DermoscopyDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.damage)
        layout.addWidget(self.details)
        layout.addWidget(self.dermoscopy)
        layout.addWidget(self.consent)
        layout.addStretch(1)
        self.allowed: frozenset[str] = frozenset()
        self._shown: tuple[Any, list[records.ImageRecord], dict[int, records.Lesion]] | None = None
        damage.found.connect(self._damage_found)
        self.clear()

    def clear(self, hint: str = "Select a photo to see its details and what its consent allows.") -> None:
        self.details.setText(f"<p style='color:#5c6770'>{html.escape(hint)}</p>")
        self.consent.clear()
        self.damage.clear()
        self.damage.hide()
        self.dermoscopy_line.clear()
        self.dermoscopy.hide()
        self.allowed = frozenset()
        self._shown = None

    def show_images(self, archive: Any, images: list[records.ImageRecord],
                    lesions: dict[int, records.Lesion]) -> None:
        if not images:
            self.clear()
            return
        self._shown = (archive, list(images), lesions)
        self._show_damage(archive, images)
        scopes = policy.image_scopes(archive, [i.id for i in images])
        common = frozenset.intersection(*(scopes.get(i.id, frozenset()) for i in images))
        self.allowed = common
        if len(images) == 1:
            image = images[0]
            self.details.setText(_details_html(image, lesions.get(image.lesion_id or -1)))
            current = consent_records.current(archive, image.visit_id)
            self.consent.setText(_consent_html(current, common, image.kind))
        else:
            self.details.setText(f"<h3>{len(images)} photos selected</h3>"
                                 "<p>Consent below is what <b>all</b> of them allow.</p>")
            self.consent.setText(_consent_html(None, common, None, heading_only=True))
        self._show_dermoscopy(archive, images)

    def _show_damage(self, archive: Any, images: list[records.ImageRecord]) -> None:
        if len(images) == 1:
            problems = damage_of(archive, images[0])
            text = damaged_message("; ".join(_phrase(part, problem) for part, problem in problems.items())) \
                if problems else ""
        else:
            n = sum(1 for image in images if damage_of(archive, image, look=False))
            text = (f"{n} of these photos {'has' if n == 1 else 'have'} a damaged stored copy. "
                    f"{damaged_advice(several=True)}" if n else "")
        self.damage.setText(text)
        self.damage.setVisible(bool(text))

    def dermoscopic_ids(self) -> list[int]:
        """The shown photos that are dermoscopic (what "Dermoscopy settings…" changes)."""
        return [i.id for i in self._shown[1] if i.kind == "dermoscopic"] if self._shown else []

    def _show_dermoscopy(self, archive: Any, images: list[records.ImageRecord]) -> None:
        ids = [i.id for i in images if i.kind == "dermoscopic"]
        if not ids:
            self.dermoscopy_line.clear()
            self.dermoscopy.hide()
            return
        settings = {describe(dicom_store.dermoscopy_of(archive, image_id)) for image_id in ids}
        which = "" if len(images) == 1 else \
            f" ({len(ids)} photos)" if len(ids) == len(images) else f" ({len(ids)} of {len(images)} photos)"
        self.dermoscopy_line.setText(f"Dermoscopy{which}: {settings.pop()}" if len(settings) == 1
                                     else f"Dermoscopy{which}: settings differ")
        self.dermoscopy_button.setEnabled(getattr(archive, "is_open", False))
        self.dermoscopy.show()

    def dermoscopy_text(self) -> str:
        """The dermoscopy line ("" when no dermoscopic photo is shown)."""
        return self.dermoscopy_line.text() if not self.dermoscopy.isHidden() else ""

    def edit_dermoscopy(self) -> None:
        """Open the settings of the shown dermoscopic photos; the panel refreshes when saved."""
        ids = self.dermoscopic_ids()
        if self._shown is None or not ids or not getattr(self._shown[0], "is_open", False):
            return
        archive, images, _lesions = self._shown
        try:
            dialog = DermoscopyDialog(archive, ids, self.window(), skipped=len(images) - len(ids))
        except DermArchiveError as exc:
            messages.show_error(self, exc, "Dermoscopy settings")
            return
        if self.dermoscopy_dialog is not None and shiboken6.isValid(self.dermoscopy_dialog):
            self.dermoscopy_dialog.deleteLater()  # the one opened before, closed by now
        self.dermoscopy_dialog = dialog
        dialog.accepted.connect(lambda: self._refresh_dermoscopy(archive, ids))
        dialog.open()

    def _refresh_dermoscopy(self, archive: Any, ids: list[int]) -> None:
        """Show the saved values, if the panel still shows those photos of that open archive."""
        if not shiboken6.isValid(self) or self._shown is None or not getattr(archive, "is_open", False):
            return
        if self._shown[0] is archive and self.dermoscopic_ids() == ids:
            self._show_dermoscopy(archive, self._shown[1])

    def _damage_found(self, image_id: int) -> None:
        if self._shown is None or not shiboken6.isValid(self.damage):
            return
        archive, images, _lesions = self._shown
        if any(i.id == image_id for i in images) and getattr(archive, "is_open", False):
            self._show_damage(archive, images)

    def damage_text(self) -> str:
        """What the damage notice says ("" when nothing is known to be damaged)."""
        return self.damage.text() if not self.damage.isHidden() else ""


def damage_of(archive: Any, image: records.ImageRecord, *, look: bool = True) -> dict[str, str]:
    """Part ("photo", "screen copy", "thumbnail") → problem, as far as is known without decrypting.

    ``look`` also checks its files are there with the recorded size (for one photo; a selection
    of many uses only what this session has found)."""
    found = damage.problems(archive, image.id)
    seen: set[str] = set()
    for part, attr in PARTS if look else ():
        blob_id = getattr(image, attr, None)
        if not blob_id or blob_id in seen or part in found:
            continue
        seen.add(blob_id)
        try:
            problem = archive.blobs.quick_problem(archive.blob_ref(blob_id))
        except (DermArchiveError, ValueError, OSError) as exc:  # gone from the catalogue: damaged;
            problem = damage_problem(exc)                      # locked meanwhile, unreadable folder: None
        if problem:
            found[part] = problem
    return {part: found[part] for part, _attr in PARTS if part in found}


def _phrase(part: str, problem: str) -> str:
    return problem if part == "photo" else f"{part}: {problem}"


def _row(name: str, value: str) -> str:
    return f"<tr><td style='color:#5c6770;padding-right:8px'>{html.escape(name)}</td><td>{value}</td></tr>"


def _details_html(image: records.ImageRecord, lesion: records.Lesion | None) -> str:
    kind, colour = KIND_TAGS.get(image.kind, KIND_TAGS["other"])
    title = f"<span style='color:{colour.name()}'>{kind} photo</span>"
    rows = [
        _row("Lesion", html.escape(f"{lesion.label} · {lesion.site_label}") if lesion else "—"),
        _row("Taken", html.escape(f"{nice_date(image.taken_at or image.visit_date)} {nice_time(image.taken_at)}")
             + ("" if image.taken_at else " <i>(visit date)</i>")),
        _row("Visit", html.escape(nice_date(image.visit_date))),
        _row("Camera", html.escape(image.device) or "—"),
        _row("Size", f"{image.width} × {image.height} px, {html.escape(image.stored_format)}"
             + (f" (from {html.escape(image.original_format)})"
                if image.original_format != image.stored_format else "")),
        _row("Location", "kept (chosen at import)" if image.location_kept
             else "removed at import" if image.had_location else "none recorded"),
        _row("Essential for care", "yes" if image.essential_for_care else "no"),
    ]
    if image.notes:
        rows.append(_row("Notes", html.escape(image.notes)))
    return f"<h3 style='margin-bottom:4px'>{title}</h3><table>{''.join(rows)}</table>"


def _consent_html(current: Any, allowed: frozenset[str], kind: str | None, heading_only: bool = False) -> str:
    parts = ["<h3 style='margin-bottom:4px'>Consent</h3>"]
    if not heading_only:
        if current is None:
            parts.append("<p style='color:#a23b2a'>No consent recorded for this visit: clinical record only.</p>")
        else:
            method = html.escape(METHOD_LABELS.get(current.method, current.method))
            when = html.escape(nice_date(current.obtained_at))
            parts.append(f"<p>{method}, version {current.version}, obtained {when}"
                         f" by {html.escape(current.obtained_by)}.</p>")
            if current.withdrawn:
                why = html.escape(current.withdrawn_reason or "")
                parts.append(f"<p style='color:#a23b2a'><b>Withdrawn</b> {html.escape(nice_date(current.withdrawn_at))}"
                             f"{': ' + why if why else ''}</p>")
        if kind == "consent-form":
            parts.append("<p style='color:#5c6770'>A consent-form photo identifies the patient: clinical use only.</p>")
    rows = []
    for purpose in PURPOSES:
        ok = purpose in allowed
        mark = "<span style='color:#2a7f62'>✓</span>" if ok else "<span style='color:#a23b2a'>✗</span>"
        style = "" if ok else " style='color:#7b858c'"
        rows.append(f"<tr><td>{mark}</td><td{style}>{html.escape(LABELS[purpose])}</td></tr>")
    parts.append(f"<table>{''.join(rows)}</table>")
    return "".join(parts)
