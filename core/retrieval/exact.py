"""Documents that name a query's identifiers, and the ranking that puts them first.

Rank fusion dilutes an exact identifier: BM25 splits "JL4410-27-R-0115" into common
sub-words and the embedding barely notices it, so the solicitation the query names can
drop out of the top results. Hybrid search therefore looks the query's identifiers
(``core.retrieval.identifiers``) up verbatim in the chunks' full-text ``content`` (title,
headings and text: a coarse ``ILIKE`` scan, confirmed by a whole-token pattern) and puts
the passages of the documents that hold them ahead of the fused list, in this order:

1. documents holding more of the identifiers first (the *tier*);
2. in a document that an identifier names only in passing (not in its title or opening
   passage: one contract number in a past-performance list), the passages holding it;
   an identifier on the cover (a solicitation number, "TalentMAP" in the background)
   names the whole document and favours no passage of it;
3. then a fusion of two searches restricted to those documents: BM25 on the whole query
   and vector search on the query without its identifiers (they chose the documents;
   the rest says which passages: "the evaluation criteria of the TalentMAP solicitation"),
   or on the whole query when it is nothing but identifiers.

A name (letters only) counts only when it is distinctive: found in at most
``MAX_NAME_SHARE`` of the indexed documents.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.retrieval.identifiers import Identifier, query_identifiers, term_parts, term_pattern
from core.retrieval.ranking import query_terms, rrf_fuse
from core.retrieval.store import sql_quote

Ranked = tuple[dict[str, Any], float, int | None, int | None]  # row, score, vector/text rank
MAX_MATCHING_CHUNKS = 5000  # an "identifier" in more passages than this identifies nothing
MAX_IDENTIFIED_DOCUMENTS = 200
MAX_NAME_SHARE = 0.5


@dataclass(frozen=True)
class Mentions:
    """Where one identifier occurs: the documents holding it, and the passages holding it
    in documents it does not name on the cover (title or opening passage)."""

    identifier: Identifier
    documents: frozenset[str]
    passages: frozenset[str] = frozenset()
    rows: tuple[dict[str, Any], ...] = ()


@dataclass
class Identified:
    """The documents a query names, with how many of its identifiers each one holds."""

    mentions: list[Mentions]
    doc_terms: Counter[str] = field(default_factory=Counter)
    passage_terms: Counter[str] = field(default_factory=Counter)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for found in self.mentions:
            self.doc_terms.update(found.documents)
            self.passage_terms.update(found.passages)
            self.rows.update((row["chunk_id"], row) for row in found.rows)

    def where(self, base: str | None) -> str:
        """``base`` narrowed to the identified documents."""
        docs = f"doc_id IN ({', '.join(sql_quote(d) for d in sorted(self.doc_terms))})"
        return f"({base}) AND {docs}" if base else docs

    def remainder(self, query: str) -> str:
        """``query`` without its identifiers: what it asks of the identified documents
        ("evaluation criteria of the TalentMAP solicitation" → "evaluation criteria of
        the solicitation"); empty when nothing but stop words is left."""
        for found in self.mentions:
            query = term_pattern(found.identifier.text).sub(" ", query)
        query = " ".join(query.split())
        return query if query_terms(query) else ""

    def priority(self, row: dict[str, Any]) -> tuple[int, int]:
        """(identifiers its document holds, identifiers it holds in passing); (0, 0) for
        a passage of another document."""
        return self.doc_terms[row["doc_id"]], self.passage_terms[row["chunk_id"]]


def _opening(chunk_id: str) -> bool:
    """Whether the chunk is its document's first (ids end in the ordinal)."""
    return chunk_id.rsplit(":", 1)[-1] == "0"


def find_mentions(table: Any, identifier: Identifier, where: str | None,
                  columns: Sequence[str]) -> Mentions | None:
    """Where ``identifier`` occurs (within ``where``); None if nowhere or too widely."""
    parts = term_parts(identifier.text)
    if not parts:
        return None
    like = f"content ILIKE {sql_quote('%' + '%'.join(parts) + '%')}"
    condition = f"({where}) AND {like}" if where else like
    columns = list(dict.fromkeys([*columns, "chunk_id", "doc_id", "title", "text", "content"]))
    rows = table.search().where(condition).select(columns).limit(
        MAX_MATCHING_CHUNKS + 1).to_list()
    if len(rows) > MAX_MATCHING_CHUNKS:
        return None
    pattern = term_pattern(identifier.text)
    named = [row for row in rows if pattern.search(row["content"])]
    documents = frozenset(row["doc_id"] for row in named)
    if not documents or len(documents) > MAX_IDENTIFIED_DOCUMENTS:
        return None
    holding = [row for row in named if pattern.search(row["text"])]
    covers = {row["doc_id"] for row in named if pattern.search(row["title"])}
    covers |= {row["doc_id"] for row in holding if _opening(row["chunk_id"])}
    passages = frozenset(row["chunk_id"] for row in holding if row["doc_id"] not in covers)
    return Mentions(identifier, documents, passages, tuple(holding))


def is_distinctive(found: Mentions, total_documents: int) -> bool:
    """A code always is; a name when it is in at most ``MAX_NAME_SHARE`` of the documents."""
    if found.identifier.kind == "code":
        return True
    return len(found.documents) <= max(1, math.floor(total_documents * MAX_NAME_SHARE))


def identify(table: Any, query: str, where: str | None, columns: Sequence[str],
             total_documents: int) -> Identified | None:
    """The documents ``query`` names by its identifiers, or None when it names none."""
    mentions = []
    for identifier in query_identifiers(query):
        found = find_mentions(table, identifier, where, columns)
        if found is not None and is_distinctive(found, total_documents):
            mentions.append(found)
    return Identified(mentions) if mentions else None


def promote(identified: Identified, ranked: Sequence[Ranked],
            vector_hits: Sequence[dict[str, Any]], text_hits: Sequence[dict[str, Any]],
            key: str = "chunk_id") -> list[Ranked]:
    """``ranked`` with the identified documents' passages first (see the module docstring).

    ``vector_hits`` and ``text_hits`` are the two searches restricted to the identified
    documents. A promoted passage scores ``tier + (in passing + fused) / (identifiers +
    1)``: above every passage of a lower tier, so that scores still fall down the list.
    """
    ranks = {row[key]: (vr, tr) for row, _, vr, tr in ranked}
    rows = {**identified.rows, **{r[key]: r for r in [*text_hits, *vector_hits]}}
    fused = dict(rrf_fuse([[r[key] for r in vector_hits], [r[key] for r in text_hits]]))
    fused.update((id_, 0.0) for id_ in identified.passage_terms if id_ not in fused)
    share = len(identified.mentions) + 1
    scored = []
    for id_, score in fused.items():
        tier, passing = identified.priority(rows[id_])
        scored.append((rows[id_], tier + (passing + score) / share))
    scored.sort(key=lambda item: -item[1])
    first = [(row, score, *ranks.get(row[key], (None, None))) for row, score in scored]
    seen = {row[key] for row, *_ in first}
    return first + [item for item in ranked if item[0][key] not in seen]
