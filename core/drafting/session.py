"""A drafting session without Qt: the Draft pane's chat is a view of one.

A session holds the conversation, the models a prompt goes to (two side by side when
comparing), what each answer has streamed so far, and the feedback rules: a rating or an
edit of the last answer, or the better of two answers side by side, becomes preference
pairs in the workspace's feedback log.

Nothing here blocks on a model: ``start`` returns one job per answer, a function of the
cancel check that yields drafting events, for the caller to run on a thread of its own
and to hand each event back to ``take``. Methods that write to the workspace change the
session in memory at once and return a ``Write`` (a function of no arguments, working on
a snapshot) for the caller to run where blocking is allowed: a worker thread in the app,
directly in a script or a test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.conversations import Conversation, ConversationStore, Turn
from core.drafting.draft import DraftResult, Retrying, SourcesFound, stream_draft
from core.drafting.facts import UNVERIFIED_MARK
from core.drafting.feedback import FeedbackLog
from core.drafting.sources import Citation, Retriever, WorkspaceRetriever
from core.endpoints import RemoteEndpoint
from core.generation.model import Finished, GenerationSettings, Token
from core.generation.runtime import ModelCache, gguf_models
from core.serving.backend import TextModel, open_text_model
from core.workspace import Workspace
from core.workspace.releases import read_releases_quietly

T = TypeVar("T")
Write = Callable[[], T]
DraftJob = Callable[[Callable[[], bool]], Iterator[object]]
Rating = Literal["up", "down"]


@dataclass(frozen=True)
class ModelOption:
    """One model a draft can come from, as the model pickers list it."""

    id: str  # a registry id, or ``endpoint:NAME`` for a remote endpoint
    label: str

# Said when a preferred answer still holds a figure marked unverified (core.datasets.prefs
# leaves such a pair out of preference training).
_UNCHECKED = (". It holds figures marked [unverified: …]: training will not learn from it "
              "as a preferred answer until you correct or delete them (Edit…)")


def model_options(workspace: Workspace | None,
                  endpoints: Sequence[RemoteEndpoint] = ()) -> list[ModelOption]:
    """The workspace's GGUF models, the deployed release first (the default choice), then
    the remote endpoints."""
    records = gguf_models(workspace) if workspace else []
    book = read_releases_quietly(workspace) if workspace else None
    deployed = book.current if book else None
    options = []
    for record in records:
        label = f"{record.name} ({record.id})"
        if deployed is not None and record.id == deployed.model_id:
            options.insert(0, ModelOption(
                record.id, f"release {deployed.version} (deployed): {label}"))
        else:
            options.append(ModelOption(record.id, label))
    options += [ModelOption(e.key, f"remote: {e.name} ({e.url})") for e in endpoints]
    return options


@dataclass(frozen=True)
class DraftOptions:
    """How to draft: sampling, whether to search the knowledge base, the prompt format
    ("auto", "chat" or "document") and the prompt budget's first-token target."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)
    retrieval: bool = True
    format: str = "auto"
    first_token_s: float | None = FIRST_TOKEN_S


@dataclass
class Answer:
    """One answer column: the model it comes from and where its draft stands."""

    model_id: str | None = None
    streaming: str | None = None  # the text so far while it streams, else None
    citations: tuple[Citation, ...] = ()
    result: DraftResult | None = None
    sent: float = 0.0  # time.monotonic() at Send
    first_token_s: float | None = None  # from Send to the first streamed words

    def since_send(self) -> float:
        return round(time.monotonic() - self.sent, 3)


@dataclass(frozen=True)
class Exchange:
    """The last request and the answer to it."""

    index: int  # the answer's place in the conversation
    prompt: str
    turn: Turn


