"""Knowledge pane: search the knowledge base, read a hit in its document, browse reference
tables, and re-index.

Searches and lookups run through ``CoreOp`` (a worker thread); re-indexing is the
``index-documents`` job, followed through the ``JobMonitor``.
"""

from __future__ import annotations

from typing import Any

from core.errors import ScriptoriumError
from core.ingest.model import DOCUMENT_KINDS
from core.jobs import JobStatus
from core.retrieval.ann import ANN_MIN_ROWS
from core.retrieval.ranking import highlight_html
from core.retrieval.search import SEARCH_MODES, Passage, SearchResult
from desktop.errors import show_error
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    Qt,
    QTabWidget,
    QTextCursor,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.dates import local_time
from desktop.widgets.job_progress import JobProgress
from desktop.widgets.reference_tables import ReferenceTables

ALL_KINDS = "all kinds"
INDEX_JOB = "index-documents"


def result_html(result: SearchResult) -> str:
    """A result as rich text: source, section and page, then the text with terms in bold."""
    where = " › ".join(result.section) or "—"
    page = f", page {result.page}" if result.page else ""
    head = (f"<b>{_escape(result.title)}</b> <small>(v{result.version}, {result.kind}) — "
            f"{_escape(where)}{page}</small>")  # best first; the raw score means nothing here
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
        self._search_serial = 0

        self.references = ReferenceTables()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("knowledgeTabs")
        self.tabs.addTab(self._search_tab(), "Search")
        self.tabs.addTab(self.references, "Reference tables")

        # -- index status ---------------------------------------------------------------
        self.status = QLabel()
        self.status.setObjectName("indexStatus")
        self.progress = JobProgress(monitor, "indexProgress")
        self.progress.ended.connect(self._on_index_ended)
        self.progress.setVisible(False)
        self.reindex_button = button("Re-index", "reindex", self.reindex,
                                     "Index new and changed documents (a background job).")
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress, 1)
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
        monitor.finished.connect(self._on_job_finished)
        self.refresh()

    def _search_tab(self) -> QWidget:
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
        self.search_button = button("Search", "knowledgeSearch", self.run_search)
        self.results_list = QListWidget()
        self.results_list.setObjectName("knowledgeResults")
        self.results_list.setWordWrap(True)
        self.results_list.currentRowChanged.connect(lambda _: self._update_buttons())
        self.results_list.itemDoubleClicked.connect(lambda _: self.open_passage())
        self.message = QLabel()
        self.message.setObjectName("knowledgeMessage")
        self.message.setWordWrap(True)
        self.open_button = button("Open source passage", "openPassage", self.open_passage)
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
        return search_tab

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
        self.references.load(workspace)

    def _show_status(self, status: dict[str, Any]) -> None:
        if not status["built"]:
            self.status.setText("Not indexed yet: press Re-index to build the knowledge base.")
        else:
            stale = len(status["out_of_date"])
            self.status.setText(
                f"{status['documents']:,} documents, {status['chunks']:,} passages, "
                f"{status['reference_rows']:,} reference rows — updated "
                f"{local_time(status['last_update'])}"
                + (f" — {stale} document(s) out of date" if stale else ""))
            trained = status.get("approximate_index_rows")
            self.status.setToolTip(
                f"Searches use a fast approximate index over {trained:,} passages (built "
                "once the knowledge base passed "
                f"{ANN_MIN_ROWS:,}); it finds nearly always what comparing every passage would."
                if trained else "Searches compare the question with every passage.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_workspace = self.state.workspace is not None
        self.reindex_button.setEnabled(has_workspace and not self.progress.running)
        self.search_button.setEnabled(has_workspace)
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
            item.setToolTip(f"{result.doc_id} v{result.version} (rank score "
                            f"{result.score:.3f})")
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

    # -- re-indexing ------------------------------------------------------------------------
    def reindex(self) -> None:
        if self.state.workspace is None:
            return
        self.progress.start(INDEX_JOB, {}, "Index documents", "Waiting to start…")
        self.progress.setVisible(True)
        self._update_buttons()

    def _on_index_ended(self, status: JobStatus) -> None:
        if status.state != "succeeded":
            self.message.setText(status.error or f"Indexing {status.state}.")

    def _on_job_finished(self, job_id: str, status: JobStatus) -> None:
        """Any indexing job (this pane's, the import wizard's, the CLI's through the
        monitor) changes what the status line says."""
        if status.kind == INDEX_JOB:
            self.refresh_status()
            self._update_buttons()
