"""Reference tables: exact lookup of rows by code or name, and questions about them.

Rows of reference documents' CSV tables live in the ``reference_rows`` table with their
fields as JSON. ``lookup`` matches a term against every field (case-insensitive: exact
matches first, then fields containing it). ``ask_reference`` answers a question such as
"what is the code for a senior systems engineer?": rows whose values appear verbatim in
the question come first (the longest, most specific match on top), then rows found by
hybrid search over the rows' text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.retrieval.embedder import Embedder, load_embedder
from core.retrieval.search import fuse, text_candidates, vector_candidates
from core.retrieval.store import ROWS, connect, open_pinned, require_active
from core.workspace import Workspace

_COLUMNS = ["row_id", "doc_id", "version", "title", "tags", "imported", "block_start",
            "fields_json", "text"]


class ReferenceRow(BaseModel):
    """One row of a reference table and how it matched."""

    model_config = ConfigDict(frozen=True)
    row_id: str
    doc_id: str
    title: str
    version: int
    row: int  # block index in the document
    fields: dict[str, str]
    text: str
    match: Literal["exact", "contains", "mentioned", "semantic"] = "exact"
    matched_field: str | None = None
    score: float = 0.0


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _row(raw: dict[str, Any], **update: Any) -> ReferenceRow:
    return ReferenceRow(
        row_id=raw["row_id"], doc_id=raw["doc_id"], title=raw["title"], version=raw["version"],
        row=raw["block_start"], fields=json.loads(raw["fields_json"]), text=raw["text"], **update,
    )


def _table(workspace: Workspace) -> Any | None:
    return open_pinned(connect(workspace), require_active(workspace), ROWS)


def all_rows(workspace: Workspace, doc_id: str | None = None) -> list[ReferenceRow]:
    """Every indexed reference row (of one document if ``doc_id``), in table order."""
    table = _table(workspace)
    if table is None:
        return []
    count = table.count_rows()
    if not count:
        return []
    builder = table.search().select(_COLUMNS).limit(count)
    if doc_id:
        builder = builder.where(f"doc_id = '{doc_id.replace(chr(39), '')}'")
    raws = builder.to_list()
    raws.sort(key=lambda r: (r["title"], r["doc_id"], r["block_start"]))
    return [_row(raw) for raw in raws]


def lookup(workspace: Workspace, term: str, limit: int = 20) -> list[ReferenceRow]:
    """Rows with a field equal to ``term`` (case-insensitive), then rows containing it."""
    wanted = _normal(term)
    if not wanted:
        return []
    ranked: list[tuple[int, int, ReferenceRow]] = []
    for order, row in enumerate(all_rows(workspace)):
        best: tuple[int, str] | None = None
        for name, value in row.fields.items():
            value = _normal(value)
            if value == wanted:
                best = (0, name)
                break
            if wanted in value and best is None:
                best = (1, name)
        if best is not None:
            match = "exact" if best[0] == 0 else "contains"
            ranked.append((best[0], order, row.model_copy(update={
                "match": match, "matched_field": best[1], "score": 1.0 - best[0] / 2})))
    ranked.sort(key=lambda item: item[:2])
    return [row for *_, row in ranked[:limit]]


def _mentions(question: str, value: str) -> list[tuple[int, int]]:
    """Where ``question`` names ``value`` (a plural too): the spans."""
    pattern = rf"(?<!\w){re.escape(value)}(?:s|es)?(?!\w)"
    return [match.span() for match in re.finditer(pattern, question)]


def _named_rows(question: str, rows: list[ReferenceRow]) -> dict[int, list[tuple[int, str]]]:
    """Per row (by position), the (length, field) of each value ``question`` names. A
    value named only inside a longer value another row has ("Program Manager" inside
    "Deputy Program Manager") is not named: the question means the longer one."""
    found: list[tuple[int, str, str, tuple[int, int]]] = []
    for order, row in enumerate(rows):
        for name, value in row.fields.items():
            value = _normal(value)
            if len(value) >= 3 and not value.replace(".", "").isdigit():
                found += [(order, name, value, span) for span in _mentions(question, value)]
    spans = {span for *_, span in found}
    named: dict[int, list[tuple[int, str]]] = {}
    for order, name, value, (start, end) in found:
        if not any(a <= start and end <= b and (a, b) != (start, end) for a, b in spans):
            named.setdefault(order, []).append((len(value), name))
    return named


def ask_reference(
    workspace: Workspace, question: str, k: int = 5, *, embedder: Embedder | None = None,
) -> list[ReferenceRow]:
    """Rows that answer ``question``: rows it names verbatim first, then semantic matches."""
    normal = _normal(question)
    rows = all_rows(workspace)
    mentioned: list[tuple[float, int, ReferenceRow]] = []
    for order, hits in _named_rows(normal, rows).items():
        length, name = max(hits)
        score = length + 0.1 * (len(hits) - 1)
        mentioned.append((score, order, rows[order].model_copy(update={
            "match": "mentioned", "matched_field": name, "score": float(score)})))
    mentioned.sort(key=lambda item: (-item[0], item[1]))
    results = [row for *_, row in mentioned][:k]
    if len(results) >= k or not rows:
        return results
    generation = require_active(workspace)
    table = _table(workspace)
    embedder = embedder or load_embedder(generation.settings.embedding_model)
    depth = max(4 * k, 20)
    vector_hits = vector_candidates(table, embedder.embed_query(question), None, depth, _COLUMNS)
    text_hits = text_candidates(table, question, None, depth, _COLUMNS, "text")
    seen = {row.row_id for row in results}
    for raw, score, _, _ in fuse("hybrid", vector_hits, text_hits, "row_id"):
        if len(results) >= k:
            break
        if raw["row_id"] not in seen:
            results.append(_row(raw, match="semantic", score=score))
            seen.add(raw["row_id"])
    return results
