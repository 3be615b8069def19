"""Drafting pane: chat with a model grounded in the knowledge base, and proposals.

The Chat tab is a view of a ``DraftSession`` (``core/drafting/session.py``), which holds
the conversation, the answers and the feedback rules. The pane lists the conversations
(searchable), streams each answer from a ``GenerationWorker`` thread (Stop ends it within
a token), shows the numbered sources beside the answer (a click on [n] shows its
passage), turns Good/Poor/Edit and "Prefer left/right" into the session's feedback, and
runs every write the session hands back on a worker thread. The Proposal tab drafts a
response to an RFP section by section.

The model bar picks the models (``ModelBar``); the picked one and the knowledge base's search
are loaded ahead, on a worker thread, when the workspace opens or another model is picked
(``warm_up``). Loaded models live in the session's ``ModelCache``; ``shutdown()`` stops
generation, joins the threads and frees the models.
"""

from __future__ import annotations

from collections.abc import Callable

from core.drafting.conversations import Conversation
from core.drafting.draft import Retrying, SourcesFound
from core.drafting.session import DraftSession, Rating, Write, model_options
from core.generation.model import Finished
from core.generation.runtime import ModelCache
from desktop.dialogs.endpoints import EndpointsDialog
from desktop.jobs_monitor import JobMonitor
from desktop.native import preload_llama
from desktop.ops import run_write
from desktop.qt import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QSplitter,
    Qt,
    QTabWidget,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.conversation_list import ConversationList
from desktop.widgets.draft_answer import AnswerActions
from desktop.widgets.draft_column import AnswerColumn, AnswerSide
from desktop.widgets.draft_models import ModelBar
from desktop.widgets.draft_outcome import stats_line
from desktop.widgets.draft_proposal import Engine, ProposalTab
from desktop.widgets.draft_render import answer_html, conversation_html
from desktop.widgets.draft_settings import DraftSettings
from desktop.widgets.draft_warmup import Warmer
from desktop.widgets.sources_panel import SourcesPanel


class DraftPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        preload_llama()  # before any worker thread touches llama.cpp
        self.setObjectName("pane-draft")
        self.state = state
        self.monitor = monitor
        self.session = DraftSession(None, ModelCache(threads=state.settings.threads or None))
        self.last_error: BaseException | None = None
        self.main, self.other = (AnswerSide(i, self._on_citation_link, self) for i in (0, 1))
        self.models = ModelBar(self.edit_endpoints)
        self.models.compare.toggled.connect(self._on_compare)
        self.models.main.currentIndexChanged.connect(self._on_model_picked)
        self.options = DraftSettings()
        self.proposal_tab = ProposalTab(state, self._engine)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("draftTabs")
        self.tabs.addTab(self._chat_tab(), "Chat")
        self.tabs.addTab(self.proposal_tab, "Proposal")
        options_row = QHBoxLayout()  # a row of its own: one row was wider than a laptop
        options_row.addWidget(self.options)
        options_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Draft</h2>"))
        layout.addWidget(self.models)
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
        self.other.view.setVisible(False)
        self.refresh()

    def _chat_tab(self) -> QSplitter:
        self.conversations = ConversationList(self.session)
        self.conversations.enabled = lambda: not self._busy()
        self.conversations.opened.connect(self._show_conversation)
        self.conversations.new.connect(self.new_conversation)

        self.actions = AnswerActions(self)
        center = AnswerColumn((self.main.view, self.other.view), self.actions)
        self.prompt, self.stats, self.notice = center.prompt, center.stats, center.notice
        self.warmer = Warmer(self, self.session, self.stats, self._busy)
        self.sources = SourcesPanel("draft", "Click a source or a [n] in the answer to read it.")
        chat = QSplitter(Qt.Orientation.Horizontal)
        chat.addWidget(self.conversations)
        chat.addWidget(center)
        chat.addWidget(self.sources)
        chat.setSizes([200, 600, 300])
        return chat

    # -- workspace, models, conversations ---------------------------------------------------
    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        self.stop()
        self.session.workspace = self.state.workspace
        self.session.new()
        self.refresh_models()
        self.conversations.refresh()
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
        self.session.endpoints = tuple(self.state.settings.remote_endpoints)
        self.models.set_options(model_options(self.state.workspace, self.session.endpoints))
        self._update_buttons()
        self.warm_up()

    def _on_model_picked(self, *_: object) -> None:
        """A bound slot: another model was picked; make it ready."""
        self.warm_up()

    def warm_up(self) -> None:
        """Load the picked model and the knowledge base's search now, on a worker thread,
        so that the first Send waits no longer than any other."""
        self.warmer.run(self.state.workspace, self.models.main.currentData())

    def new_conversation(self) -> None:
        self.stop()
        self.session.new()
        self.notice.clear()
        self.sources.set_citations(())
        self._render()

    def _show_conversation(self, conversation: Conversation) -> None:
        self.session.show(conversation)
        self.notice.clear()
        answers = [t for t in conversation.turns if t.role == "assistant"]
        self.sources.set_citations(answers[-1].citations if answers else ())
        self._render()

    def _write(self, write: Write[object] | None,
               then: Callable[[object], None] | None = None) -> None:
        run_write(self, write, self.stats.setText, then)

    # -- generation ---------------------------------------------------------------------------
    def _engine(self) -> Engine:
        options = self.options.options()
        return Engine(model=self.session.loader(self.models.main.currentData()),
                      options=options, retriever=self.session.retriever(options))

    def _busy(self) -> bool:
        return self.main.worker.running or self.other.worker.running

    def send(self) -> None:
        """Send the prompt to the chosen model (and the second one side by side)."""
        request = self.prompt.toPlainText().strip()
        if not request or self._busy() or self.state.workspace is None:
            return
        chosen = self.models.chosen()
        if not chosen:
            self.stats.setText("No GGUF model in this workspace: import or export one first, "
                               "or add a remote endpoint (Endpoints…).")
            return
        jobs = self.session.start(request, chosen, self.options.options())
        self.prompt.clear()
        self.notice.clear()
        self.actions.end_edit()
        for side, job in zip((self.main, self.other), jobs, strict=False):
            side.worker.start(job)
        self.stats.setText("Writing…")
        self._render()

    def _on_event(self, side: AnswerSide, event: object) -> None:
        save = self.session.take(side.index, event)
        if isinstance(event, SourcesFound):
            if side is self.main:
                self.sources.set_citations(event.citations)
            if event.warnings:
                self.stats.setText(" ".join(event.warnings))
            return
        if isinstance(event, Retrying):
            self.notice.retrying(event.reason)
        elif isinstance(event, Finished):
            answer = self.session.answers[side.index]
            assert answer.result is not None
            result = answer.result
            self.stats.setText(stats_line(result, event.stats, answer.first_token_s))
            if side is self.main:
                self.notice.outcome(result)
                if len(result.citations) > len(answer.citations):  # rows looked up for
                    self.sources.set_citations(result.citations)  # figures put right
            self._write(save, lambda _: self.conversations.refresh())
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
        self.session.cache.close()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    def _on_failed(self, error: BaseException) -> None:
        from desktop.errors import show_error

        self.last_error = error
        self.stats.setText("")
        self._update_buttons()
        show_error(self, error)

    def _on_citation_link(self, url: QUrl) -> None:
        self.sources.follow(url, self.session.conversation.turns)

    # -- feedback ----------------------------------------------------------------
    def rate(self, rating: Rating) -> None:
        self._write(self.session.rate(rating))
        self._render()

    def prefer_side(self, which: int) -> None:
        """Side by side: the chosen answer is preferred over the other one."""
        self._write(self.session.prefer(which))

    def save_edit(self, edited: str) -> None:
        self._write(self.session.edit(edited), lambda _: self.conversations.refresh())
        self._render()

    # -- view ------------------------------------------------------------------------------------
    def _on_compare(self, on: bool) -> None:
        self.other.view.setVisible(on)
        self._render()

    def _render(self) -> None:
        answers = self.session.answers
        self.main.view.setHtml(conversation_html(self.session.conversation.turns,
                                                 answers[0].streaming))
        if self.models.compare.isChecked():
            self.other.view.setHtml(answer_html(answers[1],
                                                self.models.other.currentData() or ""))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.actions.update(busy=self._busy(), workspace=self.state.workspace is not None,
                            answered=self.session.last_exchange() is not None,
                            compare=self.models.compare.isChecked(),
                            compared=len(self.session.compared) >= 2)
