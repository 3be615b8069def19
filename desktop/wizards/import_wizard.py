"""Import wizard: pick files or a folder, preview and tag each, import, then pair.

Pages: Files → Review (extracted text, guessed kind the user can change) → Import
(a job with a progress bar and a per-file result list) → Pair (suggested RFP ↔ proposal
pairs, editable). The wizard builds configs only; the engine does the work.
"""

from __future__ import annotations

from pathlib import Path

from core.ingest import importer
from core.ingest.guess import PairSuggestion, best_pairs, suggest_pairs
from core.ingest.model import DOCUMENT_KINDS
from core.ingest.store import DocumentStore
from core.jobs import JobStatus
from core.jobs.results import ImportResult, result_of
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from desktop.state import AppState
from desktop.widgets.icons import icon
from desktop.widgets.job_progress import JobProgress

PREVIEW_CHARS = 20_000


class FilesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Choose documents")
        self.setSubTitle("PDF, DOCX, TXT/MD, HTML, CSV and JSONL. Folders are searched "
                         "recursively.")
        self.files = QListWidget()
        self.files.setObjectName("importFiles")
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        add_files = QPushButton("Add files…")
        add_files.clicked.connect(self._add_files)
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        for button in (add_files, add_folder, remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.files)

    def add_paths(self, paths: list[Path]) -> None:
        present = set(self.paths())
        for path in importer.expand_paths(paths, recursive=True):
            if path not in present:
                self.files.addItem(str(path))
                present.add(path)
        self.completeChanged.emit()

    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def _add_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Documents to import", "",
            "Documents (*.pdf *.docx *.txt *.md *.markdown *.html *.htm *.csv *.tsv *.xlsx "
            "*.jsonl);;All files (*)",
        )
        self.add_paths([Path(n) for n in names])

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to import")
        if folder:
            self.add_paths([Path(folder)])

    def _remove(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.files.count() > 0


class ReviewPage(QWizardPage):
    """One row per file: include?, kind (guessed, editable), what the parser found."""

    def __init__(self, files: FilesPage) -> None:
        super().__init__()
        self.setTitle("Review and tag")
        self.setSubTitle("Check the extracted text and the kind of each document. Files that "
                         "cannot be read are listed with the reason and left out.")
        self.files_page = files
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("reviewTable")
        self.table.setHorizontalHeaderLabels(["Import", "File", "Kind", "Found"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.text = QPlainTextEdit()
        self.text.setObjectName("previewText")
        self.text.setReadOnly(True)
        self.pending = QLabel()
        self.index = QCheckBox("Update the knowledge base afterwards, so that drafts can cite "
                               "these documents at once (recommended)")
        self.index.setObjectName("indexAfterImport")
        self.index.setChecked(True)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.text)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        layout.addWidget(self.pending)
        layout.addWidget(self.index)
        self.previews: dict[Path, importer.Preview] = {}
        self.paths: list[Path] = []

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        self.paths = self.files_page.paths()
        self.table.setRowCount(len(self.paths))
        for row, path in enumerate(self.paths):
            include = QCheckBox()
            include.setChecked(True)
            include.stateChanged.connect(lambda _=0: self.completeChanged.emit())
            self.table.setCellWidget(row, 0, include)
            self.table.setItem(row, 1, QTableWidgetItem(path.name))
            kind = QComboBox()
            kind.addItems(list(DOCUMENT_KINDS))
            self.table.setCellWidget(row, 2, kind)
            self.table.setItem(row, 3, QTableWidgetItem("reading…"))
            if path in self.previews:
                self._show_preview(row, self.previews[path])
            else:
                CoreOp(self, lambda p=path: importer.preview(p)).success(
                    lambda result, r=row, p=path: self._on_preview(r, p, result)
                ).failure(lambda error, r=row: self._on_failed(r, error)).run()
        self._update_pending()

    def _on_preview(self, row: int, path: Path, result: importer.Preview) -> None:
        self.previews[path] = result
        if row < len(self.paths) and self.paths[row] == path:
            self._show_preview(row, result)
        self._update_pending()

    def _on_failed(self, row: int, error: BaseException) -> None:
        self.table.setItem(row, 3, QTableWidgetItem(f"cannot preview: {error}"))
        self._update_pending()

    def _show_preview(self, row: int, result: importer.Preview) -> None:
        include: QCheckBox = self.table.cellWidget(row, 0)  # type: ignore[assignment]
        kind: QComboBox = self.table.cellWidget(row, 2)  # type: ignore[assignment]
        if result.error:
            include.setChecked(False)
            include.setEnabled(False)
            found = QTableWidgetItem(icon("fail"), result.error)
        else:
            kind.setCurrentText(result.kind)
            pages = f", {result.pages} pages" if result.pages else ""
            text = f"{len(result.blocks)} blocks{pages}"
            if result.warnings:
                text += " — " + "; ".join(result.warnings)
            found = QTableWidgetItem(text)
        self.table.setItem(row, 3, found)
        self.completeChanged.emit()

    def _update_pending(self) -> None:
        left = len(self.paths) - len([p for p in self.paths if p in self.previews])
        self.pending.setText(f"Reading {left} more file(s)…" if left else "")

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        result = self.previews.get(self.paths[rows[0].row()])
        if result is None:
            self.text.setPlainText("Still reading this file…")
        elif result.error:
            self.text.setPlainText(result.error)
        else:
            self.text.setPlainText(result.text()[:PREVIEW_CHARS])

    def chosen(self) -> dict[str, str]:
        """Path → kind for every file the user keeps."""
        result = {}
        for row, path in enumerate(self.paths):
            include: QCheckBox = self.table.cellWidget(row, 0)  # type: ignore[assignment]
            kind: QComboBox = self.table.cellWidget(row, 2)  # type: ignore[assignment]
            if include.isChecked():
                result[str(path)] = kind.currentText()
        return result

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return bool(self.chosen())


class RunPage(QWizardPage):
    """Runs the import job: a progress bar and one result line per file."""

    def __init__(self, review: ReviewPage, monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("Import")
        self.review = review
        self.monitor = monitor
        self.job = JobProgress(monitor, "importProgress")
        self.job.ended.connect(self._ended)
        self.bar, self.message = self.job.bar, self.job.label
        self.results = QTableWidget(0, 3)
        self.results.setObjectName("importResults")
        self.results.setHorizontalHeaderLabels(["File", "Result", "Details"])
        self.results.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.results.verticalHeader().hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.job)
        layout.addWidget(self.results, 1)
        self.status: JobStatus | None = None
        self.started = False

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        if self.started:
            return
        self.started = True
        kinds = self.review.chosen()
        config = {"paths": list(kinds), "kinds": kinds, "recursive": False,
                  "index": self.review.index.isChecked()}
        self.job.start("import-documents", config, "Import documents", "Importing…")

    def _ended(self, status: JobStatus) -> None:
        self.status = status
        imported = result_of(status, ImportResult)
        files = imported.files if imported else []
        self.results.setRowCount(len(files))
        for row, item in enumerate(files):
            details = item.get("message") or "; ".join(item.get("warnings") or [])
            for column, value in enumerate((Path(item["path"]).name, item["status"], details)):
                self.results.setItem(row, column, QTableWidgetItem(str(value)))
        if imported is not None:  # else the progress line says why it ended
            done = "Done: " + ", ".join(f"{v} {k}" for k, v in imported.summary.items())
            if imported.index:
                done += "; the knowledge base is up to date"
            elif imported.index_error:
                done += f". The knowledge base was not updated: {imported.index_error}"
            self.message.setText(done)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.status is not None


class PairPage(QWizardPage):
    """Suggested RFP ↔ proposal pairs (by name and content), ticked when confident."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.setTitle("Pair RFPs with their proposals")
        self.setSubTitle("Tick the pairs to record. Pairs become instruction-tuning examples "
                         "(RFP requirement → proposal section).")
        self.state = state
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("pairTable")
        self.table.setHorizontalHeaderLabels(["Pair", "RFP", "Proposal", "Score"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.suggestions: list[PairSuggestion] = []

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        store = DocumentStore(self.state.workspace)  # type: ignore[arg-type]
        CoreOp(self, lambda: (suggest_pairs(store), {r.id: r for r in store.list()})).success(
            self._fill).run()

    def _fill(self, found: tuple[list[PairSuggestion], dict]) -> None:
        suggestions, records = found
        best = {(s.rfp_id, s.proposal_id) for s in best_pairs(suggestions)}
        fresh = [s for s in suggestions
                 if s.proposal_id not in records.get(s.rfp_id, None).paired_with]  # type: ignore[union-attr]
        self.suggestions = fresh
        self.table.setRowCount(len(fresh))
        for row, suggestion in enumerate(fresh):
            tick = QCheckBox()
            tick.setChecked((suggestion.rfp_id, suggestion.proposal_id) in best)
            self.table.setCellWidget(row, 0, tick)
            self.table.setItem(row, 1, QTableWidgetItem(records[suggestion.rfp_id].title))
            self.table.setItem(row, 2, QTableWidgetItem(records[suggestion.proposal_id].title))
            self.table.setItem(row, 3, QTableWidgetItem(f"{suggestion.score:.2f}"))

    def ticked(self) -> list[PairSuggestion]:
        return [s for row, s in enumerate(self.suggestions)
                if self.table.cellWidget(row, 0).isChecked()]  # type: ignore[union-attr]

    def validatePage(self) -> bool:  # noqa: N802 - Qt name
        store = DocumentStore(self.state.workspace)  # type: ignore[arg-type]
        for suggestion in self.ticked():
            store.pair(suggestion.rfp_id, suggestion.proposal_id)
        self.state.documents_changed.emit()
        return True


class ImportWizard(QWizard):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("importWizard")
        self.setWindowTitle("Import documents")
        self.resize(900, 640)
        self.files = FilesPage()
        self.review = ReviewPage(self.files)
        self.run_page = RunPage(self.review, monitor)
        self.pairs = PairPage(state)
        for page in (self.files, self.review, self.run_page, self.pairs):
            self.addPage(page)
        self.state = state
