"""Rank fusion and query-term highlighting (pure functions, no index needed)."""

from __future__ import annotations

import html
import re
from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
RRF_K = 60
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with we our you your does do can".split()
)
_WORD = re.compile(r"[\w][\w\-./]*[\w]|[\w]", re.UNICODE)


def rrf_fuse(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: ``score(d) = Σ 1 / (k + rank_i(d))`` over the lists.

    Each ranking is best first (rank 1); a key missing from a list adds nothing. Ties
    keep the order of first appearance (earlier lists, better ranks first).
    """
    scores: dict[K, float] = {}
    for ranking in rankings:
        seen: set[K] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def query_terms(query: str) -> list[str]:
    """The words of a query worth highlighting (lower case, no stop words, unique)."""
    terms: list[str] = []
    for match in _WORD.finditer(query.lower()):
        word = match.group(0).strip("-./")
        if word and word not in STOP_WORDS and (len(word) > 1 or word.isdigit()) \
                and word not in terms:
            terms.append(word)
    return terms


_SUFFIXES = ("ations", "ation", "ings", "ing", "ions", "ion", "ers", "er", "ed", "es", "s", "e")


def stem(term: str) -> str:
    """A crude stem so that "migration" also highlights "migrate" (display only)."""
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 4:
            return term[: -len(suffix)]
    return term


def term_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` in ``text`` of the query's terms (whole words,
    case-insensitive; a term also matches words sharing its stem)."""
    spans: list[tuple[int, int]] = []
    for term in query_terms(query):
        pattern = re.compile(rf"(?<![\w]){re.escape(stem(term))}\w{{0,6}}(?![\w])", re.IGNORECASE)
        spans.extend((m.start(), m.end()) for m in pattern.finditer(text))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` HTML-escaped with each span in ``<b>…</b>``."""
    parts, last = [], 0
    for start, end in spans:
        parts.append(html.escape(text[last:start]))
        parts.append(f"<b>{html.escape(text[start:end])}</b>")
        last = end
    parts.append(html.escape(text[last:]))
    return "".join(parts)
