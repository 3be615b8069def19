"""Drafting pane: chat with a model grounded in the knowledge base, and proposals.

The Chat tab keeps conversations per workspace (``W/drafts/conversations``, searchable),
streams each answer from a ``GenerationWorker`` thread (Stop ends it within a token),
shows the numbered sources beside the answer (a click on [n] or on a source shows its
passage), records thumbs up/down and "edit & save as preferred" feedback as preference
pairs, copies and exports, and can send the same prompt to two models side by side. The
Proposal tab drafts a response to an RFP section by section.

The model pickers list the workspace's GGUF models and the remote endpoints of the user
settings (Endpoints… edits them); a remote endpoint generates on its server while
retrieval and citations stay local, on the same worker thread as a local model.
Loaded models live in the pane's ``ModelCache``; ``shutdown()`` stops generation, joins
the threads and frees the models (the main window calls it when it closes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.drafting.conversations import Conversation, ConversationStore, Turn
from core.drafting.draft import DraftResult, Retrying, SourcesFound, stream_draft
from core.drafting.feedback import FeedbackLog
from core.drafting.sources import Citation, WorkspaceRetriever
from core.endpoints import REMOTE_PREFIX, find_endpoint
from core.generation.model import Finished, GenerationSettings, Token
from core.generation.runtime import ModelCache, gguf_models
from core.serving.backend import TextModel
from core.serving.client import RemoteModel
from core.workspace.releases import read_releases_quietly
from desktop.dialogs.endpoints import EndpointsDialog
from desktop.jobs_monitor import JobMonitor
from desktop.native import preload_llama
from desktop.ops import CoreOp
from desktop.qt import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QTextBrowser,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.draft_outcome import (
    FORMAT_TIP,
    DraftNotice,
    failed_html,
    results_for_export,
    stats_line,
)
from desktop.widgets.draft_proposal import Engine, ProposalTab
from desktop.widgets.draft_render import citation_label, conversation_html, linked, passage_text
from desktop.widgets.draft_settings import DraftSettings
from desktop.widgets.draft_worker import GenerationWorker


class _Side:
    """One answer column: its model picker, transcript view and worker."""

    def __init__(self, pane: DraftPane, name: str) -> None:
        self.name = name
        self.picker = QComboBox()
        self.picker.setObjectName(f"draftModel{name}")
        self.view = QTextBrowser()
        self.view.setObjectName(f"draftTranscript{name}")
        self.view.setOpenLinks(False)
        self.view.anchorClicked.connect(pane._on_citation_link)
        self.worker = GenerationWorker(pane)
        self.streaming: str | None = None
        self.citations: tuple[Citation, ...] = ()
        self.result: DraftResult | None = None


class DraftPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        preload_llama()  # before any worker thread touches llama.cpp
        self.setObjectName("pane-draft")
        self.state = state
        self.monitor = monitor
        self.cache = ModelCache(threads=state.settings.threads or None)
        self.conversation = Conversation()
        self.compare_results: list[DraftResult] = []
        self.last_error: BaseException | None = None

        # -- settings bar ----------------------------------------------------------------
        self.main = _Side(self, "A")
        self.other = _Side(self, "B")
        self.compare = QCheckBox("Side by side with")
        self.compare.setObjectName("draftCompare")
        self.compare.toggled.connect(self._on_compare)
        self.options = DraftSettings()
        self.temperature, self.top_p = self.options.temperature, self.options.top_p
        self.max_tokens, self.retrieval = self.options.max_tokens, self.options.retrieval
        self.endpoints_button = QPushButton("Endpoints…")
        self.endpoints_button.setObjectName("draftEndpoints")
        self.endpoints_button.setToolTip("Remote servers (scriptorium serve) to draft with")
        self.endpoints_button.clicked.connect(self.edit_endpoints)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Model:"))
        bar.addWidget(self.main.picker, 1)
        bar.addWidget(self.endpoints_button)
        bar.addWidget(self.compare)
        bar.addWidget(self.other.picker, 1)
        options_row = QHBoxLayout()  # a row of its own: one row was wider than a laptop
        options_row.addWidget(self.options)
        options_row.addStretch(1)

        # -- conversations -----------------------------------------------------------------
        self.search = QLineEdit()
        self.search.setObjectName("conversationSearch")
        self.search.setPlaceholderText("Search conversations")
        self.search.textChanged.connect(lambda _: self.refresh_conversations())
        self.conversations = QListWidget()
        self.conversations.setObjectName("conversationList")
        self.conversations.itemClicked.connect(self._open_conversation)
        self.new_button = QPushButton("New conversation")
        self.new_button.setObjectName("newConversation")
        self.new_button.clicked.connect(self.new_conversation)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.conversations, 1)
        left_layout.addWidget(self.new_button)

        # -- transcript, prompt and feedback -------------------------------------------------
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("draftPrompt")
        self.prompt.setPlaceholderText("What should I draft? e.g. “Staffing plan for a 24x7 SOC”")
        self.prompt.setMaximumHeight(90)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("draftSend")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("draftStop")
        self.stop_button.clicked.connect(self.stop)
        self.up_button = QPushButton("Good draft")
        self.up_button.setToolTip("Mark this draft as a good answer (used to train the "
                                  "model's preferences)")
        self.up_button.setObjectName("thumbsUp")
        self.up_button.clicked.connect(lambda: self.rate("up"))
        self.down_button = QPushButton("Poor draft")
        self.down_button.setToolTip("Mark this draft as a poor answer (used to train the "
                                    "model's preferences)")
        self.down_button.setObjectName("thumbsDown")
        self.down_button.clicked.connect(lambda: self.rate("down"))
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setObjectName("editAnswer")
        self.edit_button.clicked.connect(self.begin_edit)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("copyAnswer")
        self.copy_button.clicked.connect(self.copy_answer)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportConversation")
        self.export_button.clicked.connect(self._ask_export)
        self.prefer_b = QPushButton("Prefer right answer")
        self.prefer_b.setObjectName("preferB")
        self.prefer_b.clicked.connect(lambda: self.prefer_side(1))
        self.prefer_a = QPushButton("Prefer left answer")
        self.prefer_a.setObjectName("preferA")
        self.prefer_a.clicked.connect(lambda: self.prefer_side(0))
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("answerEditor")
        self.save_edit_button = QPushButton("Save as preferred")
        self.save_edit_button.setObjectName("saveAsPreferred")
        self.save_edit_button.clicked.connect(self.save_edit)
        self.cancel_edit_button = QPushButton("Cancel edit")
        self.cancel_edit_button.clicked.connect(self._end_edit)
        self.stats = QLabel()
        self.stats.setObjectName("draftStats")
        self.stats.setWordWrap(True)
        self.stats.setToolTip(FORMAT_TIP)
        self.notice = DraftNotice()
        answers = QSplitter(Qt.Orientation.Horizontal)
        answers.addWidget(self.main.view)
        answers.addWidget(self.other.view)
        actions = QHBoxLayout()
        for widget in (self.send_button, self.stop_button, self.up_button, self.down_button,
                       self.edit_button, self.copy_button, self.export_button, self.prefer_a,
                       self.prefer_b):
            actions.addWidget(widget)
        actions.addStretch(1)
        edit_row = QHBoxLayout()
        edit_row.addStretch(1)
        edit_row.addWidget(self.cancel_edit_button)
        edit_row.addWidget(self.save_edit_button)
        self.edit_panel = QWidget()
        edit_layout = QVBoxLayout(self.edit_panel)
        edit_layout.setContentsMargins(0, 0, 0, 0)
        edit_layout.addWidget(QLabel("Edit the answer; the edit is saved as the preferred one:"))
        edit_layout.addWidget(self.editor, 1)
        edit_layout.addLayout(edit_row)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(answers, 1)
        center_layout.addWidget(self.notice)
        center_layout.addWidget(self.edit_panel)
        center_layout.addWidget(self.prompt)
        center_layout.addLayout(actions)
        center_layout.addWidget(self.stats)

        # -- sources -----------------------------------------------------------------------
        self.sources = QListWidget()
        self.sources.setObjectName("draftSources")
        self.sources.setWordWrap(True)
        self.sources.currentRowChanged.connect(self._show_passage)
        self.passage = QPlainTextEdit()
        self.passage.setObjectName("draftPassage")
        self.passage.setReadOnly(True)
        self.passage.setPlaceholderText("Click a source or a [n] in the answer to read it.")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.sources)
        right.addWidget(self.passage)

        chat = QSplitter(Qt.Orientation.Horizontal)
        chat.addWidget(left)
        chat.addWidget(center)
        chat.addWidget(right)
        chat.setSizes([200, 600, 300])
        self.proposal_tab = ProposalTab(state, self._engine)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("draftTabs")
        self.tabs.addTab(chat, "Chat")
        self.tabs.addTab(self.proposal_tab, "Proposal")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Draft</h2>"))
        layout.addLayout(bar)
        layout.addLayout(options_row)
        layout.addWidget(self.tabs, 1)

        for side in (self.main, self.other):
            side.worker.event.connect(lambda event, s=side: self._on_event(s, event))
            side.worker.failed.connect(self._on_failed)
            side.worker.done.connect(self._update_buttons)
        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self.refresh_models)
        state.settings_changed.connect(self._on_settings)
        state.documents_changed.connect(self.proposal_tab.refresh)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.edit_panel.setVisible(False)
        self.other.picker.setVisible(False)
        self.other.view.setVisible(False)
        self.refresh()

    # -- workspace, models, conversations ---------------------------------------------------
    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        self.stop()
        self.conversation = Conversation()
        self.refresh_models()
        self.refresh_conversations()
        self.proposal_tab.refresh()
        self._render()

    def show_proposal(self, proposal_id: str) -> None:
        self.tabs.setCurrentWidget(self.proposal_tab)
        self.proposal_tab.open_proposal(proposal_id)

    def _on_settings(self, *_: object) -> None:
        """A bound slot: the endpoints may have changed."""
        self.refresh_models()

    def edit_endpoints(self) -> EndpointsDialog:
        dialog = EndpointsDialog(self.state, self)
        dialog.open()
        return dialog

    def refresh_models(self) -> None:
        workspace = self.state.workspace
        records = gguf_models(workspace) if workspace else []
        book = read_releases_quietly(workspace) if workspace else None
        deployed = book.current if book else None
        if deployed is not None:  # the deployed release first: the default choice
            records.sort(key=lambda r: r.id != deployed.model_id)
        for side in (self.main, self.other):
            current = side.picker.currentData()
            side.picker.clear()
            for record in records:
                label = f"{record.name} ({record.id})"
                if deployed is not None and record.id == deployed.model_id:
                    label = f"release {deployed.version} (deployed): {label}"
                side.picker.addItem(label, record.id)
            for endpoint in self.state.settings.remote_endpoints:
                side.picker.addItem(f"remote: {endpoint.name} ({endpoint.url})", endpoint.key)
            index = side.picker.findData(current)
            if index >= 0:
                side.picker.setCurrentIndex(index)
        self._update_buttons()

    def refresh_conversations(self) -> None:
        self.conversations.clear()
        workspace = self.state.workspace
        if workspace is None:
            return
        for conversation in ConversationStore(workspace).search(self.search.text()):
            item = QListWidgetItem(conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            item.setToolTip(conversation.updated)
            self.conversations.addItem(item)

    def new_conversation(self) -> None:
        self.stop()
        self.conversation = Conversation()
        self.compare_results = []
        self.notice.clear()
        self._set_citations(())
        self._render()

    def _open_conversation(self, item: QListWidgetItem) -> None:
        workspace = self.state.workspace
        if workspace is None or self._busy():
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        CoreOp(self, lambda: ConversationStore(workspace).get(conversation_id)).success(
            self._show_conversation).run()

    def _show_conversation(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.compare_results = []
        self.notice.clear()
        answers = [t for t in conversation.turns if t.role == "assistant"]
        self._set_citations(answers[-1].citations if answers else ())
        self._render()

    def _save_conversation(self) -> None:
        workspace = self.state.workspace
        if workspace is None or not self.conversation.turns:
            return
        conversation = self.conversation
        CoreOp(self, lambda: ConversationStore(workspace).save(conversation)).success(
            lambda _: self.refresh_conversations()).run()

    # -- generation ---------------------------------------------------------------------------
    def settings(self) -> GenerationSettings:
        return self.options.generation()

    def _loader(self, model_id: str | None) -> Callable[[], TextModel]:
        """What the worker thread calls for the chosen model (loading a local one)."""
        if model_id is not None and model_id.startswith(REMOTE_PREFIX):
            endpoints = self.state.settings.remote_endpoints
            return lambda: RemoteModel(find_endpoint(endpoints, model_id))
        workspace = self.state.workspace
        return lambda: self.cache.get(workspace, model_id)

    def _engine(self) -> Engine:
        workspace = self.state.workspace
        retriever = WorkspaceRetriever(workspace) if workspace and self.retrieval.isChecked() \
            else None
        return Engine(model=self._loader(self.main.picker.currentData()),
                      settings=self.settings(), retriever=retriever,
                      format=self.options.prompt_format(),
                      first_token_s=self.options.first_token_s())

    def _busy(self) -> bool:
        return self.main.worker.running or self.other.worker.running

    def send(self) -> None:
        """Send the prompt to the chosen model (and the second one side by side)."""
        request = self.prompt.toPlainText().strip()
        if not request or self._busy() or self.state.workspace is None:
            return
        if self.main.picker.currentData() is None:
            self.stats.setText("No GGUF model in this workspace: import or export one first, "
                               "or add a remote endpoint (Endpoints…).")
            return
        sides = [self.main] + ([self.other] if self.compare.isChecked()
                               and self.other.picker.currentData() else [])
        history = self.conversation.history()
        self.conversation = self.conversation.with_turn(Turn(role="user", content=request))
        self.compare_results = []
        self.prompt.clear()
        self.notice.clear()
        self._end_edit()
        engine = self._engine()
        for side in sides:
            side.streaming = ""
            side.result = None
            load = self._loader(side.picker.currentData())

            def job(cancelled: Callable[[], bool], load=load):  # noqa: ANN202, ANN001
                return stream_draft(load(), request, retriever=engine.retriever,
                                    settings=engine.settings, history=history,
                                    cancelled=cancelled, format=engine.format,
                                    first_token_s=engine.first_token_s)

            side.worker.start(job)
        self.stats.setText("Writing…")
        self._render()
        self._update_buttons()

    def _on_event(self, side: _Side, event: object) -> None:
        if isinstance(event, SourcesFound):
            side.citations = event.citations
            if side is self.main:
                self._set_citations(event.citations)
            if event.warnings:
                self.stats.setText(" ".join(event.warnings))
        elif isinstance(event, Retrying):  # the text so far was the failed first attempt
            side.streaming = event.kept
            self.notice.retrying(event.reason)
            self._render()
        elif isinstance(event, Token):
            side.streaming = (side.streaming or "") + event.text
            self._render()
        elif isinstance(event, Finished):
            result: DraftResult = event.extra["draft"]  # type: ignore[assignment]
            side.result = result
            side.streaming = None
            self.stats.setText(stats_line(result, event.stats))
            if side is self.main:
                self.notice.outcome(result)
                self.conversation = self.conversation.with_turn(Turn(
                    role="assistant", content=result.text, citations=result.citations,
                    model=result.model, stats=result.stats, draft_id=result.id,
                    status=result.status, problems=result.problems,
                    prompt_format=result.prompt_format))
                self._save_conversation()
            self.compare_results.append(result)
            self._render()

    def stop(self) -> None:
        """Stop generation now (the threads end within a token's time)."""
        for side in (self.main, self.other):
            side.worker.stop()
        self.proposal_tab.stop()

    def shutdown(self) -> None:
        """Stop generation, join the threads and free the models (on close)."""
        self.stop()
        for side in (self.main, self.other):
            side.worker.wait(10)
        self.proposal_tab.shutdown()
        self.cache.close()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    def _on_failed(self, error: BaseException) -> None:
        from desktop.errors import show_error

        self.last_error = error
        self.stats.setText("")
        self._update_buttons()
        show_error(self, error)

    # -- sources -------------------------------------------------------------------------------
    def _set_citations(self, citations: tuple[Citation, ...]) -> None:
        self.shown_citations = citations
        self.sources.clear()
        self.passage.clear()
        for citation in citations:
            self.sources.addItem(citation_label(citation))

    def _show_passage(self, row: int) -> None:
        citations = getattr(self, "shown_citations", ())
        if 0 <= row < len(citations):
            self.passage.setPlainText(passage_text(citations[row]))

    def show_citation(self, number: int, turn_index: int | None = None) -> None:
        """Show source [number] of an answer (the last one by default)."""
        if turn_index is not None and 0 <= turn_index < len(self.conversation.turns):
            citations = self.conversation.turns[turn_index].citations
            if citations != getattr(self, "shown_citations", ()):
                self._set_citations(citations)
        for row, citation in enumerate(getattr(self, "shown_citations", ())):
            if citation.number == number:
                self.sources.setCurrentRow(row)
                self._show_passage(row)

    def _on_citation_link(self, url: QUrl) -> None:
        target = url.toString().removeprefix("cite:")
        turn, _, number = target.rpartition(":")
        if number.isdigit():
            self.show_citation(int(number), int(turn) if turn.isdigit() else None)

    # -- feedback, copy, export ----------------------------------------------------------------
    def _last_exchange(self) -> tuple[int, str, Turn] | None:
        turns = self.conversation.turns
        for index in range(len(turns) - 1, 0, -1):
            if turns[index].role == "assistant" and turns[index - 1].role == "user":
                return index, turns[index - 1].content, turns[index]
        return None

    def rate(self, rating: str) -> None:
        exchange = self._last_exchange()
        workspace = self.state.workspace
        if exchange is None or workspace is None:
            return
        index, prompt, turn = exchange
        self.conversation = self.conversation.replace_turn(
            index, turn.model_copy(update={"rating": rating}))
        CoreOp(self, lambda: FeedbackLog(workspace).record_rating(
            prompt, turn.content, rating, model=turn.model, draft_id=turn.draft_id)).success(
            lambda pairs: self.stats.setText(
                f"Thanks: rated {rating}" + (f"; {len(pairs)} preference pair(s) saved"
                                             if pairs else ""))).run()
        self._save_conversation()
        self._render()

    def prefer_side(self, which: int) -> None:
        """Side by side: the chosen answer is preferred over the other one."""
        workspace = self.state.workspace
        if len(self.compare_results) < 2 or workspace is None:
            return
        left = self.main.result
        right = self.other.result
        if left is None or right is None:
            return
        chosen, rejected = (left, right) if which == 0 else (right, left)
        log = FeedbackLog(workspace)

        def record() -> list[dict[str, object]]:
            log.record_rating(chosen.prompt, rejected.text, "down", model=rejected.model,
                              draft_id=rejected.id)
            return log.record_rating(chosen.prompt, chosen.text, "up", model=chosen.model,
                                     draft_id=chosen.id)

        CoreOp(self, record).success(lambda pairs: self.stats.setText(
            f"Saved {len(pairs)} preference pair(s).")).run()

    def begin_edit(self) -> None:
        exchange = self._last_exchange()
        if exchange is None:
            return
        self.editor.setPlainText(exchange[2].content)
        self.edit_panel.setVisible(True)
        self.editor.setFocus()

    def _end_edit(self) -> None:
        self.edit_panel.setVisible(False)

    def save_edit(self) -> None:
        exchange = self._last_exchange()
        workspace = self.state.workspace
        if exchange is None or workspace is None:
            return
        index, prompt, turn = exchange
        edited = self.editor.toPlainText()
        CoreOp(self, lambda: FeedbackLog(workspace).record_edit(
            prompt, turn.content, edited, model=turn.model, draft_id=turn.draft_id)).success(
            lambda _: self._edit_saved(index, turn, edited)).run()

    def _edit_saved(self, index: int, turn: Turn, edited: str) -> None:
        self.conversation = self.conversation.replace_turn(
            index, turn.edited(edited))
        self._save_conversation()
        self._end_edit()
        self.stats.setText("Saved your edit as the preferred answer.")
        self._render()

    def copy_answer(self) -> None:
        exchange = self._last_exchange()
        if exchange is not None:
            QApplication.clipboard().setText(exchange[2].content)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation",
                                              f"{self.conversation.title[:50]}.docx",
                                              "Word (*.docx);;Markdown (*.md)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        from core.drafting.export import export_draft

        results = results_for_export(self.conversation)
        title = self.conversation.title
        CoreOp(self, lambda: export_draft(results, path, title)).success(
            lambda written: self.stats.setText(f"Exported to {written}")).run()

    # -- view ------------------------------------------------------------------------------------
    def _on_compare(self, on: bool) -> None:
        self.other.picker.setVisible(on)
        self.other.view.setVisible(on)
        self._render()

    def _render(self) -> None:
        self.main.view.setHtml(conversation_html(self.conversation.turns, self.main.streaming))
        if self.compare.isChecked():
            if self.other.streaming is not None:
                text = linked(self.other.streaming)
            elif self.other.result is not None:
                text = linked(self.other.result.text)
                if self.other.result.failed:
                    text = failed_html(self.other.result.problems) + text
            else:
                text = ""
            model = self.other.picker.currentData() or ""
            self.other.view.setHtml(f"<p><b>{model}</b></p><p>{text}</p>")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._busy()
        has_workspace = self.state.workspace is not None
        answered = self._last_exchange() is not None
        self.send_button.setEnabled(has_workspace and not busy)
        self.stop_button.setEnabled(busy)
        for button in (self.up_button, self.down_button, self.edit_button, self.copy_button,
                       self.export_button):
            button.setEnabled(answered and not busy)
        compared = self.compare.isChecked() and len(self.compare_results) >= 2 and not busy
        self.prefer_a.setVisible(self.compare.isChecked())
        self.prefer_b.setVisible(self.compare.isChecked())
        self.prefer_a.setEnabled(compared)
        self.prefer_b.setEnabled(compared)
