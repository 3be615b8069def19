"""Knowledge pane: search the knowledge base, read a hit in its document, browse reference
tables, and re-index.

Searches and lookups run through ``CoreOp`` (a worker thread); re-indexing is the
``index-documents`` job, followed through the ``JobMonitor``.
"""

from __future__ import annotations

from typing import Any

from core.errors import ScriptoriumError
from core.ingest.model import DOCUMENT_KINDS
from core.jobs.progress import ProgressEvent
from core.retrieval.ranking import highlight_html
from core.retrieval.search import SEARCH_MODES, Passage, SearchResult
from desktop.errors import show_error
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextCursor,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState

ALL_KINDS = "all kinds"
INDEX_JOB = "index-documents"


def result_html(result: SearchResult) -> str:
    """A result as rich text: source, section and page, then the text with terms in bold."""
    where = " › ".join(result.section) or "—"
    page = f", page {result.page}" if result.page else ""
    head = (f"<b>{_escape(result.title)}</b> <small>(v{result.version}, {result.kind}) — "
            f"{_escape(where)}{page} · score {result.score:.3f}</small>")
    return f"{head}<br>{highlight_html(result.text, result.spans).replace(chr(10), '<br>')}"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


class KnowledgePane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-knowledge")
        self.state = state
        self.monitor = monitor
        self.results: list[SearchResult] = []
        self.reference_rows: list[Any] = []
        self.index_job: str | None = None
        self._search_serial = 0

        # -- search tab --------------------------------------------------------------
        self.query = QLineEdit()
        self.query.setObjectName("knowledgeQuery")
        self.query.setPlaceholderText("Search your documents, e.g. “24x7 monitoring”")
        self.query.returnPressed.connect(self.run_search)
        self.mode = QComboBox()
        self.mode.setObjectName("knowledgeMode")
        self.mode.addItems(list(SEARCH_MODES))
        self.kind = QComboBox()
        self.kind.setObjectName("knowledgeKind")
        self.kind.addItems([ALL_KINDS, *DOCUMENT_KINDS])
        self.tags = QLineEdit()
        self.tags.setObjectName("knowledgeTags")
        self.tags.setPlaceholderText("tags, comma-separated")
        self.tags.setToolTip("Only documents carrying all of these tags")
        self.tags.returnPressed.connect(self.run_search)
        self.since = QLineEdit()
        self.since.setObjectName("knowledgeSince")
        self.since.setPlaceholderText("since YYYY-MM-DD")
        self.since.setToolTip("Only documents imported on or after this day")
        self.since.returnPressed.connect(self.run_search)
        self.until = QLineEdit()
        self.until.setObjectName("knowledgeUntil")
        self.until.setPlaceholderText("until YYYY-MM-DD")
        self.until.setToolTip("Only documents imported on or before this day")
        self.until.returnPressed.connect(self.run_search)
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("knowledgeSearch")
        self.search_button.clicked.connect(self.run_search)
        self.results_list = QListWidget()
        self.results_list.setObjectName("knowledgeResults")
        self.results_list.setWordWrap(True)
        self.results_list.currentRowChanged.connect(lambda _: self._update_buttons())
        self.results_list.itemDoubleClicked.connect(lambda _: self.open_passage())
        self.message = QLabel()
        self.message.setObjectName("knowledgeMessage")
        self.message.setWordWrap(True)
        self.open_button = QPushButton("Open source passage")
        self.open_button.setObjectName("openPassage")
        self.open_button.clicked.connect(self.open_passage)
        self.viewer = QPlainTextEdit()
        self.viewer.setObjectName("passageViewer")
        self.viewer.setReadOnly(True)
        self.viewer.setPlaceholderText("Open a result to read it in its document.")
        self.viewer_title = QLabel()
        self.viewer_title.setObjectName("passageTitle")

        bar = QHBoxLayout()
        bar.addWidget(self.query, 1)
        bar.addWidget(self.mode)
        bar.addWidget(self.kind)
        bar.addWidget(self.search_button)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Filter:"))
        filters.addWidget(self.tags, 2)
        filters.addWidget(self.since, 1)
        filters.addWidget(self.until, 1)
        reader = QWidget()
        reader_layout = QVBoxLayout(reader)
        reader_layout.setContentsMargins(0, 0, 0, 0)
        reader_layout.addWidget(self.viewer_title)
        reader_layout.addWidget(self.viewer, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.results_list)
        splitter.addWidget(reader)
        splitter.setSizes([320, 260])
        search_tab = QWidget()
        search_layout = QVBoxLayout(search_tab)
        search_layout.addLayout(bar)
        search_layout.addLayout(filters)
        search_layout.addWidget(self.message)
        search_layout.addWidget(splitter, 1)
        open_row = QHBoxLayout()
        open_row.addStretch(1)
        open_row.addWidget(self.open_button)
        search_layout.addLayout(open_row)

        # -- reference tables tab -----------------------------------------------------
        self.table_choice = QComboBox()
        self.table_choice.setObjectName("referenceTableChoice")
        self.table_choice.currentIndexChanged.connect(lambda _: self._show_reference_rows())
        self.lookup_box = QLineEdit()
        self.lookup_box.setObjectName("referenceLookup")
        self.lookup_box.setPlaceholderText("Look up a code or name, e.g. NAS-SE-03")
        self.lookup_box.returnPressed.connect(self.run_lookup)
        self.lookup_button = QPushButton("Look up")
        self.lookup_button.setObjectName("referenceLookupButton")
        self.lookup_button.clicked.connect(self.run_lookup)
        self.reference_table = QTableWidget(0, 0)
        self.reference_table.setObjectName("referenceRows")
        self.reference_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.reference_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.reference_table.verticalHeader().hide()
        reference_tab = QWidget()
        reference_layout = QVBoxLayout(reference_tab)
        top = QHBoxLayout()
        top.addWidget(QLabel("Table:"))
        top.addWidget(self.table_choice, 1)
        top.addWidget(self.lookup_box, 1)
        top.addWidget(self.lookup_button)
        reference_layout.addLayout(top)
        reference_layout.addWidget(self.reference_table, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("knowledgeTabs")
        self.tabs.addTab(search_tab, "Search")
        self.tabs.addTab(reference_tab, "Reference tables")

        # -- index status ---------------------------------------------------------------
        self.status = QLabel()
        self.status.setObjectName("indexStatus")
        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.progress.setVisible(False)
        self.reindex_button = QPushButton("Re-index")
        self.reindex_button.setObjectName("reindex")
        self.reindex_button.setToolTip("Index new and changed documents (a background job).")
        self.reindex_button.clicked.connect(self.reindex)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)
        status_row.addWidget(self.reindex_button)

        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Knowledge base</h2>"))
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(status_row)

        state.workspace_changed.connect(self._refresh_on)
        state.documents_changed.connect(self.refresh_status)
        monitor.event.connect(self._on_job_event)
        monitor.finished.connect(self._on_job_finished)
        self.refresh()

    # -- state ------------------------------------------------------------------------
    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        self.results = []
        self.results_list.clear()
        self.viewer.clear()
        self.viewer_title.clear()
        self.message.clear()
        self.refresh_status()
        self._update_buttons()

    def refresh_status(self) -> None:
        workspace = self.state.workspace
        if workspace is None:
            self.status.setText("No workspace open.")
            self._update_buttons()
            return
        from core.retrieval.index import index_status

        CoreOp(self, lambda: index_status(workspace)).success(self._show_status).run()
        self._load_reference_rows()

    def _show_status(self, status: dict[str, Any]) -> None:
        if not status["built"]:
            self.status.setText("Not indexed yet: press Re-index to build the knowledge base.")
        else:
            stale = len(status["out_of_date"])
            self.status.setText(
                f"{status['documents']} documents, {status['chunks']} chunks, "
                f"{status['reference_rows']} reference rows — last update "
                f"{status['last_update']}" + (f" — {stale} document(s) out of date" if stale
                                              else ""))
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_workspace = self.state.workspace is not None
        indexing = self.index_job is not None and self.monitor.is_running(self.index_job)
        self.reindex_button.setEnabled(has_workspace and not indexing)
        self.search_button.setEnabled(has_workspace)
        self.lookup_button.setEnabled(has_workspace)
        self.open_button.setEnabled(self.results_list.currentRow() >= 0)

    # -- search -----------------------------------------------------------------------
    def run_search(self) -> None:
        workspace, query = self.state.workspace, self.query.text().strip()
        if workspace is None or not query:
            return
        from core.retrieval.search import search

        mode = self.mode.currentText()
        kind = self.kind.currentText()
        kinds = () if kind == ALL_KINDS else (kind,)
        tags = tuple(t.strip() for t in self.tags.text().split(",") if t.strip())
        since = self.since.text().strip() or None
        until = self.until.text().strip() or None
        self._search_serial += 1
        serial = self._search_serial
        self.message.setText("Searching…")
        CoreOp(self, lambda: search(workspace, query, k=10, mode=mode, kinds=kinds, tags=tags,
                                    since=since, until=until)).success(
            lambda results: self._show_results(serial, results)).failure(
            lambda error: self._failed(serial, error)).run()

    def _failed(self, serial: int, error: BaseException) -> None:
        if serial != self._search_serial:
            return
        if isinstance(error, ScriptoriumError):
            self.message.setText(str(error))
        else:
            self.message.clear()
            show_error(self, error)

    def _show_results(self, serial: int, results: list[SearchResult]) -> None:
        if serial != self._search_serial:
            return  # an older search finished after a newer one started
        self.results = results
        self.results_list.clear()
        for result in results:
            item = QListWidgetItem()
            label = QLabel(result_html(result))
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setObjectName("knowledgeResult")
            item.setSizeHint(label.sizeHint())
            item.setData(Qt.ItemDataRole.UserRole, result.chunk_id)
            item.setToolTip(f"{result.doc_id} v{result.version}")
            self.results_list.addItem(item)
            self.results_list.setItemWidget(item, label)
        self.message.setText(f"{len(results)} result(s)" if results else "No results.")
        if results:
            self.results_list.setCurrentRow(0)
        self._update_buttons()

    def result_label(self, row: int) -> QLabel:
        return self.results_list.itemWidget(self.results_list.item(row))  # type: ignore[return-value]

    def open_passage(self) -> None:
        row, workspace = self.results_list.currentRow(), self.state.workspace
        if workspace is None or not 0 <= row < len(self.results):
            return
        from core.retrieval.search import passage_context

        result = self.results[row]
        CoreOp(self, lambda: passage_context(workspace, result)).success(self._show_passage).run()

    def _show_passage(self, passage: Passage) -> None:
        self.viewer_title.setText(f"<b>{_escape(passage.title)}</b> (version {passage.version})")
        self.viewer.setPlainText(passage.text)
        cursor = self.viewer.textCursor()
        cursor.setPosition(passage.start)
        cursor.setPosition(passage.end, QTextCursor.MoveMode.KeepAnchor)
        self.viewer.setTextCursor(cursor)
        self.viewer.centerCursor()

    # -- reference tables -----------------------------------------------------------------
    def _load_reference_rows(self) -> None:
        workspace = self.state.workspace
        if workspace is None:
            return
        from core.retrieval.reference import all_rows
        from core.retrieval.store import read_manifest

        def load() -> list[Any]:
            return all_rows(workspace) if read_manifest(workspace).active else []

        CoreOp(self, load).success(self._set_reference_rows).run()

    def _set_reference_rows(self, rows: list[Any]) -> None:
        self.reference_rows = rows
        current = self.table_choice.currentData()
        self.table_choice.blockSignals(True)
        self.table_choice.clear()
        seen: dict[str, str] = {}
        for row in rows:
            seen.setdefault(row.doc_id, row.title)
        for doc_id, title in seen.items():
            self.table_choice.addItem(title, doc_id)
        if current in seen:
            self.table_choice.setCurrentIndex(list(seen).index(current))
        self.table_choice.blockSignals(False)
        self._show_reference_rows()

    def _show_reference_rows(self, rows: list[Any] | None = None) -> None:
        if rows is None:
            doc_id = self.table_choice.currentData()
            rows = [r for r in self.reference_rows if r.doc_id == doc_id]
        columns: list[str] = []
        for row in rows:
            columns.extend(c for c in row.fields if c not in columns)
        self.reference_table.clear()
        self.reference_table.setColumnCount(len(columns))
        self.reference_table.setHorizontalHeaderLabels(columns)
        self.reference_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                item = QTableWidgetItem(row.fields.get(column, ""))
                item.setToolTip(f"{row.title}, row {row.row + 1} ({row.match})")
                self.reference_table.setItem(r, c, item)
        if columns:
            self.reference_table.horizontalHeader().setSectionResizeMode(
                len(columns) - 1, QHeaderView.ResizeMode.Stretch)

    def run_lookup(self) -> None:
        workspace, term = self.state.workspace, self.lookup_box.text().strip()
        if workspace is None:
            return
        if not term:
            self._show_reference_rows()
            return
        from core.retrieval.reference import lookup

        CoreOp(self, lambda: lookup(workspace, term, limit=200)).success(
            self._show_reference_rows).run()

    # -- re-indexing ------------------------------------------------------------------------
    def reindex(self) -> None:
        if self.state.workspace is None:
            return
        self.index_job = self.monitor.submit(INDEX_JOB, {}, "Index documents")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._update_buttons()

    def _on_job_event(self, job_id: str, event: ProgressEvent) -> None:
        if job_id != self.index_job or event.type != "progress" or event.total <= 0:
            return
        self.progress.setRange(0, event.total)
        self.progress.setValue(event.step)
        self.progress.setFormat(f"%p% {event.message[:40]}")

    def _on_job_finished(self, job_id: str, status: Any) -> None:
        if getattr(status, "kind", "") != INDEX_JOB:
            return
        if job_id == self.index_job:
            self.index_job = None
            if status.state == "succeeded":
                self.progress.setRange(0, 1)
                self.progress.setValue(1)
            else:
                self.progress.setVisible(False)
                self.message.setText(status.error or f"Indexing {status.state}.")
        self.refresh_status()
        self._update_buttons()
