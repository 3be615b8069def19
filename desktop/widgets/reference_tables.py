"""The Knowledge pane's Reference tables tab: each indexed table (labour categories,
rates, codes…) row by row, and a lookup by code or name across them."""

from __future__ import annotations

from typing import Any

from core.workspace import Workspace
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.buttons import button


class ReferenceTables(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace: Workspace | None = None
        self.rows: list[Any] = []
        self.table_choice = QComboBox()
        self.table_choice.setObjectName("referenceTableChoice")
        self.table_choice.currentIndexChanged.connect(lambda _: self.show_rows())
        self.lookup_box = QLineEdit()
        self.lookup_box.setObjectName("referenceLookup")
        self.lookup_box.setPlaceholderText("Look up a code or name, e.g. NAS-SE-03")
        self.lookup_box.returnPressed.connect(self.run_lookup)
        self.lookup_button = button("Look up", "referenceLookupButton", self.run_lookup)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("referenceRows")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        top = QHBoxLayout()
        top.addWidget(QLabel("Table:"))
        top.addWidget(self.table_choice, 1)
        top.addWidget(self.lookup_box, 1)
        top.addWidget(self.lookup_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def load(self, workspace: Workspace | None) -> None:
        """Read the workspace's reference rows (on a worker thread) and show them."""
        self.workspace = workspace
        self.lookup_button.setEnabled(workspace is not None)
        if workspace is None:
            self._set_rows([])
            return
        from core.retrieval.reference import all_rows
        from core.retrieval.store import read_manifest

        def load() -> list[Any]:
            return all_rows(workspace) if read_manifest(workspace).active else []

        CoreOp(self, load).success(self._set_rows).run()

    def _set_rows(self, rows: list[Any]) -> None:
        self.rows = rows
        current = self.table_choice.currentData()
        self.table_choice.blockSignals(True)
        self.table_choice.clear()
        tables: dict[str, str] = {}
        for row in rows:
            tables.setdefault(row.doc_id, row.title)
        for doc_id, title in tables.items():
            self.table_choice.addItem(title, doc_id)
        if current in tables:
            self.table_choice.setCurrentIndex(list(tables).index(current))
        self.table_choice.blockSignals(False)
        self.show_rows()

    def show_rows(self, rows: list[Any] | None = None) -> None:
        """``rows`` (a lookup's), else every row of the chosen table."""
        if rows is None:
            doc_id = self.table_choice.currentData()
            rows = [r for r in self.rows if r.doc_id == doc_id]
        columns: list[str] = []
        for row in rows:
            columns.extend(c for c in row.fields if c not in columns)
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                item = QTableWidgetItem(row.fields.get(column, ""))
                item.setToolTip(f"{row.title}, row {row.row + 1} ({row.match})")
                self.table.setItem(r, c, item)
        if columns:
            self.table.horizontalHeader().setSectionResizeMode(
                len(columns) - 1, QHeaderView.ResizeMode.Stretch)

    def run_lookup(self) -> None:
        workspace, term = self.workspace, self.lookup_box.text().strip()
        if workspace is None:
            return
        if not term:
            self.show_rows()
            return
        from core.retrieval.reference import lookup

        CoreOp(self, lambda: lookup(workspace, term, limit=200)).success(self.show_rows).run()
