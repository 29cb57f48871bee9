"""File ▸ Backup…: back up now, check the backup, restore it into a new folder (a restore drill).

    BackupDialog(archive, parent).exec()

The dialog only calls the core (:mod:`dermarchive.backup`) through ``gui.jobs.run_job``:
progress and Cancel come from there. The destination is remembered in the archive (setting
``backup.destination``) when chosen; the last backup time and the reminder come from
``last_backup`` / ``backup_overdue``. After a check finds damage, the next backup re-reads every
file at the destination and replaces damaged ones.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QDialog, QFileDialog, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSpinBox, QWidget)

from ..archive.archive import Archive
from ..errors import Cancelled
from ..backup import create as core
from ..workflows.changes import Changes
from . import messages
from .forms import child, dialog_form
from .icons import icon
from .jobs import Job, run_job
from .words import plural

TITLE = "Backup"


class BackupDialog(QDialog):
    changes = Changes(backup_status=True)  # the status bar's last backup

    def __init__(self, archive: Archive, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.setWindowTitle("Back Up Archive")
        self.setWindowIcon(icon("backup"))
        self.form = dialog_form(self, "backup_dialog")

        self.last_label = child(self.form, QLabel, "lastBackupLabel")
        self.overdue_label = child(self.form, QLabel, "overdueLabel")
        self.destination_edit = child(self.form, QLineEdit, "destinationEdit")
        self.browse_button = child(self.form, QPushButton, "browseButton")
        self.reminder_spin = child(self.form, QSpinBox, "reminderSpin")
        self.result_text = child(self.form, QPlainTextEdit, "resultText")
        self.backup_button = child(self.form, QPushButton, "backupButton")
        self.verify_button = child(self.form, QPushButton, "verifyButton")
        self.restore_button = child(self.form, QPushButton, "restoreButton")
        self.close_btn = child(self.form, QPushButton, "closeButton")
        child(self.form, QLabel, "iconLabel").setPixmap(icon("backup").pixmap(40, 40))
        font = self.last_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.last_label.setFont(font)
        self.overdue_label.setStyleSheet("color: #9a3412;")
        self.backup_button.setIcon(icon("backup"))
        self.backup_button.setDefault(True)

        self.recheck_next = False
        self.job: Job | None = None
        self.last_result: Any = None
        destination = core.backup_destination(archive)
        self.destination_edit.setText(str(destination) if destination else "")
        self.reminder_spin.setValue(core.reminder_days(archive))

        self.browse_button.clicked.connect(self.choose_destination)
        # typed or pasted (a share path such as \\server\backups is quicker typed than browsed)
        self.destination_edit.textChanged.connect(lambda _t: self.refresh())
        self.destination_edit.editingFinished.connect(self._destination_typed)
        self.backup_button.clicked.connect(self.start_backup)
        self.verify_button.clicked.connect(self.start_verify)
        self.restore_button.clicked.connect(self.start_restore)
        self.close_btn.clicked.connect(self.reject)
        self.reminder_spin.valueChanged.connect(self._reminder_changed)
        self.refresh()
        self.resize(640, 500)

    # -- state --------------------------------------------------------------------------------
    def destination(self) -> Path | None:
        text = self.destination_edit.text().strip()
        return Path(text) if text else None

    def refresh(self) -> None:
        """Last backup time, reminder and which buttons make sense now."""
        self.last_label.setText(core.describe_last_backup(self.archive))
        overdue = core.backup_overdue(self.archive)
        days = core.reminder_days(self.archive)
        self.overdue_label.setText(
            f"A backup is due: the last one is more than {days} day{'s' if days != 1 else ''} old."
            if core.last_backup(self.archive) else "Back up now so a lost or broken computer loses no photo.")
        self.overdue_label.setVisible(overdue)
        busy = self.job is not None
        has_dest = self.destination() is not None
        self.backup_button.setEnabled(has_dest and not busy)
        self.backup_button.setText("Back Up and Repair" if self.recheck_next else "Back Up Now")
        self.verify_button.setEnabled(has_dest and not busy)
        self.restore_button.setEnabled(has_dest and not busy)
        self.browse_button.setEnabled(not busy)

    def _destination_typed(self) -> None:
        dest = self.destination()
        if dest is not None and str(dest) != str(core.backup_destination(self.archive) or ""):
            self.recheck_next = False
            core.remember_destination(self.archive, str(dest))

    def choose_destination(self) -> None:
        start = str(self.destination() or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Choose the backup folder", start)
        if not chosen:
            return
        self.destination_edit.setText(chosen)
        self.recheck_next = False
        core.remember_destination(self.archive, chosen)
        self.refresh()

    def _reminder_changed(self, days: int) -> None:
        core.set_reminder_days(self.archive, days)
        self.refresh()

    # -- jobs ---------------------------------------------------------------------------------
    def _run(self, fn: Any, *args: Any, title: str, on_done: Any) -> None:
        self.result_text.setPlainText(f"{title}")

        def done(result: Any) -> None:
            self.job = None
            self.last_result = result
            on_done(result)
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.job = None
            self.last_result = exc
            self.result_text.setPlainText(str(exc) or type(exc).__name__)
            if not isinstance(exc, Cancelled):  # the user pressed Cancel: the text above says so
                messages.show_error(self, exc, TITLE)
            self.refresh()

        self.job = run_job(fn, *args, parent=self, title=title, with_progress=True,
                           on_done=done, on_error=failed)
        self.refresh()

    def start_backup(self) -> None:
        dest = self.destination()
        if dest is None:
            return
        self._run(partial(core.backup, recheck=self.recheck_next), self.archive, dest,
                  title="Backing up…", on_done=self._backup_done)

    def _backup_done(self, summary: core.BackupSummary) -> None:
        self.recheck_next = False
        self.result_text.setPlainText("\n".join(summary.lines()))
        if summary.problems:
            messages.warning(self, "\n".join(summary.lines()), TITLE)

    def start_verify(self) -> None:
        dest = self.destination()
        if dest is None:
            return
        self._run(partial(core.verify_backup, archive=self.archive), dest,
                  title="Checking the backup…", on_done=self._verify_done)

    def _verify_done(self, check: core.BackupCheck) -> None:
        lines = check.lines()
        if not check.ok:
            self.recheck_next = True
            lines[-1] = (f"The backup has {plural(len(check.problems), 'problem')}. Press “Back Up and Repair” to "
                         "copy good files from the archive over the damaged or missing ones.")
        self.result_text.setPlainText("\n".join(lines))

    def start_restore(self) -> None:
        dest = self.destination()
        if dest is None:
            return
        target = QFileDialog.getExistingDirectory(
            self, "Choose an empty folder for the restored archive", str(dest.parent))
        if not target:
            return
        self._run(partial(core.restore, archive=self.archive), dest, Path(target),
                  title="Restoring into a new folder…", on_done=self._restore_done)

    def _restore_done(self, summary: core.RestoreSummary) -> None:
        self.result_text.setPlainText("\n".join(summary.lines()))
        messages.info(self, "\n".join(summary.lines()), TITLE)

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.finished.wait(30)
        super().reject()
