"""Streaming a grounded draft: retrieve, number the sources, prompt, stream, cite.

``stream_draft`` yields one ``SourcesFound`` (possibly empty), the ``Token`` events of the
reply, then a ``Finished`` whose ``extra`` holds the ``DraftResult``. With retrieval off,
or when the knowledge base is not indexed yet (a warning says so), the draft has no sources.
The model is a local one or a remote endpoint (``core.generation.backend``): retrieval and
the prompt are local either way, only generation may go to a server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.drafting.prompt import grounded_messages, source_block
from core.drafting.sources import Citation, Retriever, Source, cited_numbers, number_sources
from core.errors import ScriptoriumError
from core.generation.backend import TextModel, stream_reply
from core.generation.context import budget_passages, passage_budget
from core.generation.model import (
    Finished,
    GenerationSettings,
    Message,
    PromptMode,
    StreamEvent,
    Token,
)

DEFAULT_K = 5
REFERENCE_K = 4


class DraftResult(BaseModel):
    """A finished draft: its text, the sources it was given and the ones it cited."""

    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    prompt: str
    text: str
    citations: tuple[Citation, ...] = ()
    cited: tuple[int, ...] = ()
    model: str = ""
    retrieval: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def cited_sources(self) -> list[Citation]:
        """Citations the text refers to (all given ones when it cites none)."""
        wanted = set(self.cited)
        return [c for c in self.citations if c.number in wanted] or list(self.citations)


@dataclass(frozen=True)
class SourcesFound:
    """The numbered sources given to the model (sent before the first token)."""

    citations: tuple[Citation, ...]
    warnings: tuple[str, ...] = ()


DraftEvent = SourcesFound | StreamEvent


def retrieve(retriever: Retriever, query: str, *, k: int = DEFAULT_K,
             reference_k: int = REFERENCE_K,
             lookup_query: str | None = None) -> tuple[list[Source], list[str]]:
    """Reference rows the query names (exact lookup) and hybrid-search passages."""
    warnings: list[str] = []
    found: list[Source] = []
    try:
        rows = retriever.lookup(lookup_query or query, reference_k) if reference_k else []
        passages = retriever.search(query, k)
    except ScriptoriumError as error:
        return [], [f"Retrieval was skipped: {error}"]
    exact = [r for r in rows if r.score >= 1.0]
    found.extend(exact)
    found.extend(passages)
    found.extend(r for r in rows if r not in exact)
    return found, warnings


def fit_sources(model: TextModel, sources: Sequence[Source],
                share_budget: int | None = None) -> list[Citation]:
    """Numbered sources that fit the passage budget (a share of the context window)."""
    citations = number_sources(sources)
    budget = share_budget if share_budget is not None else passage_budget(model.n_ctx)
    blocks = [source_block(c) for c in citations]
    kept = budget_passages(blocks, model.count_tokens, budget)
    fitted = []
    for citation, block in zip(citations, kept):
        if block != blocks[citation.number - 1]:  # the last one was cut to fit
            header = len(block.split("\n", 1)[0]) + 1
            citation = citation.model_copy(update={"text": block[header:]})
        fitted.append(citation)
    return fitted


def stream_draft(
    model: TextModel, request: str, *, retriever: Retriever | None,
    settings: GenerationSettings | None = None, history: Sequence[Message] = (),
    cancelled: Callable[[], bool] = lambda: False, mode: PromptMode = "auto",
    query: str | None = None, lookup_query: str | None = None, k: int = DEFAULT_K,
    reference_k: int = REFERENCE_K, instructions: str | None = None,
) -> Iterator[DraftEvent]:
    """Draft a reply to ``request`` grounded in retrieved sources (see module docstring)."""
    settings = settings or GenerationSettings()
    warnings: list[str] = []
    citations: list[Citation] = []
    if retriever is not None:
        sources, warnings = retrieve(retriever, query or request, k=k, reference_k=reference_k,
                                     lookup_query=lookup_query)
        citations = fit_sources(model, sources)
    yield SourcesFound(tuple(citations), tuple(warnings))
    messages = grounded_messages(request, citations, history, instructions)
    for event in stream_reply(model, messages, settings, cancelled=cancelled, mode=mode):
        if isinstance(event, Token):
            yield event
            continue
        numbers = [n for n in cited_numbers(event.text) if 1 <= n <= len(citations)]
        result = DraftResult(
            prompt=request, text=event.text.strip(), citations=tuple(citations),
            cited=tuple(numbers), model=model.name, retrieval=retriever is not None,
            settings=settings.model_dump(mode="json"), stats=event.stats.to_json(),
            warnings=tuple(warnings))
        yield Finished(event.text, event.stats, {"draft": result})


def draft(model: TextModel, request: str, **kwargs: Any) -> DraftResult:
    """The whole grounded draft at once (no streaming)."""
    result: DraftResult | None = None
    for event in stream_draft(model, request, **kwargs):
        if isinstance(event, Finished):
            result = event.extra["draft"]  # type: ignore[assignment]
    assert result is not None
    return result
