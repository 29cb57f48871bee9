"""The main window's correction actions: Patient ▸ New / Edit / Merge, Lesion ▸ Edit, on photos
Move to lesion / Move to patient / Delete, Edit ▸ Undo move, and the audit log viewer.

Installed by :func:`install` (one call from the main window) so the window's own code stays small.
An action that cannot apply is disabled and its tooltip says why. Undo keeps the last move only,
and only while the same archive stays open (locking or closing forgets it).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy

from .. import nhi as nhi_mod
from ..workflows import corrections
from . import messages
from .correction_dialogs import (DeletePhotosDialog, LesionDialog, MergeDialog, MoveToLesionDialog,
                                 MoveToPatientDialog, PatientDialog)
from .jobs import run_job
from .photo_drag import LesionDropTarget
from .words import plural


class Corrections:
    """Owns the actions; ``update()`` enables each with the reason it cannot apply as tooltip."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.last_move: tuple[Any, corrections.Move] | None = None   # (archive, move)
        self.dialog: Any = None
        w = window
        self.actions: dict[str, QAction] = {}
        for name, text, slot, shortcut, tip in (
            ("new_patient", "&New patient…", self.new_patient, "Ctrl+N", "Register a patient"),
            ("edit_patient", "Ed&it patient…", self.edit_patient, None, "Correct this patient's details"),
            ("merge_patient", "&Merge with…", self.merge_patient, None,
             "Merge this patient into another record of the same person"),
            ("edit_lesion", "Edit &lesion…", self.edit_lesion, None, "Correct the selected lesion"),
            ("move_lesion", "Move to &lesion…", self.move_to_lesion, None, "File the selected photos under a lesion"),
            ("move_patient", "Move to &patient…", self.move_to_patient, None,
             "File the selected photos under another patient"),
            ("delete_photos", "&Delete photos…", self.delete_photos, QKeySequence.StandardKey.Delete,
             "Delete the selected photos for real"),
            ("undo_move", "&Undo move", self.undo_move, QKeySequence.StandardKey.Undo, "Put the last moved photos back"),
            ("audit", "&Audit log…", self.audit_log, None, "Who did what, when; verify the archive"),
            ("profile", "My &profile…", self.edit_profile, None, "Your full name, title and registration number "
             "for referrals"),
            ("letterhead", "Practice &letterhead…", self.edit_letterhead, None, "The practice details printed on "
             "referrals"),
            ("export_dicom", "Export &DICOM to folder/USB…", self.export_dicom, None,
             "Write the patient's photos (or the selected ones) as DICOM files with a DICOMDIR"),
        ):
            action = QAction(text, w)
            action.setObjectName(f"action_{name}")
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            action.setStatusTip(tip)
            action.setData(tip)
            action.triggered.connect(lambda _checked=False, s=slot: s())
            w.addAction(action)
            self.actions[name] = action
        self._place()
        page = w.patient_page
        page.timeline.selectionModel().selectionChanged.connect(lambda *_: self.update())
        page.lesion_table.selectionModel().selectionChanged.connect(lambda *_: self.update())
        page.loaded.connect(lambda _pid: self.update())
        self.drop_target = LesionDropTarget(page.lesion_table, self._lesion_at_row, self.dropped_on_lesion)
        self._build_offers()
        self.update()

    def _build_offers(self) -> None:
        """An empty archive offers "Add a patient" and "Import photos"; a search for a valid NHI
        nobody has offers to add that patient."""
        w = self.window
        empty_page = w.content.widget(0)
        self.empty_hint = empty_page.findChild(QLabel, "emptyHint")
        self.default_hint = self.empty_hint.text() if self.empty_hint is not None else ""
        row = QHBoxLayout()
        row.addStretch(1)
        self.add_first = self._button("addFirstPatientButton", "Add a patient", self.new_patient)
        self.import_first = self._button("importFirstPhotosButton", "Import photos", w.import_photos)
        row.addWidget(self.add_first)
        row.addWidget(self.import_first)
        row.addStretch(1)
        layout = empty_page.layout()
        if self.empty_hint is not None:  # hint and buttons together in the middle of the page
            self.empty_hint.setSizePolicy(self.empty_hint.sizePolicy().horizontalPolicy(),
                                          QSizePolicy.Policy.Maximum)
        layout.insertStretch(0, 1)
        layout.addLayout(row)
        layout.addStretch(1)
        pane = w.patient_table.parentWidget()
        self.add_searched = self._button("addSearchedPatientButton", "", lambda: self.new_patient(self._searched_nhi()))
        pane.layout().addWidget(self.add_searched)
        w.search.textChanged.connect(lambda _t: self.update())
        # after the window has marked the list ready (it does so right after filling the model)
        w.patient_model.modelReset.connect(lambda: QTimer.singleShot(0, self.update))

    def _button(self, name: str, text: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text or "Add the searched patient")
        button.clicked.connect(lambda _checked=False: slot())
        button.hide()
        return button

    def _searched_nhi(self) -> str:
        text = nhi_mod.normalise(self.window.search.text())
        return text if nhi_mod.problem(text) is None else ""

    def _update_offers(self) -> None:
        w = self.window
        archive = self._archive()
        empty = archive is not None and w.patients_ready and w.patient_model.total == 0
        if self.empty_hint is not None:
            self.empty_hint.setText("This archive has no patients yet. Add one, or import photos from a phone "
                                    "or folder." if empty else self.default_hint)
        self.add_first.setVisible(empty)
        self.import_first.setVisible(empty)
        nhi = self._searched_nhi() if archive is not None and w.patients_ready else ""
        unknown = bool(nhi) and w.patient_model.rowCount() == 0
        self.add_searched.setText(f"Add patient {nhi}…" if unknown else "")
        self.add_searched.setVisible(unknown)

    def _toolbar_why_not(self) -> dict[str, str | None]:
        """Why each photo action of the main window cannot apply now (None: it can)."""
        w = self.window
        page = w.patient_page
        if self._archive() is None:
            return {}
        if page.patient is None:
            why = "Choose a patient first."
            return dict.fromkeys(("open", "compare", "consent", "referral", "export", "send_pacs"), why)
        n = len(page.selected_images())
        photos = None if n else "Select photos in the timeline first."
        return {"open": photos, "compare": None if n == 2 else "Select exactly two photos to compare.",
                "consent": None if n or page.visit_for_consent() is not None
                else "This patient has no visits yet: import photos first.",
                "referral": photos, "export": photos, "send_pacs": photos}

    def _lesion_at_row(self, row: int) -> int | None:
        lesion = self.window.patient_page.lesion_model.lesion_at(row)
        return lesion.id if lesion else None

    def _menu(self, title: str) -> QMenu:
        """The menu bar's menu called ``title``; a new one goes before View (after Patient)."""
        bar = self.window.menuBar()
        before = None
        for action in bar.actions():
            name = action.text().replace("&", "")
            if action.menu() is not None and name == title.replace("&", ""):
                return action.menu()
            if before is None and name in ("View", "Tools", "Help"):
                before = action
        menu = QMenu(title, bar)
        bar.insertMenu(before, menu) if before is not None else bar.addMenu(menu)
        return menu

    def _place(self) -> None:
        a = self.actions
        patient = self._menu("&Patient")
        first = patient.actions()[0] if patient.actions() else None
        for name in ("new_patient", "edit_patient", "merge_patient"):
            patient.insertAction(first, a[name])
        patient.insertSeparator(first)
        lesion = self._menu("&Lesion")
        lesion.addAction(a["edit_lesion"])
        photo = self._menu("P&hoto")
        for name in ("move_lesion", "move_patient", "delete_photos", None, "undo_move"):
            photo.addSeparator() if name is None else photo.addAction(a[name])
        tools = self._menu("&Tools")
        for name in ("audit", None, "profile", "letterhead"):
            tools.addSeparator() if name is None else tools.addAction(a[name])
        file_menu = self._menu("&File")
        after_import = file_menu.actions()[1] if len(file_menu.actions()) > 1 else None
        file_menu.insertAction(after_import, a["export_dicom"])
        timeline = self.window.patient_page.timeline
        for name in ("move_lesion", "move_patient", "delete_photos"):
            timeline.addAction(a[name])

    # -- state -----------------------------------------------------------------------------
    def _archive(self) -> Any:
        w = self.window
        return None if w.locked else w.archive

    def _why_not(self) -> dict[str, str | None]:
        archive = self._archive()
        page = self.window.patient_page
        patient = page.patient if archive is not None else None
        photos = page.selected_images() if patient is not None else []
        lesion = page.current_lesion_id() if patient is not None else None
        no_patient = "Choose a patient first." if patient is None else None
        no_photos = no_patient or (None if photos else "Select photos in the timeline first.")
        role = archive.user.role if archive is not None else ""
        corrector = None if role in corrections.CORRECTORS else "Only clinicians and admins may do this."
        undo = None
        if self.last_move is None or self.last_move[0] is not archive or not self.last_move[1].moves:
            undo = "Nothing to undo: no photos were moved since the archive was opened."
        return {
            "new_patient": None if archive is not None else "Unlock the archive first.",
            "edit_patient": no_patient,
            "merge_patient": no_patient or corrector,
            "edit_lesion": no_patient or (None if lesion is not None else "Select a lesion in the list first."),
            "move_lesion": no_photos,
            "move_patient": no_photos,
            "delete_photos": no_photos or corrector,
            "undo_move": undo,
            "audit": None if archive is not None else "Unlock the archive first.",
            "export_dicom": no_patient,
            "profile": None if archive is not None else "Unlock the archive first.",
            "letterhead": None if archive is not None else "Unlock the archive first.",
        }

    def update(self) -> None:
        for name, why in self._why_not().items():
            action = self.actions[name]
            action.setEnabled(why is None)
            action.setToolTip(why or str(action.data()))
        main = getattr(self.window, "actions_by_name", {})
        for name, why in self._toolbar_why_not().items():
            action = main[name]
            action.setEnabled(why is None)
            action.setToolTip(why or action.statusTip() or action.text().replace("&", "").rstrip("…"))
        self._update_offers()

    def forget(self) -> None:
        """The archive was locked or closed: nothing to undo any more."""
        self.last_move = None
        self.update()

    # -- actions ---------------------------------------------------------------------------
    def _open(self, dialog: Any, then: Any = None) -> Any:
        """Open ``dialog``; registered with the window, so lock closes it and it is deleted when closed."""
        self.dialog = dialog

        def finished(result: int) -> None:
            if result and then is not None:
                then(dialog.result_)
            if not self.window.locked:
                self.window.refresh()
            self.update()

        dialog.finished.connect(finished)
        self.window.register_patient_window(dialog)
        dialog.open()
        return dialog

    def new_patient(self, nhi: str = "") -> Any:
        archive = self._archive()
        if archive is None:
            return None
        return self._open(PatientDialog(archive, nhi=nhi, parent=self.window),
                          then=lambda p: self.window.show_patient(p.id))

    def edit_patient(self) -> Any:
        page = self.window.patient_page
        if self._why_not()["edit_patient"] or page.patient is None:
            return None
        return self._open(PatientDialog(self._archive(), page.patient, parent=self.window))

    def merge_patient(self) -> Any:
        page = self.window.patient_page
        if self._why_not()["merge_patient"] or page.patient is None:
            return None
        return self._open(MergeDialog(self._archive(), page.patient, parent=self.window),
                          then=lambda m: self.window.show_patient(m.patient.id))

    def edit_lesion(self) -> Any:
        page = self.window.patient_page
        lesion_id = page.current_lesion_id()
        if self._why_not()["edit_lesion"] or lesion_id is None:
            return None
        return self._open(LesionDialog(self._archive(), page.lesions_by_id()[lesion_id], parent=self.window))

    def _remember(self, move: Any) -> None:
        self.last_move = (self._archive(), move)

    def move_to_lesion(self, lesion_id: int | None = None) -> Any:
        page = self.window.patient_page
        if self._why_not()["move_lesion"] or page.patient is None:
            return None
        return self.dropped_on_lesion([i.id for i in page.selected_images()], lesion_id)

    def dropped_on_lesion(self, image_ids: list[int], lesion_id: int | None) -> Any:
        """Move to lesion (also photos dragged from the timeline onto a lesion): confirm with a reason."""
        page = self.window.patient_page
        if self._archive() is None or page.patient is None:
            return None
        dialog = MoveToLesionDialog(self._archive(), image_ids, page.patient.id, parent=self.window)
        if lesion_id is not None:
            dialog.lesion_combo.setCurrentIndex(max(0, dialog.lesion_combo.findData(lesion_id)))
        return self._open(dialog, then=self._remember)

    def move_to_patient(self) -> Any:
        page = self.window.patient_page
        if self._why_not()["move_patient"] or page.patient is None:
            return None
        ids = [i.id for i in page.selected_images()]
        return self._open(MoveToPatientDialog(self._archive(), ids, page.patient.id, parent=self.window),
                          then=self._remember)

    def delete_photos(self) -> Any:
        page = self.window.patient_page
        if self._why_not()["delete_photos"]:
            return None
        ids = [i.id for i in page.selected_images()]
        return self._open(DeletePhotosDialog(self._archive(), ids, parent=self.window))

    def undo_move(self) -> None:
        if self._why_not()["undo_move"] or self.last_move is None:
            return
        archive, move = self.last_move
        self.last_move = None

        def done(back: Any) -> None:
            lines = back.pacs.lines()
            messages.info(self.window, f"Moved {plural(len(back.moves), 'photo')} back." + ("\n" + "\n".join(lines)
                                                                                    if lines else ""))
            self.window.refresh()
            self.update()

        run_job(corrections.undo_move, archive, move, parent=self.window, on_done=done)

    def export_dicom(self) -> Any:
        page = self.window.patient_page
        if self._why_not()["export_dicom"] or page.patient is None:
            return None
        from .dicom_folder_export import export_to_folder

        chosen = [i.id for i in page.selected_images()]
        return export_to_folder(self.window, self._archive(), page.patient, chosen or None)

    def edit_profile(self) -> Any:
        if self._archive() is None:
            return None
        from .profile_dialog import ProfileDialog

        return self._open(ProfileDialog(self._archive(), parent=self.window))

    def edit_letterhead(self) -> Any:
        if self._archive() is None:
            return None
        from .referral_letterhead import LetterheadDialog

        return self._open(LetterheadDialog(self._archive(), self.window))

    def audit_log(self) -> Any:
        archive = self._archive()
        if archive is None:
            return None
        from .audit_viewer import AuditLogDialog

        return self._open(AuditLogDialog(archive, parent=self.window))


def install(window: Any) -> Corrections:
    return Corrections(window)
