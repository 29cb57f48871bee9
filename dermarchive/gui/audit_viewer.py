"""Tools ▸ Audit log…: the archive's audit log, filtered by patient (NHI), user, action and date;
exported as CSV; and Verify (the whole archive, with progress and cancel, in a worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, QStandardPaths, Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QDialog, QFileDialog,
                               QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from ..workflows import audit_log
from . import messages
from .forms import fit_to_screen
from .jobs import run_job

HEADERS = ("#", "When", "User", "Action", "Subject", "Details")
Index = QModelIndex | QPersistentModelIndex


def _ids(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items()))


class AuditModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []

    def set_entries(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) or not index.isValid():
            return None
        e = self.rows[index.row()]
        return (e.seq, e.at[:19].replace("T", " "), e.user, e.action, _ids(e.subject), _ids(e.details))[index.column()]


class AuditLogDialog(QDialog):
    def __init__(self, archive: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.setWindowTitle("Audit log")
        self.entries: list[Any] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        filters = QGridLayout()
        self.patient_edit = self._named(QLineEdit(), "patientFilter", "Filter by patient NHI")
        self.patient_edit.setPlaceholderText("NHI")
        users, actions = audit_log.users_and_actions(archive)
        self.user_combo = self._named(QComboBox(), "userFilter", "Filter by user")
        self.user_combo.addItem("Any user", "")
        for u in users:
            self.user_combo.addItem(u, u)
        self.action_combo = self._named(QComboBox(), "actionFilter", "Filter by action")
        self.action_combo.addItem("Any action", "")
        for a in actions:
            self.action_combo.addItem(a, a)
        self.since_check = self._named(QCheckBox("&From"), "sinceCheck", "Only entries from this date")
        self.since_edit = self._named(QDateEdit(QDate.currentDate().addDays(-30)), "sinceDate", "From date")
        self.until_check = self._named(QCheckBox("&To"), "untilCheck", "Only entries up to this date")
        self.until_edit = self._named(QDateEdit(QDate.currentDate()), "untilDate", "To date")
        for edit in (self.since_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        for col, (label, widget) in enumerate((("&Patient:", self.patient_edit), ("&User:", self.user_combo),
                                               ("&Action:", self.action_combo))):
            text = QLabel(label)
            text.setBuddy(widget)
            filters.addWidget(text, 0, col * 2)
            filters.addWidget(widget, 0, col * 2 + 1)
        dates = QHBoxLayout()
        for w in (self.since_check, self.since_edit, self.until_check, self.until_edit):
            dates.addWidget(w)
        dates.addStretch(1)
        filters.addLayout(dates, 1, 0, 1, 6)
        layout.addLayout(filters)
        self.model = AuditModel(self)
        self.table = self._named(QTableView(), "auditTable", "Audit entries")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.count_label = self._named(QLabel(), "countLabel", "Number of entries shown")
        layout.addWidget(self.count_label)
        buttons = QHBoxLayout()
        self.verify_button = self._named(QPushButton("&Verify archive…"), "verifyButton", "Verify the archive")
        self.export_button = self._named(QPushButton("&Export CSV…"), "exportButton", "Export the shown entries as CSV")
        self.close_button = self._named(QPushButton("Close"), "closeButton", "Close")
        buttons.addWidget(self.verify_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.patient_edit.textChanged.connect(self.refilter)
        for combo in (self.user_combo, self.action_combo):
            combo.currentIndexChanged.connect(self.refilter)
        for check, edit in ((self.since_check, self.since_edit), (self.until_check, self.until_edit)):
            check.toggled.connect(self.refilter)
            check.toggled.connect(edit.setEnabled)
            edit.setEnabled(False)
        for edit in (self.since_edit, self.until_edit):
            edit.dateChanged.connect(self.refilter)
        self.export_button.clicked.connect(self.export_csv)
        self.verify_button.clicked.connect(self.verify)
        self.close_button.clicked.connect(self.accept)
        fit_to_screen(self, 980, 600)
        self.refilter()

    @staticmethod
    def _named(widget: Any, name: str, accessible: str) -> Any:
        widget.setObjectName(name)
        widget.setAccessibleName(accessible)
        return widget

    def current_filter(self) -> audit_log.AuditFilter:
        nhi = self.patient_edit.text().strip()
        return audit_log.AuditFilter(
            patient_nhi=nhi if len(nhi) == 7 else "", user=self.user_combo.currentData(),
            action=self.action_combo.currentData(),
            since=self.since_edit.date().toString("yyyy-MM-dd") if self.since_check.isChecked() else "",
            until=self.until_edit.date().toString("yyyy-MM-dd") if self.until_check.isChecked() else "")

    def refilter(self, *_: Any) -> None:
        try:
            self.entries = audit_log.entries(self.archive, self.current_filter())
            note = ""
        except Exception as exc:  # noqa: BLE001 - an unknown NHI: say so, show nothing
            from ..errors import DermArchiveError
            if not isinstance(exc, DermArchiveError):
                raise
            self.entries, note = [], f" — {exc}"
        self.model.set_entries(self.entries)
        self.count_label.setText(f"{len(self.entries)} entr{'y' if len(self.entries) == 1 else 'ies'}{note}")
        self.export_button.setEnabled(bool(self.entries))
        self.export_button.setToolTip("" if self.entries else "No entries to export with these filters.")

    def export_csv(self) -> None:
        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        path, _ = QFileDialog.getSaveFileName(self, "Export audit log", str(Path(docs) / "audit-log.csv"),
                                              "CSV files (*.csv)")
        if not path:
            return
        try:
            n = audit_log.write_csv(self.archive, self.entries, Path(path))
        except OSError as exc:
            messages.warning(self, f"Could not write {path}: {exc.strerror}.")
            return
        messages.info(self, f"Exported {n} audit entries to {path}.")

    def verify(self) -> None:
        self.verify_button.setEnabled(False)

        def done(problems: list[str]) -> None:
            self.verify_button.setEnabled(True)
            if problems:
                messages.warning(self, "Verify found problems:\n" + "\n".join(problems[:30]))
            else:
                messages.info(self, "Archive verified: catalogue, every stored image and the audit chain are intact.")
            self.refilter()

        def failed(exc: BaseException) -> None:
            self.verify_button.setEnabled(True)
            messages.show_error(self, exc)

        self.job = run_job(audit_log.verify_archive, self.archive, parent=self, title="Verifying the archive…",
                           with_progress=True, on_done=done, on_error=failed)