class DraftSession:
    def __init__(self, workspace: Workspace | None, cache: ModelCache,
                 endpoints: Sequence[RemoteEndpoint] = ()) -> None:
        self.workspace = workspace
        self.cache = cache
        self.endpoints = tuple(endpoints)
        self.conversation = Conversation()
        self.answers = (Answer(), Answer())  # the main answer, and the one beside it

    # -- models ----------------------------------------------------------------------------
    def loader(self, model_id: str | None) -> Callable[[], TextModel]:
        """A function that opens the model (loading a local one into the cache): for the
        generation thread to call, so the GUI never waits for a load."""
        workspace, cache, endpoints = self.workspace, self.cache, self.endpoints
        return lambda: open_text_model(workspace, model_id, cache, endpoints=endpoints)

    def retriever(self, options: DraftOptions) -> Retriever | None:
        if self.workspace is None or not options.retrieval:
            return None
        return WorkspaceRetriever(self.workspace)

    # -- drafting ----------------------------------------------------------------------------
    @property
    def compared(self) -> list[DraftResult]:
        """The finished answers to the last request."""
        return [a.result for a in self.answers if a.result is not None]

    def start(self, request: str, model_ids: Sequence[str],
              options: DraftOptions) -> list[DraftJob]:
        """Send ``request`` to each model (one, or two side by side); the request joins the
        conversation now, each answer when its job has finished (``take``)."""
        if not 1 <= len(model_ids) <= len(self.answers):
            raise ValueError(f"a request goes to 1 or {len(self.answers)} models")
        history = self.conversation.history()
        self.conversation = self.conversation.with_turn(Turn(role="user", content=request))
        self.answers = (Answer(), Answer())
        retriever = self.retriever(options)
        jobs: list[DraftJob] = []
        for answer, model_id in zip(self.answers, model_ids, strict=False):
            answer.model_id, answer.streaming = model_id, ""
            answer.sent = time.monotonic()
            load = self.loader(model_id)

            def job(cancelled: Callable[[], bool],
                    load: Callable[[], TextModel] = load) -> Iterator[object]:
                return stream_draft(load(), request, retriever=retriever,
                                    settings=options.settings, history=history,
                                    cancelled=cancelled, format=options.format,
                                    first_token_s=options.first_token_s)

            jobs.append(job)
        return jobs

    def take(self, side: int, event: object) -> Write[Conversation] | None:
        """One streamed event of answer ``side``. When the main answer has finished it
        joins the conversation, and the conversation's save is returned."""
        answer = self.answers[side]
        if isinstance(event, SourcesFound):
            answer.citations = event.citations
        elif isinstance(event, Retrying):  # the text so far was the failed first attempt
            answer.streaming = event.kept
        elif isinstance(event, Token):
            answer.streaming = (answer.streaming or "") + event.text
            if answer.first_token_s is None and answer.sent and event.text.strip():
                answer.first_token_s = answer.since_send()
        elif isinstance(event, Finished):
            result = event.extra["draft"]
            assert isinstance(result, DraftResult)
            answer.result = result
            answer.streaming = None
            if side == 0:
                self.conversation = self.conversation.with_turn(Turn(
                    role="assistant", content=result.text, citations=result.citations,
                    model=result.model, stats=result.stats, draft_id=result.id,
                    status=result.status, problems=result.problems,
                    prompt_format=result.prompt_format))
                return self.save()
        return None

    # -- conversations -----------------------------------------------------------------------
    def new(self) -> None:
        self.conversation = Conversation()
        self.answers = (Answer(), Answer())

    def show(self, conversation: Conversation) -> None:
        """Continue a saved conversation."""
        self.conversation = conversation
        self.answers = (Answer(), Answer())

    def find(self, query: str = "") -> list[Conversation]:
        """The saved conversations that match ``query`` (all of them for "")."""
        if self.workspace is None:
            return []
        return ConversationStore(self.workspace).search(query)

    def read(self, conversation_id: str) -> Conversation:
        if self.workspace is None:
            raise LookupError("no workspace is open")
        return ConversationStore(self.workspace).get(conversation_id)

    def save(self) -> Write[Conversation] | None:
        workspace, conversation = self.workspace, self.conversation
        if workspace is None or not conversation.turns:
            return None
        return lambda: ConversationStore(workspace).save(conversation)

    def export(self, path: Path) -> Write[Path]:
        from core.drafting.export import export_draft

        results = results_for_export(self.conversation)
        title = self.conversation.title
        return lambda: export_draft(results, path, title)

    # -- feedback ------------------------------------------------------------------------------
    def last_exchange(self) -> Exchange | None:
        turns = self.conversation.turns
        for index in range(len(turns) - 1, 0, -1):
            if turns[index].role == "assistant" and turns[index - 1].role == "user":
                return Exchange(index, turns[index - 1].content, turns[index])
        return None

    def rate(self, rating: Rating) -> Write[str] | None:
        """Mark the last answer good or poor; the write records it (a poor and a good
        answer to the same request make a preference pair) and says what it saved."""
        exchange, workspace = self.last_exchange(), self.workspace
        if exchange is None or workspace is None:
            return None
        turn = exchange.turn
        self.conversation = self.conversation.replace_turn(
            exchange.index, turn.model_copy(update={"rating": rating}))
        save = self.save()

        def write() -> str:
            pairs = FeedbackLog(workspace).record_rating(
                exchange.prompt, turn.content, rating, model=turn.model,
                draft_id=turn.draft_id)
            if save is not None:
                save()
            saved = f"; {len(pairs)} preference pair(s) saved" if pairs else ""
            return f"Thanks: rated {rating}{saved}" + (
                _UNCHECKED if rating == "up" and UNVERIFIED_MARK.search(turn.content) else "")

        return write

    def prefer(self, side: int) -> Write[str] | None:
        """Side by side: answer ``side`` is preferred over the other one."""
        left, right = (a.result for a in self.answers)
        workspace = self.workspace
        if left is None or right is None or workspace is None:
            return None
        chosen, rejected = (left, right) if side == 0 else (right, left)

        def write() -> str:
            log = FeedbackLog(workspace)
            log.record_rating(chosen.prompt, rejected.text, "down", model=rejected.model,
                              draft_id=rejected.id)
            pairs = log.record_rating(chosen.prompt, chosen.text, "up", model=chosen.model,
                                      draft_id=chosen.id)
            return f"Saved {len(pairs)} preference pair(s)." + (
                _UNCHECKED if UNVERIFIED_MARK.search(chosen.text) else "")

        return write

    def edit(self, edited: str) -> Write[str] | None:
        """The analyst's rewrite of the last answer: it replaces the answer and is
        recorded as preferred over the model's."""
        exchange, workspace = self.last_exchange(), self.workspace
        if exchange is None or workspace is None:
            return None
        turn = exchange.turn
        self.conversation = self.conversation.replace_turn(exchange.index, turn.edited(edited))
        save = self.save()

        def write() -> str:
            FeedbackLog(workspace).record_edit(exchange.prompt, turn.content, edited,
                                               model=turn.model, draft_id=turn.draft_id)
            if save is not None:
                save()
            return "Saved your edit as the preferred answer."

        return write


def results_for_export(conversation: Conversation) -> list[DraftResult]:
    """Each answered request as a ``DraftResult``; failed ones export as a note."""
    turns = conversation.turns
    return [DraftResult(prompt=turns[i - 1].content, text=t.content, citations=t.citations,
                        model=t.model, status=t.status, problems=t.problems)
            for i, t in enumerate(turns) if t.role == "assistant" and i > 0]
