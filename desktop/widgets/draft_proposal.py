"""The Proposal tab of the drafting pane: RFP → outline and compliance matrix → sections.

Building the outline, saving and exporting are short engine calls (``CoreOp``); drafting
a section streams on a ``GenerationWorker``. Each section can be edited (Save edit) and
regenerated; its sources are listed and show their passage when clicked. A section whose
draft failed the quality checks has no text: its notice says why, and its rejected draft
can be brought into the editor to fix by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.drafting.draft import DraftResult, Retrying
from core.drafting.proposal import (
    Proposal,
    ProposalStore,
    new_proposal,
    stream_section,
    with_section_text,
)
from core.drafting.session import DraftOptions
from core.drafting.sources import Retriever
from core.generation.model import Finished, Token
from core.serving.backend import TextModel
from desktop.dialogs.save_as import ask_save_path
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QColor,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.draft_outcome import FAILED_COLOUR, DraftNotice, format_note, warning_lines
from desktop.widgets.draft_render import UnverifiedHighlighter
from desktop.widgets.draft_worker import GenerationWorker
from desktop.widgets.sources_panel import SourcesPanel


@dataclass(frozen=True)
class Engine:
    """What the tab needs from the pane to generate."""

    model: Callable[[], TextModel]  # loads on first use; called on the worker thread
    options: DraftOptions
    retriever: Retriever | None


class ProposalTab(QWidget):
    def __init__(self, state: AppState, engine: Callable[[], Engine],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.engine = engine
        self.proposal: Proposal | None = None
        self.worker = GenerationWorker(self)
        self.worker.event.connect(self._on_event)
        self.worker.failed.connect(self._on_failed)
        self.worker.done.connect(self._update_buttons)
        self._queue: list[str] = []
        self._streaming = ""
        self.last_error: BaseException | None = None

        self.rfp_choice = QComboBox()
        self.rfp_choice.setObjectName("proposalRfp")
        self.build_button = button("Build outline", "proposalBuild", self.build_outline)
        self.saved_choice = QComboBox()
        self.saved_choice.setObjectName("proposalSaved")
        self.open_button = button("Open", "proposalOpen", self.open_saved)
        self.matrix = QTableWidget(0, 3)
        self.matrix.setObjectName("complianceMatrix")
        self.matrix.setHorizontalHeaderLabels(["Requirement", "Text", "Section"])
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.verticalHeader().hide()
        self.sections = QListWidget()
        self.sections.setObjectName("proposalSections")
        self.sections.setWordWrap(True)
        self.sections.currentRowChanged.connect(lambda _: self._show_section())
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("sectionEditor")
        self.highlighter = UnverifiedHighlighter(self.editor.document())
        self.sources = SourcesPanel("section", "Click a source to read its passage.")
        self.draft_button = button("Draft section", "draftSection", self.draft_current)
        self.draft_all_button = button("Draft all", "draftAll", self.draft_all)
        self.save_button = button("Save edit", "saveSection", self.save_edit)
        self.stop_button = button("Stop", "stopSection", self.stop)
        self.docx_button = button("Export DOCX…", "exportDocx",
                                  lambda: self._ask_export(".docx"))
        self.md_button = button("Export Markdown…", "exportMarkdown",
                                lambda: self._ask_export(".md"))
        self.status = QLabel()
        self.status.setObjectName("proposalStatus")
        self.status.setWordWrap(True)
        self.notice = DraftNotice()
        self.notice.setObjectName("sectionNotice")
        self.review_button = button(
            "Review the rejected draft", "reviewRejected", self.review_rejected,
            "Put the draft that failed the checks into the editor, to fix it by hand and "
            "Save edit.")
        self.review_button.hide()

        self._lay_out()
        self.refresh()

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("RFP:"))
        top.addWidget(self.rfp_choice, 1)
        top.addWidget(self.build_button)
        top.addWidget(QLabel("Saved:"))
        top.addWidget(self.saved_choice, 1)
        top.addWidget(self.open_button)
        buttons = QHBoxLayout()
        for widget in (self.draft_button, self.draft_all_button, self.save_button,
                       self.stop_button, self.review_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.docx_button)
        buttons.addWidget(self.md_button)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.notice)
        middle_layout.addWidget(self.editor, 1)
        middle_layout.addLayout(buttons)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.sections)
        body.addWidget(middle)
        body.addWidget(self.sources)
        body.setSizes([180, 520, 260])
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(self.matrix)
        outer.addWidget(body)
        outer.setSizes([180, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(outer, 1)
        layout.addWidget(self.status)

    # -- loading -----------------------------------------------------------------------
    def refresh(self) -> None:
        workspace = self.state.workspace
        self.rfp_choice.clear()
        self.saved_choice.clear()
        if workspace is None:
            self._update_buttons()
            return
        from core.ingest.store import DocumentStore

        for record in DocumentStore(workspace).list():
            if record.kind == "rfp":
                self.rfp_choice.addItem(record.title, record.id)
        for proposal in ProposalStore(workspace).list():
            self.saved_choice.addItem(proposal.title, proposal.id)
        self._update_buttons()

    def build_outline(self) -> None:
        workspace = self.state.workspace
        rfp_id = self.rfp_choice.currentData()
        if workspace is None or not rfp_id:
            return

        def build() -> Proposal:
            return ProposalStore(workspace).save(new_proposal(workspace, rfp_id))

        self.status.setText("Reading the RFP…")
        CoreOp(self, build).success(self._loaded).failure(self._on_failed).run()

    def open_saved(self) -> None:
        workspace = self.state.workspace
        proposal_id = self.saved_choice.currentData()
        if workspace is None or not proposal_id:
            return
        CoreOp(self, lambda: ProposalStore(workspace).get(proposal_id)).success(
            self._loaded).failure(self._on_failed).run()

    def open_proposal(self, proposal_id: str) -> None:
        """Show a saved proposal (e.g. the one the guided demo drafted)."""
        self.refresh()
        index = self.saved_choice.findData(proposal_id)
        if index >= 0:
            self.saved_choice.setCurrentIndex(index)
            self.open_saved()

    def _loaded(self, proposal: Proposal) -> None:
        self.proposal = proposal
        self.status.setText(f"{len(proposal.requirements)} requirements in "
                            f"{len(proposal.sections)} sections.")
        titles = {s.key: s.title for s in proposal.sections}
        rows = [(r, s.key) for r, s in proposal.compliance_matrix()]
        self.matrix.setRowCount(len(rows))
        for row, (requirement, key) in enumerate(rows):
            for column, text in enumerate((requirement.id, requirement.text, titles[key])):
                self.matrix.setItem(row, column, QTableWidgetItem(text))
        current = max(0, self.sections.currentRow())
        self.sections.blockSignals(True)
        self.sections.clear()
        for section in proposal.sections:
            status = "failed" if section.failed else section.status
            item = QListWidgetItem(f"{section.title} ({status})")
            item.setData(Qt.ItemDataRole.UserRole, section.key)
            if section.failed:
                item.setForeground(QColor(FAILED_COLOUR))
                item.setToolTip("; ".join(section.problems))
            self.sections.addItem(item)
        self.sections.blockSignals(False)
        self.sections.setCurrentRow(min(current, self.sections.count() - 1))
        self._show_section()
        self._update_buttons()

    def _current_key(self) -> str | None:
        item = self.sections.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _show_section(self) -> None:
        key = self._current_key()
        self.sources.set_citations(())
        self.notice.clear()
        self.review_button.hide()
        if self.proposal is None or key is None:
            self.editor.clear()
            return
        section = self.proposal.section(key)
        self.editor.setPlainText(section.text)
        self.editor.setPlaceholderText(
            "Write this section here, or start from the rejected draft (Review the rejected "
            "draft)." if section.failed else "Not drafted yet: press Draft section.")
        if section.failed:
            self.notice.failed_section(section.problems)
            self.review_button.setVisible(bool(section.rejected_text))
        self.sources.set_citations(section.citations)

    # -- editing and drafting ------------------------------------------------------------
    def review_rejected(self) -> None:
        """The failed draft into the editor; it counts only once the analyst saves it."""
        key = self._current_key()
        if self.proposal is not None and key is not None:
            self.editor.setPlainText(self.proposal.section(key).rejected_text)

    def save_edit(self) -> None:
        key = self._current_key()
        workspace = self.state.workspace
        if self.proposal is None or key is None or workspace is None:
            return
        proposal = with_section_text(self.proposal, key, self.editor.toPlainText())
        CoreOp(self, lambda: ProposalStore(workspace).save(proposal)).success(
            self._loaded).failure(self._on_failed).run()

    def draft_current(self) -> None:
        key = self._current_key()
        if key is not None:
            self._queue = [key]
            self._next()

    def draft_all(self) -> None:
        if self.proposal is not None:
            self._queue = [s.key for s in self.proposal.sections]
            self._next()

    def _next(self) -> None:
        if self.proposal is None or not self._queue or self.worker.running:
            self._update_buttons()
            return
        key = self._queue.pop(0)
        for row in range(self.sections.count()):
            if self.sections.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.sections.setCurrentRow(row)
        proposal = self.proposal
        engine = self.engine()
        self._streaming = ""
        self.editor.setPlainText("")
        self.notice.clear()
        self.review_button.hide()
        self.status.setText(f"Drafting {proposal.section(key).title}…")

        def job(cancelled: Callable[[], bool]):  # noqa: ANN202
            options = engine.options
            return stream_section(engine.model(), proposal, key, retriever=engine.retriever,
                                  settings=options.settings, cancelled=cancelled,
                                  format=options.format, first_token_s=options.first_token_s)

        self.worker.start(job)
        self._update_buttons()

    def _on_event(self, event: object) -> None:
        if isinstance(event, Retrying):  # the text so far was the failed first attempt
            self._streaming = event.kept
            self.editor.setPlainText(event.kept)
            self.notice.retrying(event.reason)
        elif isinstance(event, Token):
            self._streaming += event.text
            self.editor.setPlainText(self._streaming)
        elif isinstance(event, Finished) and self.proposal is not None:
            section = event.extra["section"]
            proposal = self.proposal.with_section(section)  # type: ignore[arg-type]
            workspace = self.state.workspace
            if workspace is not None:
                CoreOp(self, lambda: ProposalStore(workspace).save(proposal)).run()
            self._loaded(proposal)
            if event.stats.finish == "cancelled":
                self._queue.clear()
                self.status.setText("Stopped.")
            else:
                self.status.setText(self._drafted(section.title, event))
            if self._queue:
                self.worker.done.connect(self._resume_queue)

    def _drafted(self, title: str, event: Finished) -> str:
        result: DraftResult = event.extra["draft"]  # type: ignore[assignment]
        if result.failed:
            return f"{title}: the draft failed the quality checks; it is left out of the document."
        if lines := warning_lines(result):
            self.notice.warnings(lines)
        return (f"Drafted {title}: {event.stats.tokens_per_s:.1f} tokens/s; "
                f"{format_note(result)}.")

    def _resume_queue(self) -> None:
        self.worker.done.disconnect(self._resume_queue)
        self.worker.wait(5)
        self._next()

    def stop(self) -> None:
        self._queue.clear()
        self.worker.stop()

    def shutdown(self) -> None:
        self.stop()
        self.worker.wait(10)

    def _on_failed(self, error: BaseException) -> None:
        from desktop.errors import error_text

        self.last_error = error
        self._queue.clear()
        self.status.setText(error_text(error)[0])
        self._update_buttons()

    # -- export ----------------------------------------------------------------------------
    def _ask_export(self, suffix: str) -> None:
        if self.proposal is None:
            return
        path = ask_save_path(self, "Export proposal", self.proposal.title, suffix)
        if path:
            self.export_to(path)

    def export_to(self, path: Path) -> None:
        from core.drafting.export import export_proposal

        proposal = self.proposal
        if proposal is None:
            return
        failed = sum(s.failed and not s.text.strip() for s in proposal.sections)
        note = (f"; {failed} section(s) that failed the checks are marked there as not "
                "included" if failed else "")
        CoreOp(self, lambda: export_proposal(proposal, path)).success(
            lambda written: self.status.setText(f"Exported to {written}{note}.")).run()

    def _update_buttons(self) -> None:
        busy = self.worker.running
        has = self.proposal is not None
        workspace = self.state.workspace is not None
        self.build_button.setEnabled(workspace and not busy and self.rfp_choice.count() > 0)
        for widget in (self.draft_button, self.draft_all_button, self.save_button):
            widget.setEnabled(has and not busy)
        self.stop_button.setEnabled(busy)
        self.docx_button.setEnabled(has)
        self.md_button.setEnabled(has)
