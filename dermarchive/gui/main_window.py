"""The main window: patient list, patient page, viewer/compare, menus, lock.

Locking (Ctrl+L, idle timeout, or closing) drops every decrypted thing the window holds (patient
list, lesion and photo models, thumbnails, the viewer's pixels and title, the search text), closes
and deletes every window that shows archive data (see below), closes the archive (which wipes the
keys) and shows the unlock panel in place of the content. Only ids are remembered, to come back to
the same patient after unlocking.

Other windows. :meth:`MainWindow._dialog` is the one way to open a feature's dialog: it is deleted
when closed (``WA_DeleteOnClose``; nothing here keeps a Python reference to it afterwards) and is
registered as a window showing archive data, which lock closes and deletes. A window opened any
other way that shows patient data calls :meth:`MainWindow.register_patient_window` to get the same.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPixmapCache
from PySide6.QtWidgets import (QApplication, QDialog, QHeaderView, QInputDialog, QLabel, QLineEdit, QMainWindow,
                               QPushButton, QSplitter, QStackedWidget, QTableView, QToolButton, QWidget)

from .. import log
from ..archive import records
from ..errors import DermArchiveError
from ..ingest import previews
from ..workflows.changes import Changes
from ..system import return_freed_memory
from . import corrections_menu, messages, settings
from .forms import child, load_form, place
from .icons import icon
from .idle import IdleWatcher
from .screen_lock import ScreenLockWatcher
from .jobs import run_job
from .phone_watch import PHONE_FOLDER, PhoneFolderWatcher
from .image_panel import ImagePanel
from .patient_models import PatientTableModel
from .patient_page import PatientPage
from .thumbnails import ThumbnailLoader
from .unlock import UnlockPanel, archive_title
from .compare_view import LesionCompareView
from .lesion_view import LesionView
from .viewer import ImageView, PhotoPane

PAGE_EMPTY, PAGE_PATIENT, PAGE_VIEWER = 0, 1, 2
FIRST_SCREEN = 200  # patients shown before the whole list has loaded (more than a tall screen holds)

# The dialogs, imported when first opened (start-up loads none of them): (module, class).
DIALOGS = {
    "import": ("dermarchive.gui.import_wizard", "ImportWizard"),
    "consent": ("dermarchive.gui.consent_editor", "ConsentEditorDialog"),
    "referral": ("dermarchive.gui.referral_dialog", "ReferralDialog"),
    "export": ("dermarchive.gui.export_dialog", "DeidentifiedExportDialog"),
    "backup": ("dermarchive.gui.backup_dialog", "BackupDialog"),
    "about": ("dermarchive.gui.about_dialog", "AboutDialog"),
    "guide": ("dermarchive.gui.help_dialog", "UserGuideDialog"),
    "troubleshooting": ("dermarchive.gui.help_dialog", "TroubleshootingDialog"),
    "pacs": ("dermarchive.gui.pacs_dialog", "PacsSettingsDialog"),
    "sheet": ("dermarchive.gui.sheet_dialog", "SheetDialog"),
    "users": ("dermarchive.gui.users_dialog", "UsersDialog"),
    "body_map": ("dermarchive.gui.body_map", "BodyMapDialog"),
}


def _release_memory() -> None:
    gc.collect()
    return_freed_memory()


class MainWindow(QMainWindow):
    closedArchive = Signal()  # the user chose "Close archive" (back to the start screen)

    def __init__(self, archive: Any, *, idle_minutes: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.archive: Any = archive
        self.archive_path = archive.path
        self.user_name = archive.user.name
        self.locked = False
        self.patients_ready = False
        self._remember: tuple[int | None, int | None] = (None, None)  # patient id, lesion id
        # windows showing archive data, closed and deleted by lock (id → window; entries leave
        # when the window is destroyed, so nothing here keeps a closed dialog alive)
        self._patient_windows: dict[int, QWidget] = {}
        self._preview_jobs: list[Any] = []  # the idle job making previews after an import
        self._preview_again = False
        central = load_form("main_window", self)
        self.setCentralWidget(central)
        self.lock_stack = child(central, QStackedWidget, "lockStack")
        self.content = child(central, QStackedWidget, "contentStack")
        self.search = child(central, QLineEdit, "patientSearch")
        self.patient_table = child(central, QTableView, "patientTable")
        self.patient_count = child(central, QLabel, "patientCount")
        self.splitter = child(central, QSplitter, "mainSplitter")
        self.viewer_title = child(central, QLabel, "viewerTitle")
        self.zoom_label = child(central, QLabel, "zoomLabel")
        self.unlock_placeholder = child(central, QWidget, "unlockPlaceholder")
        self.unlock_panel: UnlockPanel | None = None

        self.loader = ThumbnailLoader(archive, cache_bytes=settings.get(settings.THUMB_CACHE_MB) * 1024 * 1024,
                                      parent=self)
        self.patient_model = PatientTableModel(self)
        self.patient_table.setModel(self.patient_model)
        self.patient_table.verticalHeader().hide()
        header = self.patient_table.horizontalHeader()
        # NHI, date of birth and photo count get the width their longest text needs (measured
        # once: sizing to contents would measure 50,000 rows on every keystroke of a search);
        # the name gets the rest, and the list never gets so narrow that names shrink to "EXA…".
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(1, Qt.SortOrder.AscendingOrder)
        self.patient_table.ensurePolished()  # measure with the style sheet's fonts and padding
        header.ensurePolished()
        metrics = self.patient_table.fontMetrics()
        fixed = 0
        for column, longest in ((0, "ZZZ00AC"), (2, "30 Sep 2000"), (3, "9999")):
            width = max(metrics.horizontalAdvance(longest) + 16, header.sectionSizeFromContents(column).width())
            self.patient_table.setColumnWidth(column, width)
            fixed += width
        scrollbar = self.patient_table.verticalScrollBar().sizeHint().width()
        self.patient_table.setMinimumWidth(fixed + metrics.horizontalAdvance("M") * 12 + scrollbar + 8)
        self.patient_table.selectionModel().selectionChanged.connect(self._patient_selected)
        self.search.textChanged.connect(self._search_changed)
        self.search.returnPressed.connect(self._search_enter)

        self.patient_page = PatientPage(self.loader)
        place(child(central, QWidget, "patientPagePlaceholder"), self.patient_page)
        self.patient_page.openRequested.connect(self.open_image)
        self.patient_page.compareRequested.connect(self.compare_images)
        self.patient_page.consentRequested.connect(self.edit_consent)
        self.patient_page.referralRequested.connect(self.create_referral)

        self.viewer_stack = child(central, QStackedWidget, "viewerStack")
        self.single = PhotoPane()
        self.single.setObjectName("singleViewer")
        self.compare = LesionCompareView()
        self.lesion_view = LesionView(self.loader)
        self.lesion_view.openRequested.connect(self.open_image)
        self.lesion_view.currentImageChanged.connect(lambda img: self.viewer_panel.show_images(
            self.archive, [img], self.patient_page.lesions_by_id()))
        self.viewer_stack.addWidget(self.single)
        self.viewer_stack.addWidget(self.compare)
        self.viewer_stack.addWidget(self.lesion_view)
        self.viewer_panel = ImagePanel()
        place(child(central, QWidget, "viewerDetailsPlaceholder"), self.viewer_panel)
        child(central, QSplitter, "viewerSplitter").setSizes([900, 260])
        for view in (self.single.view, self.compare.left.view):
            view.zoomChanged.connect(self._zoom_shown)
        self.single.loaded.connect(lambda img: self.viewer_panel.show_images(
            self.archive, [img], self.patient_page.lesions_by_id()))
        self._wire_viewer_buttons(central)

        self._build_actions()
        self.corrections = corrections_menu.install(self)
        self.idle = IdleWatcher(int(60_000 * (idle_minutes if idle_minutes is not None
                                              else settings.get(settings.IDLE_LOCK_MINUTES))), self)
        self.idle.idle.connect(lambda: self.lock("idle"))
        self.screen_lock = ScreenLockWatcher(self)
        self.screen_lock.screenLocked.connect(lambda: self.lock("screen-lock"))
        self.idle.start()
        screen = self.screen().availableGeometry()  # most of the screen, up to 1600 × 1000
        self.resize(max(1024, min(1600, int(screen.width() * 0.92))), max(700, min(1000, int(screen.height() * 0.9))))
        geometry = settings.get(settings.WINDOW_GEOMETRY)
        if geometry:
            self.restoreGeometry(geometry)
        state = settings.get(settings.WINDOW_STATE)
        if state:
            self.splitter.restoreState(state)
        else:  # a laptop's 1280 px: the list takes about a quarter, the photos the rest
            side = min(420, int(self.width() * 0.27))
            self.splitter.setSizes([side, self.width() - side])
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self._update_title()
        self.load_patients()
        self.search.setFocus()

    # -- building --------------------------------------------------------------------------
    def _wire_viewer_buttons(self, central: QWidget) -> None:
        child(central, QPushButton, "backButton").clicked.connect(self.back_to_patient)
        child(central, QPushButton, "backButton").setIcon(icon("back"))
        for name, ico, slot in (("zoomInButton", "zoom-in", lambda: self._each_view(lambda v: v.zoom_by(1.25))),
                                ("zoomOutButton", "zoom-out", lambda: self._each_view(lambda v: v.zoom_by(0.8))),
                                ("fitButton", "zoom-fit", lambda: self._each_view(ImageView.fit)),
                                ("actualSizeButton", "zoom-actual", lambda: self._each_view(ImageView.actual_size)),
                                ("rotateButton", "rotate", lambda: self._each_view(ImageView.rotate_view))):
            button = child(central, QToolButton, name)
            button.setIcon(icon(ico))
            button.clicked.connect(slot)

    def _action(self, text: str, slot: Any, shortcut: Any = None, ico: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if ico:
            action.setIcon(icon(ico))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self.actions_by_name = {
            "import": self._action("&Import photos…", self.import_photos, "Ctrl+I", "import",
                                   "Import photos from a phone or folder"),
            "backup": self._action("&Backup…", lambda: self._dialog("backup", self.archive), None, "backup"),
            "lock": self._action("&Lock", lambda: self.lock("manual"), "Ctrl+L", "lock",
                                 "Lock now: hide everything and forget the key (Ctrl+L)"),
            "close": self._action("&Close archive", self.close_archive, "Ctrl+W"),
            "quit": self._action("&Quit", self.close, QKeySequence.StandardKey.Quit),
            "find": self._action("&Find patient", self.focus_search, QKeySequence.StandardKey.Find, "search"),
            "consent": self._action("Visit &consent…", lambda: self.edit_consent(None), "Ctrl+K", "consent",
                                    "Record or change consent for the selected photo's visit"),
            "referral": self._action("Create &referral…", self.create_referral, "Ctrl+R", "referral",
                                     "Make a referral letter with the selected photos"),
            "sheet": self._action("Print photo consent &sheet…", self.print_consent_sheet, None, "consent",
                                  "Print the patient's consent form with a code that sorts their photos on import"),
            "export": self._action("&Export for teaching/research…", self.export_deidentified, "Ctrl+E", "export"),
            "send_pacs": self._action("Send to &PACS…", self.send_to_pacs, None, "pacs",
                                      "Send the selected photos to the practice's PACS"),
            "open": self._action("&Open photo", self.patient_page.open_selected, None, "photo"),
            "compare": self._action("Co&mpare two photos", self.patient_page.compare_selected, "Ctrl+D", "compare",
                                    "Compare the two selected photos side by side (Ctrl+D)"),
            "lesion": self._action("&Lesion history", self.open_lesion, "Ctrl+H", "compare",
                                   "The selected lesion's photos over time, first vs latest, overlays (Ctrl+H)"),
            "body_map": self._action("Body &map…", self.show_body_map, "Ctrl+M", None,
                                     "Front and back figures with a pin per lesion (Ctrl+M)"),
            "full_screen": self._action("&Full screen", self.toggle_full_screen, "F11"),
            "patient_list": self._action("&Patient list", self.toggle_patient_list, "F9"),
            "back": self._action("&Back to patient", self.back_to_patient, "Esc", "back"),
            "next": self._action("&Next photo", lambda: self.step_photo(1), "PgDown"),
            "previous": self._action("&Previous photo", lambda: self.step_photo(-1), "PgUp"),
            "zoom_in": self._action("Zoom &in", lambda: self._each_view(lambda v: v.zoom_by(1.25)),
                                    QKeySequence.StandardKey.ZoomIn, "zoom-in"),
            "zoom_out": self._action("Zoom &out", lambda: self._each_view(lambda v: v.zoom_by(0.8)),
                                     QKeySequence.StandardKey.ZoomOut, "zoom-out"),
            "fit": self._action("&Fit to window", lambda: self._each_view(ImageView.fit), "Ctrl+0", "zoom-fit"),
            "actual": self._action("&100 %", lambda: self._each_view(ImageView.actual_size), "Ctrl+1", "zoom-actual"),
            "rotate": self._action("&Rotate view", lambda: self._each_view(ImageView.rotate_view), "Ctrl+Shift+R",
                                   "rotate"),
            "pacs": self._action("&PACS settings…", lambda: self._dialog("pacs", self.archive), None, "pacs"),
            "idle": self._action("Lock after &idle…", self.choose_idle_minutes, None, "settings"),
            "guide": self._action("&User guide", lambda: self._dialog("guide"), QKeySequence.StandardKey.HelpContents),
            "troubleshooting": self._action("&Troubleshooting", lambda: self._dialog("troubleshooting")),
            "phone_folder": self._action("Phone &folder to watch…", lambda: self.phone_watch.choose_folder(self),
                                         None, "import", "The phone's synced folder: new photos are announced "
                                                         "in the status bar"),
            "users": self._action("&Users…", lambda: self._dialog("users", self.archive), None, "settings",
                                  "Add or remove users, change roles, reset a forgotten passphrase"),
            "about": self._action("&About DermArchive", lambda: self._dialog("about"), None, "about"),
        }
        bar = self.menuBar()
        for title, names in (("&File", ["import", "backup", None, "lock", "close", None, "quit"]),
                             ("&Patient", ["find", "body_map", None, "consent", "sheet", "referral", "export",
                                           "send_pacs"]),
                             ("&View", ["open", "compare", "lesion", "back", "previous", "next", None, "zoom_in", "zoom_out",
                                        "fit", "actual", "rotate", None, "patient_list", "full_screen"]),
                             ("&Tools", ["users", "pacs", "idle", "phone_folder"]),
                             ("&Help", ["guide", "troubleshooting", None, "about"])):
            menu = bar.addMenu(title)
            for name in names:
                if name is None:
                    menu.addSeparator()
                else:
                    menu.addAction(a[name])
        timeline = self.patient_page.timeline
        timeline.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for name in ("open", "compare", "consent", "referral", "export", "send_pacs"):
            timeline.addAction(a[name])
        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for name in ("import", "consent", "compare", "referral", "export", None, "lock"):
            if name is None:
                spacer = QWidget()
                spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                                     spacer.sizePolicy().verticalPolicy().Preferred)
                tools.addWidget(spacer)
            else:
                tools.addAction(a[name])
        self.backup_status = QPushButton(self)
        self.backup_status.setObjectName("backupStatus")
        self.backup_status.setFlat(True)
        self.backup_status.setCursor(Qt.CursorShape.PointingHandCursor)
        self.backup_status.clicked.connect(lambda: self._dialog("backup", self.archive))
        self.statusBar().addPermanentWidget(self.backup_status)
        self.update_backup_status()
        self.phone_watch = PhoneFolderWatcher(self.archive, self, lambda folder: self._dialog("import", self.archive,
                                                                                          folder=folder))
        self.statusBar().addPermanentWidget(self.phone_watch.button)

    def update_backup_status(self) -> None:
        """'Last backup: … (3 days ago)' in the status bar; a warning once it is overdue."""
        from ..backup import create as backup_core

        if self.locked:
            self.backup_status.hide()
            return
        text = backup_core.describe_last_backup(self.archive)
        overdue = backup_core.backup_overdue(self.archive)
        self.backup_status.setText(("⚠ " + text + " Back up now…") if overdue else text)
        self.backup_status.setToolTip("Open File ▸ Backup…")
        self.backup_status.setStyleSheet("color: #9a3412; font-weight: 600;" if overdue else "color: #5c6770;")
        self.backup_status.setProperty("overdue", overdue)
        self.backup_status.show()

    def _update_title(self) -> None:
        if self.locked:
            self.setWindowTitle(f"DermArchive — {self.archive_path.name} — locked")
        else:
            self.setWindowTitle(f"DermArchive — {archive_title(self.archive)}")

    # -- patients --------------------------------------------------------------------------
    def load_patients(self, then: Any = None) -> None:
        """Read the patient list in a worker (50,000 patients take most of a second).

        On the first load after unlock (an empty list) the first screenful, in name order from
        the name index, is read first and shown at once, so the nurse sees patients within a few
        milliseconds; the whole list replaces it when it arrives (the search typed meanwhile is
        applied to it, and the patient opened meanwhile stays selected)."""
        self.patients_ready = False
        self.patient_count.setText("Loading patients…")
        archive = self.archive

        def first(patients: list[records.Patient]) -> None:
            if self.locked or self.archive is not archive:
                return
            self.patient_model.set_patients(patients)
            self.patient_model.set_search(self.search.text())
            whole()

        def done(patients: list[records.Patient]) -> None:
            if self.locked or self.archive is not archive:
                return
            self.patient_model.set_patients(patients)
            self.patient_model.set_search(self.search.text())
            self.patients_ready = True
            self._update_count()
            self._select_patient_row(self.current_patient_id())
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            if not self.locked:
                messages.show_error(self, exc)

        def whole() -> None:
            run_job(lambda: records.find_patients(archive), on_done=done, on_error=failed)

        if self.patient_model.total == 0:  # the whole list after the first screen, not beside it
            run_job(lambda: records.find_patients(archive, limit=FIRST_SCREEN), on_done=first,
                    on_error=lambda _exc: whole())
        else:
            whole()

    def _update_count(self) -> None:
        if not self.patients_ready:  # the first screen only: counts would be wrong
            self.patient_count.setText("Loading patients…")
            return
        shown, total = self.patient_model.rowCount(), self.patient_model.total
        self.patient_count.setText(f"{total} patient{'s' if total != 1 else ''}" if shown == total
                                   else f"{shown} of {total} patients match")

    def _search_changed(self, text: str) -> None:
        self.patient_model.set_search(text)
        self._update_count()
        self._select_patient_row(self.current_patient_id())

    def _search_enter(self) -> None:
        if self.patient_model.rowCount() >= 1:
            self.patient_table.selectRow(0)
            self.patient_table.setFocus()

    def focus_search(self) -> None:
        if not self.locked:
            self.search.setFocus()
            self.search.selectAll()

    def current_patient_id(self) -> int | None:
        return self.patient_page.patient.id if self.patient_page.patient else None

    def _patient_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.patient_table.selectionModel().selectedRows()
        if rows:
            self.show_patient(self.patient_model.patient_at(rows[0].row()).id)

    def show_patient(self, patient_id: int, lesion_id: int | None = None) -> None:
        self.patient_page.show_patient(self.archive, patient_id, lesion_id=lesion_id)
        self.single.clear()
        self.compare.clear()
        self.content.setCurrentIndex(PAGE_PATIENT)

    def refresh(self) -> None:
        """Re-read the patient list and the open patient page (after another window changed things)."""
        if self.locked:
            return
        current = self.current_patient_id()
        self.update_backup_status()
        if current is not None:
            self.patient_page.reload()
        self.load_patients(then=lambda: self._select_patient_row(current))

    def _select_patient_row(self, patient_id: int | None) -> bool:
        """Highlight a patient in the list without reopening the page."""
        row = self.patient_model.row_of(patient_id) if patient_id is not None else -1
        if row >= 0:
            self.patient_table.selectionModel().blockSignals(True)
            self.patient_table.selectRow(row)
            self.patient_table.selectionModel().blockSignals(False)
        return row >= 0

    # -- viewer ----------------------------------------------------------------------------
    def open_image(self, image: records.ImageRecord) -> None:
        self.viewer_stack.setCurrentWidget(self.single)
        caption = self.patient_page.caption(image)
        self.viewer_title.setText(self._who())
        self.single.show_image(self.archive, image, caption)
        self.viewer_panel.show_images(self.archive, [image], self.patient_page.lesions_by_id())
        self.content.setCurrentIndex(PAGE_VIEWER)
        self.single.view.setFocus()

    def compare_images(self, first: records.ImageRecord, second: records.ImageRecord) -> None:
        self.viewer_stack.setCurrentWidget(self.compare)
        captions = (self.patient_page.caption(first), self.patient_page.caption(second))
        self.viewer_title.setText(f"Compare · {self._who()}")
        self.compare.show_pair(self.archive, first, second, captions)
        self.viewer_panel.show_images(self.archive, [first, second], self.patient_page.lesions_by_id())
        self.content.setCurrentIndex(PAGE_VIEWER)
        self.compare.left.view.setFocus()

    def step_photo(self, step: int) -> None:
        """Next or previous photo of the timeline (oldest first) in the single viewer."""
        if self.content.currentIndex() != PAGE_VIEWER or self.viewer_stack.currentWidget() is not self.single:
            return
        current = self.single.wanted or self.single.view.image
        photos = self.patient_page.timeline_model.images()
        ids = [p.id for p in photos]
        if current is None or current.id not in ids:
            return
        i = ids.index(current.id) + step
        if 0 <= i < len(photos):
            self.patient_page.select_images([photos[i].id])
            self.open_image(photos[i])

    def _who(self) -> str:
        """Whose photos these are, above the viewer (so nobody mistakes one patient for another)."""
        p = self.patient_page.patient
        return f"{p.display_name} · NHI {p.nhi}" if p else ""

    def open_lesion(self) -> None:
        """The selected lesion's history (strips, first vs latest, compare with overlays)."""
        lesion = self.patient_page.lesions_by_id().get(self.patient_page.current_lesion_id() or -1)
        if lesion is None:
            return
        self.viewer_stack.setCurrentWidget(self.lesion_view)
        self.viewer_title.setText(f"Lesion · {self._who()}")
        self.lesion_view.show_lesion(self.archive, lesion)
        self.viewer_panel.clear()
        self.content.setCurrentIndex(PAGE_VIEWER)

    def show_body_map(self) -> None:
        patient = self.patient_page.patient
        if patient is None:
            return
        dialog = self._dialog("body_map", self.archive, patient.id)
        if dialog is None:
            return

        def open_lesion(lesion_id: int) -> None:
            dialog.accept()
            self.patient_page.select_lesion(lesion_id)
            self.open_lesion()

        dialog.openLesion.connect(open_lesion)

    def toggle_full_screen(self) -> None:
        self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)

    def toggle_patient_list(self) -> None:
        """Hide or show the patient list (more room for photos); the splitter remembers its width."""
        side = self.splitter.widget(0)
        side.setVisible(not side.isVisible())

    def back_to_patient(self) -> None:
        if self.viewer_stack.currentWidget() is self.lesion_view and self.content.currentIndex() == PAGE_VIEWER \
                and self.lesion_view.pages.currentWidget() is not self.lesion_view.strips_page:
            self.lesion_view.show_strips()  # Esc: from a compare back to the lesion's strips first
            return
        if self.content.currentIndex() == PAGE_VIEWER:
            self.single.clear()
            self.compare.clear()
            self.lesion_view.clear()
            self.viewer_panel.clear()
            self.content.setCurrentIndex(PAGE_PATIENT)
            self.patient_page.timeline.setFocus()

    def _each_view(self, fn: Any) -> None:
        if self.content.currentIndex() != PAGE_VIEWER:
            return
        if self.viewer_stack.currentWidget() is self.single:
            fn(self.single.view)
        else:
            fn(self.compare.left.view)  # the right one follows

    def _zoom_shown(self, scale: float) -> None:
        self.zoom_label.setText(f"{scale * 100:.0f} %")

    # -- other features' dialogs -----------------------------------------------------------
    def _dialog(self, key: str, *args: Any, **kwargs: Any) -> Any:
        """Open one of :data:`DIALOGS` (window-modal): deleted when closed, closed by lock, and the
        window refreshed when it finishes (it may have changed the archive)."""
        module_name, class_name = DIALOGS[key]
        if self.locked:
            return None
        cls = getattr(importlib.import_module(module_name), class_name)
        try:
            dialog = cls(*args, parent=self, **kwargs)
        except DermArchiveError as exc:
            messages.show_error(self, exc)
            return None
        self.register_patient_window(dialog)
        dialog.finished.connect(self._dialog_finished)
        if key == "import":  # whatever it imported (one visit or a clinic day) still lacks previews
            dialog.finished.connect(lambda _result=0: self.make_previews())
        dialog.open()
        return dialog

    def make_previews(self) -> None:
        """The idle job after an import: screen previews of photos that have none yet (import
        leaves them for later, see ``ingest.previews``), on one core, quietly; lock and close
        cancel it and wait for its last batch."""
        if self.locked or not getattr(self.archive, "writable", False):
            return
        self._preview_jobs = [j for j in self._preview_jobs if not j.finished.is_set()]
        if self._preview_jobs:  # one at a time: the running one finds what the new import left
            self._preview_again = True
            return
        self._preview_again = False

        def finished(_result: object = None) -> None:
            if self._preview_again and not self.locked:
                QTimer.singleShot(0, self.make_previews)

        self._preview_jobs.append(run_job(previews.make_missing_previews, self.archive, with_progress=True,
                                          show_dialog=False, on_done=finished, on_error=finished))

    def stop_previews(self) -> None:
        for job in self._preview_jobs:
            job.cancel()
        for job in self._preview_jobs:
            job.finished.wait(30)  # one photo and a batch commit at most
        self._preview_jobs = []

    def _dialog_finished(self, _result: int) -> None:
        # What the dialog says it changed, or everything when it does not say (e.g. the import wizard).
        self.apply_changes(getattr(self.sender(), "changes", None))

    def apply_changes(self, changes: Changes | None) -> None:
        """Re-read what an operation changed: the patient list, the open patient's page, the
        backup status; ``None`` (not known) re-reads all of them."""
        if changes is None:
            self.refresh()
            return
        if self.locked:
            return
        if changes.backup_status:
            self.update_backup_status()
        current = self.current_patient_id()
        if current is not None and current in changes.patients:
            self.patient_page.reload()
        if changes.patient_list:
            self.load_patients(then=lambda: self._select_patient_row(current))

    def register_patient_window(self, window: QWidget) -> None:
        """``window`` shows archive data: it is deleted when closed and lock closes it."""
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        key = id(window)
        self._patient_windows[key] = window
        window.destroyed.connect(lambda _obj=None, key=key: self._patient_windows.pop(key, None))
        if hasattr(window, "finished"):  # a dialog: it leaves the registry as it closes
            window.finished.connect(lambda _result=0, key=key: self._patient_windows.pop(key, None))

    @property
    def dialog_shown(self) -> Any:
        """The most recently opened window that is still open (tests, the soak benchmark)."""
        return next(reversed(self._patient_windows.values()), None)

    def close_patient_windows(self) -> None:
        """Close and delete every registered window (lock, close). Each closes its own way
        (a dialog rejects: running work is cancelled), then goes at the next turn of the loop."""
        while self._patient_windows:
            _key, window = self._patient_windows.popitem()
            try:
                if isinstance(window, QDialog):
                    window.reject()
                window.close()
                window.deleteLater()
            except RuntimeError:  # already deleted by Qt
                pass

    def import_photos(self) -> None:
        """The wizard with the open patient pre-selected (photos are usually for the patient in front of you)."""
        self._dialog("import", self.archive, patient_id=self.current_patient_id())

    def print_consent_sheet(self) -> None:
        if self.patient_page.patient is None:
            messages.info(self, "Choose a patient first: the sheet is printed for one patient.")
            return
        self._dialog("sheet", self.archive, self.patient_page.patient)

    def edit_consent(self, visit_id: int | None) -> None:
        visit_id = visit_id if visit_id is not None else self.patient_page.visit_for_consent()
        if visit_id is None:
            messages.info(self, "Choose a patient and one of their photos first: consent belongs to a visit.")
            return
        self._dialog("consent", self.archive, visit_id)

    def _photos_for(self, what: str) -> tuple[int, list[int]] | None:
        patient = self.patient_page.patient
        images = self.patient_page.selected_images()
        if patient is None or not images:
            messages.info(self, f"Select the photos for the {what} in the patient's timeline first "
                                "(Ctrl+click or Shift+click to pick several).")
            return None
        return patient.id, [i.id for i in images]

    def create_referral(self) -> None:
        chosen = self._photos_for("referral")
        if chosen:
            self._dialog("referral", self.archive, *chosen)

    def export_deidentified(self) -> None:
        chosen = self._photos_for("export")
        if chosen:
            self._dialog("export", self.archive, *chosen)

    def send_to_pacs(self) -> None:
        chosen = self._photos_for("PACS")
        if not chosen or self.locked:
            return
        from .pacs_dialog import send_photos_to_pacs
        # the in-PACS badges come from the catalogue's record of sends: re-read the page afterwards
        # (also after a failure: the photos sent before it are marked as sent)
        send_photos_to_pacs(self, self.archive, chosen[1], on_done=lambda _summary: self._pacs_sent(),
                            on_error=lambda _exc: self._pacs_sent())

    def _pacs_sent(self) -> None:
        if not self.locked:
            self.patient_page.reload()

    def choose_idle_minutes(self) -> None:
        minutes, ok = QInputDialog.getDouble(self, "Lock after idle",
                                             "Lock the archive after this many minutes without use:",
                                             self.idle.timeout_ms / 60_000, 0.5, 120, 1)
        if ok:
            settings.put(settings.IDLE_LOCK_MINUTES, minutes)
            self.idle.set_timeout(int(minutes * 60_000))

    # -- lock ------------------------------------------------------------------------------
    def drop_decrypted(self) -> None:
        """Forget every decrypted thing this window holds (lock, close)."""
        self._remember = (self.current_patient_id(), self.patient_page.current_lesion_id())
        self.close_patient_windows()
        self.single.clear()
        self.compare.clear()
        self.lesion_view.clear()
        self.viewer_panel.clear()
        self.viewer_title.clear()  # "name · NHI"
        self.patient_page.clear()
        self.patient_model.clear()
        self.loader.clear()
        self.search.blockSignals(True)
        self.search.setText("")  # not clear(): that keeps what was typed (a name) in the undo history
        self.search.blockSignals(False)
        self.content.setCurrentIndex(PAGE_EMPTY)
        clip = QApplication.clipboard()
        if clip is not None and clip.ownsClipboard():
            clip.clear()
        # Qt keeps pixmaps drawn for the widgets (up to 10 MB, e.g. for each referral preview
        # shown) after those widgets are gone: pictures of patients, and the lock level crept up
        QPixmapCache.clear()

    def lock(self, reason: str = "manual") -> None:
        if self.locked:
            return
        self.locked = True
        self.idle.stop()
        self.phone_watch.stop()
        self.stop_previews()
        self.drop_decrypted()
        try:
            self.archive.close(reason=reason)
        finally:
            log.gui.info("archive locked (%s)", reason)
        for name, action in self.actions_by_name.items():
            action.setEnabled(name in ("quit", "about", "close"))
        self.backup_status.hide()
        self.phone_watch.button.hide()
        minutes = self.idle.timeout_ms / 60_000
        title = {"idle": f"Locked after {minutes:g} minute{'s' if minutes != 1 else ''} without use",
                 "screen-lock": "Locked because the screen was locked"}.get(reason, "Archive locked")
        self.unlock_panel = UnlockPanel(self.archive_path, user=self.user_name, title=title,
                                        cancel_text="Close archive", parent=self.unlock_placeholder)
        place(self.unlock_placeholder, self.unlock_panel)
        self.unlock_panel.unlocked.connect(self.unlocked)
        self.unlock_panel.cancelled.connect(self.close_archive)
        self.lock_stack.setCurrentIndex(1)
        self.unlock_panel.passphrase.setFocus()
        self.corrections.forget()
        self._update_title()
        # once the closed windows are deleted (next turn of the loop): collect what only cycles
        # still held, and give the freed memory (decrypted photos among it) back to the OS
        QTimer.singleShot(200, _release_memory)

    def unlocked(self, archive: Any) -> None:
        self.archive = archive
        self.user_name = archive.user.name
        self.locked = False
        if self.unlock_panel is not None:
            self.unlock_panel.hide()
            self.unlock_panel.deleteLater()
            self.unlock_panel = None
        for action in self.actions_by_name.values():
            action.setEnabled(True)
        self.loader.set_archive(archive)
        self.lock_stack.setCurrentIndex(0)
        patient_id, lesion_id = self._remember
        if patient_id is not None:
            self.show_patient(patient_id, lesion_id)
        self.load_patients(then=lambda: self._select_patient_row(patient_id))
        self.idle.start()
        self.update_backup_status()
        self.phone_watch.archive = archive
        self.phone_watch.set_folder(settings.get(PHONE_FOLDER) or None)
        self.corrections.update()
        self._update_title()

    def close_archive(self) -> None:
        self._closing_to_start = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        settings.put(settings.WINDOW_GEOMETRY, self.saveGeometry())
        settings.put(settings.WINDOW_STATE, self.splitter.saveState())
        self.idle.dispose()
        self.phone_watch.stop()
        if not self.locked:
            self.locked = True  # first: a dialog closed below must not start a refresh on this archive
            self.stop_previews()
            self.drop_decrypted()
            self.archive.close(reason="closed")
        self.loader.pool.clear()
        self.loader.pool.waitForDone(2000)
        event.accept()
        if getattr(self, "_closing_to_start", False):
            self.closedArchive.emit()
