"""A patient's page: who (NHI, name, date of birth and age), their lesions, and the photo timeline.

Picking a lesion shows its photos grouped by visit; "All photos" shows every photo of the
patient. The side panel follows the selection. Opening the page audits ``patient.view``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from PySide6.QtCore import QEvent, QItemSelection, QObject, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHeaderView, QLabel, QPushButton, QSplitter, QTableView, QVBoxLayout, QWidget

from ..archive import records
from ..consent import policy
from . import messages, settings
from .forms import child, load_form, place
from .jobs import run_job
from .image_panel import ImagePanel
from .patient_models import LesionTableModel
from .thumbnails import ThumbnailLoader
from .timeline import TimelineModel, TimelineView
from .words import day_text, plural

@dataclass(frozen=True)
class PatientData:
    """Everything the page shows, read in one go off the GUI thread."""

    patient: records.Patient
    lesions: list[records.Lesion]
    visits: list[records.Visit]
    images: list[records.ImageRecord]
    consent_text: dict[int, str]
    scopes: dict[int, frozenset[str]]     # image id → purposes its consent allows (badges)
    in_pacs: set[int]                     # images with a copy in the practice PACS (badge)


def load_patient_data(archive: Any, patient_id: int, audit_view: bool) -> PatientData:
    """Worker thread: the patient (auditing the view when it is opened), lesions, visits, photos."""
    patient = records.open_patient(archive, patient_id) if audit_view else records.get_patient(archive, patient_id)
    visits = records.visits(archive, patient_id)
    from ..dicom.pacs import images_in_pacs  # the catalogue's record of sends; no network

    currents = policy.current_consents(archive, [v.id for v in visits])
    images = records.images(archive, patient_id=patient_id)
    ids = [i.id for i in images]
    return PatientData(patient, records.lesions(archive, patient_id), visits, images,
                       {v.id: consent_summary(currents.get(v.id)) for v in visits},
                       policy.image_scopes(archive, ids), set(images_in_pacs(archive, ids)))


CONSENT_SHORT = {"written-signature": "written signature", "photographed-form": "consent form photo",
                 "verbal": "verbal (clinical use only)", "exemption": "exemption (clinical use only)"}


def consent_summary(current: policy.CurrentConsent | None) -> str:
    if current is None:
        return "none recorded"
    text = CONSENT_SHORT.get(current.method, current.method)
    return f"withdrawn (was {text})" if current.withdrawn else text


class PatientPage(QWidget):
    openRequested = Signal(object)        # ImageRecord
    compareRequested = Signal(object, object)
    consentRequested = Signal(int)        # visit id
    referralRequested = Signal()
    loaded = Signal(int)                  # patient id, when the page shows that patient's data

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("patientPage")
        form = load_form("patient_page", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)
        self.archive: Any = None
        self.patient: records.Patient | None = None
        self.loader = loader
        self.name_label = child(form, QLabel, "patientName")
        self.details_label = child(form, QLabel, "patientDetails")
        self.nhi_label = child(form, QLabel, "patientNhi")
        self.timeline_title = child(form, QLabel, "timelineTitle")
        self._title = ("Photos", "")
        self.timeline_title.installEventFilter(self)
        self.lesion_table = child(form, QTableView, "lesionTable")
        self.lesion_model = LesionTableModel(self)
        self.lesion_table.setModel(self.lesion_model)
        header = self.lesion_table.horizontalHeader()
        # Every column as wide as its heading and cells ("Left thigh", not "Lef…"; "Body site", not
        # "dy s" at large text); a narrow window scrolls sideways.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.lesion_table.verticalHeader().hide()
        self.lesion_table.selectionModel().selectionChanged.connect(self._lesion_changed)
        self.timeline = TimelineView()
        self.timeline_model = TimelineModel(loader, self)
        self.timeline.setModel(self.timeline_model)
        place(child(form, QWidget, "timelinePlaceholder"), self.timeline)
        self.panel = ImagePanel()
        place(child(form, QWidget, "detailsPlaceholder"), self.panel)
        self.timeline.selectionModel().selectionChanged.connect(self._images_selected)
        self.timeline.imageActivated.connect(self.openRequested)
        self.open_button = child(form, QPushButton, "openButton")
        self.compare_button = child(form, QPushButton, "compareButton")
        self.consent_button = child(form, QPushButton, "consentButton")
        self.referral_button = child(form, QPushButton, "referralButton")
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.consent_button.clicked.connect(self._consent_clicked)
        self.referral_button.clicked.connect(self.referralRequested)
        splitter = child(form, QSplitter, "pageSplitter")
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([900, 240])
        lesion_splitter = child(form, QSplitter, "lesionSplitter")
        rows = self.lesion_table.verticalHeader().defaultSectionSize()  # about four lesions without scrolling
        lesion_splitter.setSizes([header.sizeHint().height() + 4 * rows + 8, 530])
        # never fewer than two lesion rows readable (a laptop at large text showed one)
        self.lesion_table.setMinimumHeight(header.sizeHint().height() + 2 * rows
                                           + self.lesion_table.horizontalScrollBar().sizeHint().height() + 6)
        for split, setting in ((splitter, settings.PAGE_SPLIT), (lesion_splitter, settings.LESION_SPLIT)):
            saved = settings.get(setting)
            if saved:
                split.restoreState(saved)  # the panels as the user left them
            split.splitterMoved.connect(lambda _pos, _i, s=split, key=setting: settings.put(key, s.saveState()))
        self._images: list[records.ImageRecord] = []
        self._visits: list[records.Visit] = []
        self._consent_text: dict[int, str] = {}
        self._scopes: dict[int, frozenset[str]] = {}
        self._in_pacs: set[int] = set()
        self._lesions: dict[int, records.Lesion] = {}
        self._generation = 0
        self.ready = False
        self._update_buttons()

    # -- loading ---------------------------------------------------------------------------
    def show_patient(self, archive: Any, patient_id: int, *, lesion_id: int | None = None) -> None:
        """Show another patient: the old one's content goes at once, the new one's follows."""
        self.clear()
        self.archive = archive
        self.name_label.setText("Loading…")
        self._load(patient_id, lesion_id, audit_view=True)

    def reload(self, *, lesion_id: int | None = None) -> None:
        """Re-read the patient's lesions, visits and photos (after an import, consent change…)."""
        if self.archive is None or self.patient is None:
            return
        keep = lesion_id if lesion_id is not None else self.current_lesion_id()
        self._load(self.patient.id, keep, audit_view=False)

    def _load(self, patient_id: int, keep_lesion: int | None, *, audit_view: bool) -> None:
        self._generation += 1
        generation, archive = self._generation, self.archive
        self.ready = False

        def done(data: PatientData) -> None:
            if generation == self._generation and self.archive is archive:
                self._apply(data, keep_lesion)

        def failed(exc: BaseException) -> None:
            if generation == self._generation and self.archive is archive and archive.is_open:
                self.ready = True
                messages.show_error(self, exc)

        run_job(load_patient_data, archive, patient_id, audit_view, on_done=done, on_error=failed)

    def _apply(self, data: PatientData, keep_lesion: int | None) -> None:
        p = self.patient = data.patient
        self.name_label.setText(p.display_name)
        age = p.age()
        born = day_text(p.dob) if p.dob else "date of birth not recorded"
        self.details_label.setText(f"Born {born}" + (f" · {plural(age, 'year')}" if age is not None else "")
                                   + f" · {plural(p.image_count, 'photo')}")
        self.nhi_label.setText(f"NHI {p.nhi}")
        self._lesions = {lesion.id: lesion for lesion in data.lesions}
        self._visits, self._images, self._consent_text = data.visits, data.images, data.consent_text
        self._scopes, self._in_pacs = data.scopes, data.in_pacs
        self.lesion_model.set_lesions(data.lesions, len(self._images))
        row = next((i for i in range(self.lesion_model.rowCount())
                    if (les := self.lesion_model.lesion_at(i)) is not None and les.id == keep_lesion), 0)
        self.lesion_table.selectRow(row)
        self._show_timeline()
        self.ready = True
        self.loaded.emit(p.id)

    def clear(self) -> None:
        """Drop everything shown (lock, or before another patient); late results are ignored."""
        self._generation += 1
        self.ready = False
        self.archive = self.patient = None
        self._images, self._visits, self._lesions, self._consent_text = [], [], {}, {}
        self._scopes, self._in_pacs = {}, set()
        self.timeline_model.clear()
        self.lesion_model.clear()
        self.panel.clear()
        for label in (self.name_label, self.details_label, self.nhi_label):
            label.clear()
        self._title = ("Photos", "")  # "L2 · Scalp (near the hairline)" is the patient's too
        self._fit_title()

    def current_lesion_id(self) -> int | None:
        rows = self.lesion_table.selectionModel().selectedRows() if self.lesion_table.selectionModel() else []
        if not rows:
            return None
        lesion = self.lesion_model.lesion_at(rows[0].row())
        return lesion.id if lesion else None

    def select_lesion(self, lesion_id: int | None) -> None:
        for i in range(self.lesion_model.rowCount()):
            les = self.lesion_model.lesion_at(i)
            if (les.id if les else None) == lesion_id:
                self.lesion_table.selectRow(i)
                return

    def _lesion_changed(self, *_: Any) -> None:
        self._show_timeline()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.timeline_title and event.type() == QEvent.Type.Resize:
            self._fit_title()
        return super().eventFilter(watched, event)

    def _fit_title(self) -> None:
        """The photo list's title on one line, elided to the space the buttons leave ("L2 · Scalp (ne…")."""
        what, rest = self._title
        label = self.timeline_title
        bold = label.font()
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        room = max(0, label.width() - 2)
        if metrics.horizontalAdvance(what + rest) <= room:
            label.setText(f"<b>{escape(what)}</b>{escape(rest)}")
        else:
            label.setText(f"<b>{escape(metrics.elidedText(what + rest, Qt.TextElideMode.ElideRight, room))}</b>")
        label.setToolTip(what + rest)

    def _show_timeline(self) -> None:
        lesion_id = self.current_lesion_id()
        shown = self._images if lesion_id is None else [i for i in self._images if i.lesion_id == lesion_id]
        self.loader.forget_pending()
        labels = {les.id: les.label for les in self._lesions.values()} if lesion_id is None else None
        self.timeline_model.set_images(shown, self._visits, self._consent_text, labels,
                                       scopes=self._scopes, in_pacs=self._in_pacs)
        lesion = self._lesions.get(lesion_id or -1)
        what = f"{lesion.label} · {lesion.site_label}" if lesion else "All photos"
        self._title = (what, f" — {plural(len(shown), 'photo')}, oldest first")
        self._fit_title()
        self.panel.clear()
        self._update_buttons()

    # -- selection and actions -------------------------------------------------------------
    def selected_images(self) -> list[records.ImageRecord]:
        return self.timeline.selected_images()

    def lesions_by_id(self) -> dict[int, records.Lesion]:
        return dict(self._lesions)

    def _images_selected(self, _sel: QItemSelection | None = None, _desel: QItemSelection | None = None) -> None:
        images = self.selected_images()
        if self.archive is not None and self.archive.is_open:
            self.panel.show_images(self.archive, images, self._lesions)
        self._update_buttons()

    def _update_buttons(self) -> None:
        n = len(self.selected_images()) if self.timeline.selectionModel() else 0
        self.open_button.setEnabled(n >= 1)
        self.compare_button.setEnabled(n == 2)
        self.consent_button.setEnabled(n >= 1 or bool(self._visits))
        self.referral_button.setEnabled(n >= 1)

    def open_selected(self) -> None:
        images = self.selected_images()
        if images:
            self.openRequested.emit(images[0])

    def compare_selected(self) -> None:
        images = self.selected_images()
        if len(images) == 2:
            self.compareRequested.emit(*sorted(images, key=lambda i: i.sort_key))

    def visit_for_consent(self) -> int | None:
        images = self.selected_images()
        if images:
            return images[0].visit_id
        return self._visits[-1].id if self._visits else None

    def _consent_clicked(self) -> None:
        visit = self.visit_for_consent()
        if visit is not None:
            self.consentRequested.emit(visit)

    def select_images(self, image_ids: list[int]) -> None:
        """Select these photos in the timeline (tests, and after returning from the viewer)."""
        sel = self.timeline.selectionModel()
        sel.clearSelection()
        for image_id in image_ids:
            row = self.timeline_model.row_of_image(image_id)
            if row >= 0:
                idx = self.timeline_model.index(row)
                sel.select(idx, sel.SelectionFlag.Select)
                self.timeline.scrollTo(idx)
        self._images_selected()

    def caption(self, image: records.ImageRecord) -> str:
        lesion = self._lesions.get(image.lesion_id or -1)
        kind = {"clinical": "Clinical", "dermoscopic": "Dermoscopic", "consent-form": "Consent form",
                "other": "Photo"}.get(image.kind, "Photo")
        from .timeline import nice_date, nice_time
        where = f" · {lesion.label} {lesion.site_label}" if lesion else ""
        return f"{nice_date(image.taken_at or image.visit_date)} {nice_time(image.taken_at)} · {kind}{where}"

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_selected()
        else:
            super().keyPressEvent(event)
