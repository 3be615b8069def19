"""Documents pane: the workspace's documents with kind, versions, pairs and text preview."""

from __future__ import annotations

from core.ingest.model import DOCUMENT_KINDS, DocumentRecord
from core.ingest.store import DocumentStore
from core.retrieval.store import index_paths
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
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("documentText")
        self.preview.setReadOnly(True)
        self.preview.setPlaceholderText("Select a document to read its extracted text.")
        self.summary = QLabel()
        self.summary.setObjectName("documentsSummary")
        self.notice = QLabel()  # what the last action did (a rename): refresh keeps it
        self.notice.setObjectName("documentsNotice")
        self.notice.setWordWrap(True)

        self.import_button = QPushButton("Import documents…")
        self.import_button.setObjectName("importDocuments")
        self.import_button.clicked.connect(self.open_import_wizard)
        self.pair_button = QPushButton("Pair RFP ↔ proposal")
        self.pair_button.setObjectName("pairDocuments")
        self.pair_button.setToolTip("Select one RFP and one proposal, then pair them.")
        self.pair_button.clicked.connect(self._pair_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setObjectName("renameDocument")
        self.rename_button.setToolTip("Give the selected document a better title (or "
                                      "double-click its title): citations and exports use it.")
        self.rename_button.clicked.connect(self._rename_selected)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("removeDocument")
        self.remove_button.clicked.connect(self._remove_selected)

        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Documents</h2>"))
        header.addStretch(1)
        for button in (self.import_button, self.rename_button, self.pair_button,
                       self.remove_button):
            header.addWidget(button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.preview)
        splitter.setSizes([380, 220])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.notice)
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
        self.notice.clear()  # another workspace
        self.refresh()

    def refresh(self) -> None:
        store = self._store()
        self.records = store.list() if store else []
        titles = {r.id: r.title for r in self.records}
        self.table.blockSignals(True)  # filling the table is not the user editing a title
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
                item = QTableWidgetItem(value)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
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
        self.rename_button.setEnabled(len(selected) == 1)
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

    def _rename_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if len(rows) == 1:
            self.table.editItem(self.table.item(rows[0].row(), 0))

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        """The user edited a title: rename the document, then bring the index up to date
        so that citations use the new title."""
        store = self._store()
        if store is None or item.column() != 0:
            return
        doc_id = item.data(Qt.ItemDataRole.UserRole)
        record = next((r for r in self.records if r.id == doc_id), None)
        title = item.text()
        if record is None or " ".join(title.split()) == record.title:
            return

        def rename() -> bool:
            store.set_title(doc_id, title)
            return index_paths(store.workspace).manifest.exists()

        def renamed(indexed: bool) -> None:
            if indexed:  # the index has the old title: update it so citations use the new one
                self.monitor.submit("index-documents", {}, "Update the index (renamed document)")
            self.state.documents_changed.emit()
            self.notice.setText(f"Renamed to “{' '.join(title.split())}”" + (
                "; the knowledge base is being updated so that citations use it." if indexed
                else "."))

        CoreOp(self, rename).success(renamed).failure(
            lambda error: self._rename_failed(item, record.title, error)).run()

    def _rename_failed(self, item: QTableWidgetItem, title: str, error: BaseException) -> None:
        from desktop.errors import show_error

        self.table.blockSignals(True)
        item.setText(title)
        self.table.blockSignals(False)
        show_error(self, error)

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
