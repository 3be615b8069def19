"""Where drafts get their facts: the ``Retriever`` interface and numbered citations.

A retriever returns ``Source`` passages: chunks from hybrid search and exact rows of
reference tables. ``number_sources`` deduplicates them and numbers them [1]..[n] in the
order given; a ``Citation`` is a numbered source as shown beside a draft.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from core.workspace import Workspace

SourceKind = Literal["passage", "reference_row"]


class Source(BaseModel):
    """A retrieved passage or reference row and where it came from."""

    model_config = ConfigDict(frozen=True)
    kind: SourceKind = "passage"
    doc_id: str
    title: str
    text: str
    section: tuple[str, ...] = ()
    page: int | None = None
    ref_id: str = ""  # chunk id or row id
    score: float = 0.0
    fields: dict[str, str] = {}  # a reference row's columns and values

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc_id, self.ref_id or self.text)

    def where(self) -> str:
        parts = [self.title]
        section = [s for s in self.section if s != self.title]
        if section:
            parts.append(" › ".join(section))
        if self.kind == "reference_row":
            parts.append("reference table row")
        if self.page:
            parts.append(f"p. {self.page}")
        return ", ".join(parts)


class Citation(Source):
    """A numbered source: [number] in the draft's text."""

    number: int


class Retriever(Protocol):
    """What drafting needs from the knowledge base."""

    def search(self, query: str, k: int) -> list[Source]: ...

    def lookup(self, question: str, k: int = 5) -> list[Source]: ...


def number_sources(sources: Sequence[Source], start: int = 1) -> list[Citation]:
    """Sources numbered from ``start`` in order, duplicates dropped."""
    seen: set[tuple[str, str]] = set()
    citations = []
    for source in sources:
        if source.key in seen:
            continue
        seen.add(source.key)
        citations.append(Citation(**source.model_dump(), number=start + len(citations)))
    return citations


_MARK = re.compile(r"\[(\d{1,3}(?:\s*[,–-]\s*\d{1,3})*)\]")


def cited_numbers(text: str) -> list[int]:
    """Numbers cited as [n], [n, m] or [n-m] in ``text``, in first-seen order."""
    found: list[int] = []
    for match in _MARK.finditer(text):
        for part in re.split(r"\s*,\s*", match.group(1)):
            bounds = re.split(r"\s*[–-]\s*", part)
            low, high = int(bounds[0]), int(bounds[-1])
            for number in range(low, min(high, low + 50) + 1):
                if number not in found:
                    found.append(number)
    return found


def renumber(text: str, mapping: dict[int, int]) -> str:
    """``text`` with each cited [n] replaced by [mapping[n]] (unknown numbers kept)."""
    def swap(match: re.Match[str]) -> str:
        numbers = cited_numbers(match.group(0))
        return "".join(f"[{mapping.get(n, n)}]" for n in numbers)

    return _MARK.sub(swap, text)


class WorkspaceRetriever:
    """Hybrid search and reference-table lookup over a workspace's index (core.retrieval).

    Passages may be scoped: ``include_docs`` (document ids) limits the search to those
    documents, ``exclude_docs`` are never returned, ``kinds`` keeps documents of those
    kinds only. Reference-table lookup is never scoped: the tables hold the company's
    facts for every draft (``core.drafting.scope`` builds the usual scopes).
    """

    def __init__(self, workspace: Workspace, *, mode: str = "hybrid",
                 embedder: Any | None = None, include_docs: Sequence[str] = (),
                 exclude_docs: Sequence[str] = (), kinds: Sequence[str] = ()) -> None:
        self.workspace = workspace
        self.mode = mode
        self.embedder = embedder
        self.include_docs = tuple(include_docs)
        self.exclude_docs = tuple(exclude_docs)
        self.kinds = tuple(kinds)

    def search(self, query: str, k: int) -> list[Source]:
        from core.retrieval.search import search

        results = search(self.workspace, query, k=k, mode=self.mode, embedder=self.embedder,
                         kinds=self.kinds, include_docs=self.include_docs,
                         exclude_docs=self.exclude_docs)
        return [Source(kind="passage", doc_id=r.doc_id, title=r.title, text=r.text,
                       section=r.section, page=r.page, ref_id=r.chunk_id, score=r.score)
                for r in results]

    def lookup(self, question: str, k: int = 5) -> list[Source]:
        from core.retrieval.reference import ask_reference

        rows = ask_reference(self.workspace, question, k, embedder=self.embedder)
        return [Source(kind="reference_row", doc_id=r.doc_id, title=r.title, text=r.text,
                       section=(f"row {r.row + 1}",), ref_id=r.row_id, score=r.score,
                       fields=r.fields)
                for r in rows]
