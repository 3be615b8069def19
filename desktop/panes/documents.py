"""Documents pane: the workspace's documents with kind, versions, pairs and text preview."""

from __future__ import annotations

from core.ingest.model import DOCUMENT_KINDS, DocumentRecord
from core.ingest.store import DocumentStore
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState

DOCUMENT_JOBS = {"import-documents", "populate-sample"}
COLUMNS = ["Title", "Kind", "Version", "Format", "Pages", "Characters", "Paired with", "Warnings"]


class DocumentsPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-documents")
        self.state = state
        self.monitor = monitor
        self.records: list[DocumentRecord] = []

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("documentsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("documentText")
        self.preview.setReadOnly(True)
        self.preview.setPlaceholderText("Select a document to read its extracted text.")
        self.summary = QLabel()
        self.summary.setObjectName("documentsSummary")

        self.import_button = QPushButton("Import documents…")
        self.import_button.setObjectName("importDocuments")
        self.import_button.clicked.connect(self.open_import_wizard)
        self.pair_button = QPushButton("Pair RFP ↔ proposal")
        self.pair_button.setObjectName("pairDocuments")
        self.pair_button.setToolTip("Select one RFP and one proposal, then pair them.")
        self.pair_button.clicked.connect(self._pair_selected)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("removeDocument")
        self.remove_button.clicked.connect(self._remove_selected)

        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Documents</h2>"))
        header.addStretch(1)
        for button in (self.import_button, self.pair_button, self.remove_button):
            header.addWidget(button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.preview)
        splitter.setSizes([380, 220])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.summary)

        state.workspace_changed.connect(self._refresh_on)
        state.documents_changed.connect(self.refresh)
        monitor.finished.connect(self._on_job_finished)
        self.refresh()

    def _store(self) -> DocumentStore | None:
        return DocumentStore(self.state.workspace) if self.state.workspace else None

    def _on_job_finished(self, _job_id: str, status: object) -> None:
        if getattr(status, "kind", "") in DOCUMENT_JOBS:
            self.refresh()

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        store = self._store()
        self.records = store.list() if store else []
        titles = {r.id: r.title for r in self.records}
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            latest = record.latest
            title = QTableWidgetItem(record.title)
            title.setData(Qt.ItemDataRole.UserRole, record.id)
            title.setToolTip(f"{record.id}\n{latest.source_name}")
            self.table.setItem(row, 0, title)
            kind = QComboBox()
            kind.addItems(list(DOCUMENT_KINDS))
            kind.setCurrentText(record.kind)
            kind.currentTextChanged.connect(lambda value, doc=record.id: self._set_kind(doc, value))
            self.table.setCellWidget(row, 1, kind)
            values = [
                str(latest.version), latest.format, str(latest.pages or "-"),
                f"{latest.characters:,}",
                ", ".join(titles.get(p, p) for p in record.paired_with) or "-",
                "; ".join(latest.warnings) or "",
            ]
            for column, value in enumerate(values, start=2):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        if store:
            counts = store.summary()
            self.summary.setText(
                f"{counts['documents']} documents — {counts['rfp']} RFPs, {counts['proposal']} "
                f"proposals, {counts['reference']} reference, {counts['other']} other; "
                f"{counts['characters']:,} characters"
            )
        else:
            self.summary.setText("No workspace open.")
        self.import_button.setEnabled(store is not None)
        self._update_buttons()

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.records[row].id for row in rows if row < len(self.records)]

    def _update_buttons(self) -> None:
        selected = self.selected_ids()
        self.remove_button.setEnabled(bool(selected))
        kinds = sorted(r.kind for r in self.records if r.id in selected)
        self.pair_button.setEnabled(kinds == ["proposal", "rfp"])

    def _show_selected(self) -> None:
        self._update_buttons()
        store, selected = self._store(), self.selected_ids()
        if not store or len(selected) != 1:
            self.preview.clear()
            return
        doc_id = selected[0]
        CoreOp(self, lambda: store.text(doc_id)).success(self.preview.setPlainText).run()

    def _set_kind(self, doc_id: str, kind: str) -> None:
        store = self._store()
        if store:
            CoreOp(self, lambda: store.set_kind(doc_id, kind)).success(
                lambda _: self.state.documents_changed.emit()).run()

    def _pair_selected(self) -> None:
        store = self._store()
        by_kind = {r.kind: r.id for r in self.records if r.id in self.selected_ids()}
        if store and "rfp" in by_kind and "proposal" in by_kind:
            CoreOp(self, lambda: store.pair(by_kind["rfp"], by_kind["proposal"])).success(
                lambda _: self.state.documents_changed.emit()).run()

    def _remove_selected(self) -> None:
        store, selected = self._store(), self.selected_ids()
        if not store or not selected:
            return
        answer = QMessageBox.question(
            self, "Remove documents",
            f"Remove {len(selected)} document(s) from the workspace? Models trained on them "
            "keep their lineage; the files stay in the workspace history.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            CoreOp(self, lambda: [store.remove(doc_id) for doc_id in selected]).success(
                lambda _: self.state.documents_changed.emit()).run()

    def open_import_wizard(self) -> None:
        from desktop.wizards.import_wizard import ImportWizard

        if self.state.workspace is None:
            return
        wizard = ImportWizard(self.state, self.monitor, self)
        wizard.open()
