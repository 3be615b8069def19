"""Merge pane: merged models with their sources; the wizard makes a new one."""

from __future__ import annotations

import json

from core.workspace.registry import ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.dates import local_time

COLUMNS = ["Merged model", "Method", "Sources", "Created"]


class MergePane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-merge")
        self.state, self.monitor = state, monitor
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("mergedTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.new_button = QPushButton("New merge…")
        self.new_button.setObjectName("newMerge")
        self.new_button.clicked.connect(self.open_wizard)
        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Merge</h2>"))
        header.addStretch(1)
        header.addWidget(self.new_button)
        help_text = QLabel("Combine fine-tunes of the same base model — e.g. one trained on "
                           "defence vocabulary and one on rocketry — into one model.")
        help_text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(help_text)
        layout.addWidget(self.table, 1)
        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self.refresh)
        monitor.finished.connect(self._refresh_on)
        self.refresh()

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        workspace = self.state.workspace
        self.new_button.setEnabled(workspace is not None)
        records = [] if workspace is None else [
            r for r in ModelRegistry(workspace).list() if r.kind == "merged"
            and r.config.get("method")]
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            sources = ", ".join(str(m.get("model", m)) if isinstance(m, dict) else str(m)
                                for m in record.config.get("models", []))
            values = [record.id, str(record.config.get("method")), sources or
                      json.dumps(list(record.parents)), local_time(record.created)]
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))

    def open_wizard(self) -> None:
        from desktop.wizards.merge_wizard import MergeWizard

        if self.state.workspace is not None:
            MergeWizard(self.state, self.monitor, self).open()
