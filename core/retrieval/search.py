"""Searching the knowledge base: vector, full-text (BM25) or hybrid (fused with RRF).

Filters (document kind, tag, import date, documents to include or exclude) are applied
inside both searches, before the limit. Hybrid search takes a deeper candidate list from
each side and fuses the two rankings with reciprocal rank fusion; when the query names
exact identifiers (a solicitation number, a code, a distinctive name), the passages of
the documents holding them come first (``core.retrieval.exact``). A configured local
cross-encoder, if any, then re-scores the candidates (identified documents still first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.ingest.store import DocumentStore
from core.retrieval.ann import tune
from core.retrieval.embedder import Embedder, load_embedder, load_reranker
from core.retrieval.exact import Identified, Ranked, identify, promote
from core.retrieval.ranking import rrf_fuse, term_spans
from core.retrieval.store import (
    CHUNKS,
    Generation,
    RetrievalError,
    connect,
    open_pinned,
    read_manifest,
    require_active,
    sql_quote,
)
from core.workspace import Workspace

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES: tuple[str, ...] = ("hybrid", "vector", "text")
_COLUMNS = ["chunk_id", "doc_id", "version", "title", "kind", "tags", "imported", "section",
            "page", "block_start", "block_end", "block_kind", "text"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# How many candidates each side hands to the fusion. RRF needs deep lists: with short
# ones, a passage that both sides merely list beats one side's clear first hit.
CANDIDATE_DEPTH = 50


class SearchResult(BaseModel):
    """One retrieved passage and where it came from."""

    model_config = ConfigDict(frozen=True)
    chunk_id: str
    text: str
    score: float
    doc_id: str
    title: str
    version: int
    section: tuple[str, ...] = ()
    page: int | None = None
    kind: str = "other"
    tags: tuple[str, ...] = ()
    imported: str = ""
    block_start: int = 0
    block_end: int = 0
    block_kind: str = "text"
    spans: tuple[tuple[int, int], ...] = ()  # query terms in ``text``, for highlighting
    vector_rank: int | None = None
    text_rank: int | None = None


def build_filter(
    kinds: Sequence[str] = (), tags: Sequence[str] = (), since: str | None = None,
    until: str | None = None, *, include_docs: Sequence[str] = (),
    exclude_docs: Sequence[str] = (),
) -> str | None:
    """A LanceDB SQL filter for document kinds (any of), tags (all of), import dates,
    documents to search only (``include_docs``, any of) and documents never to return."""
    parts = []
    if kinds:
        parts.append(f"kind IN ({', '.join(sql_quote(k) for k in kinds)})")
    if include_docs:
        parts.append(f"doc_id IN ({', '.join(sql_quote(d) for d in include_docs)})")
    if exclude_docs:
        parts.append(f"doc_id NOT IN ({', '.join(sql_quote(d) for d in exclude_docs)})")
    for tag in tags:
        parts.append(f"tags LIKE {sql_quote('%|' + tag.replace('%', '') + '|%')}")
    for bound, op in ((since, ">="), (until, "<=")):
        if bound:
            if not _DATE.match(bound):
                raise RetrievalError(f"Dates are written YYYY-MM-DD, not {bound!r}.")
            value = bound if op == ">=" else bound + "\uffff"  # until: the whole day
            parts.append(f"imported {op} {sql_quote(value)}")
    return " AND ".join(parts) or None


def fts_query(query: str) -> str:
    """The query as plain words for BM25 (no operators, quotes or punctuation)."""
    return " ".join(re.findall(r"\w+", query))


def vector_candidates(table: Any, vector: Any, where: str | None, limit: int,
                      columns: Sequence[str], *, exact: bool = False) -> list[dict[str, Any]]:
    """The ``limit`` nearest rows by cosine distance, through the table's ANN index when
    it has one (``core.retrieval.ann``), or every row when ``exact``."""
    builder = tune(table.search(vector, query_type="vector").distance_type("cosine"),
                   limit, exact=exact)
    if where:
        builder = builder.where(where, prefilter=True)
    return builder.select([*columns, "_distance"]).limit(limit).to_list()


def text_candidates(table: Any, query: str, where: str | None, limit: int,
                    columns: Sequence[str], column: str) -> list[dict[str, Any]]:
    words = fts_query(query)
    if not words:
        return []
    builder = table.search(words, query_type="fts", fts_columns=column)
    if where:
        builder = builder.where(where, prefilter=True)
    return builder.select([*columns, "_score"]).limit(limit).to_list()


def fuse(
    mode: str, vector_hits: list[dict[str, Any]], text_hits: list[dict[str, Any]], key: str,
) -> list[Ranked]:
    """Rows best first with their score and their rank in each list (1-based)."""
    vrank = {row[key]: i for i, row in enumerate(vector_hits, 1)}
    trank = {row[key]: i for i, row in enumerate(text_hits, 1)}
    rows = {row[key]: row for row in [*text_hits, *vector_hits]}
    if mode == "vector":
        ranked = [(r[key], 1.0 - float(r["_distance"])) for r in vector_hits]
    elif mode == "text":
        ranked = [(r[key], float(r["_score"])) for r in text_hits]
    else:
        ranked = rrf_fuse([[r[key] for r in vector_hits], [r[key] for r in text_hits]])
    return [(rows[id_], score, vrank.get(id_), trank.get(id_)) for id_, score in ranked]


def _result(row: dict[str, Any], score: float, query: str, vr: int | None,
            tr: int | None) -> SearchResult:
    return SearchResult(
        chunk_id=row["chunk_id"], text=row["text"], score=score, doc_id=row["doc_id"],
        title=row["title"], version=row["version"], section=tuple(row["section"] or ()),
        page=row["page"], kind=row["kind"], tags=tuple(t for t in row["tags"].split("|") if t),
        imported=row["imported"], block_start=row["block_start"], block_end=row["block_end"],
        block_kind=row["block_kind"], spans=tuple(term_spans(row["text"], query)),
        vector_rank=vr, text_rank=tr,
    )


def search(
    workspace: Workspace, query: str, *, k: int = 5, mode: str = "hybrid",
    kinds: Sequence[str] = (), tags: Sequence[str] = (), since: str | None = None,
    until: str | None = None, include_docs: Sequence[str] = (),
    exclude_docs: Sequence[str] = (), reranker: str | None = None, use_reranker: bool = True,
    embedder: Embedder | None = None, generation: Generation | None = None,
) -> list[SearchResult]:
    """The ``k`` best passages for ``query``; see the module docstring for the modes.

    ``include_docs`` (document ids) limits the search to those documents; passages of
    ``exclude_docs`` are never returned.
    """
    if mode not in SEARCH_MODES:
        raise RetrievalError(f"Unknown search mode {mode!r} (use {', '.join(SEARCH_MODES)}).")
    if not query.strip():
        return []
    generation = generation or require_active(workspace)
    table = open_pinned(connect(workspace), generation, CHUNKS)
    if table is None:
        return []
    reranker = reranker or (read_manifest(workspace).reranker_model if use_reranker else None)
    where = build_filter(kinds, tags, since, until, include_docs=include_docs,
                         exclude_docs=exclude_docs)
    depth = max(k * 10, CANDIDATE_DEPTH)
    vector_hits: list[dict[str, Any]] = []
    text_hits: list[dict[str, Any]] = []
    if mode in ("hybrid", "vector"):
        embedder = embedder or load_embedder(generation.settings.embedding_model)
        vector = embedder.embed_query(query)
        vector_hits = vector_candidates(table, vector, where, depth, _COLUMNS)
    if mode in ("hybrid", "text"):
        text_hits = text_candidates(table, query, where, depth, _COLUMNS, "content")
    ranked = fuse(mode, vector_hits, text_hits, "chunk_id")
    identified = None
    if mode == "hybrid" and embedder is not None:
        documents = sum(1 for entry in generation.documents.values() if entry.chunks)
        identified = identify(table, query, where, _COLUMNS, documents)
        if identified is not None:
            ranked = identified_first(table, query, where, depth, embedder, identified, ranked)
    if reranker and ranked:
        ranked = rerank(reranker, query, ranked, identified)
    return [_result(row, score, query, vr, tr) for row, score, vr, tr in ranked[:k]]


def identified_first(table: Any, query: str, where: str | None, depth: int,
                     embedder: Embedder, identified: Identified,
                     ranked: list[Ranked]) -> list[Ranked]:
    """``ranked`` with the passages of the documents the query names first: BM25 on the
    query and vector search on the rest of it (all of it when it is only identifiers), in
    those documents (``core.retrieval.exact``)."""
    scoped = identified.where(where)
    rest = identified.remainder(query) or query
    vector_hits = vector_candidates(table, embedder.embed_query(rest), scoped, depth, _COLUMNS)
    text_hits = text_candidates(table, query, scoped, depth, _COLUMNS, "content")
    return promote(identified, ranked, vector_hits, text_hits)


def rerank(reranker: str, query: str, ranked: list[Ranked],
           identified: Identified | None) -> list[Ranked]:
    """``ranked`` re-scored by the cross-encoder; identified documents stay first."""
    scores = load_reranker(reranker).scores(query, [row["text"] for row, *_ in ranked])
    rescored = [(row, s, vr, tr) for (row, _, vr, tr), s in zip(ranked, scores)]
    if identified is None:
        return sorted(rescored, key=lambda item: -item[1])
    priority = identified.priority
    return sorted(rescored, key=lambda item: (*(-p for p in priority(item[0])), -item[1]))


class Passage(BaseModel):
    """A chunk shown in its document: the whole text and where the chunk lies in it."""

    model_config = ConfigDict(frozen=True)
    doc_id: str
    title: str
    version: int
    text: str
    start: int
    end: int


def passage_context(workspace: Workspace, result: SearchResult) -> Passage:
    """The document text (as ``DocumentStore.text`` joins it) and the result's span in it."""
    store = DocumentStore(workspace)
    blocks = store.blocks(result.doc_id, result.version)
    texts = [block.text for block in blocks]
    start = sum(len(t) + 2 for t in texts[:result.block_start])
    end = sum(len(t) + 2 for t in texts[:result.block_end + 1]) - 2
    return Passage(doc_id=result.doc_id, title=result.title, version=result.version,
                   text="\n\n".join(texts), start=start, end=max(start, end))
