"""Guesses for the Import wizard: each document's kind, and which proposal answered which RFP.

Both are suggestions the user confirms; neither changes the workspace.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.ingest.model import Block

_NAME_CUES = {
    "rfp": r"\b(rfp|rfq|rfi|solicitation|sow|pws|statement[ _-]?of[ _-]?work|tender|itt|"
    r"request[ _-]?for)\b",
    "proposal": r"\b(proposal|response|volume|bid|offer|submission|technical[ _-]?approach)\b",
    "reference": r"\b(rates?|labou?r|categor(y|ies)|rate[ _-]?card|past[ _-]?performance|"
    r"reference|catalog(ue)?|price[ _-]?list|glossary|codes?)\b",
}
# (a phrase every match contains, the pattern, its weight): the phrase is looked for
# first, as a plain substring, which is far cheaper than a search for the pattern.
_CONTENT_CUES: dict[str, tuple[tuple[str, re.Pattern[str], int], ...]] = {
    "rfp": (
        ("request for ", re.compile(r"request for (proposal|quotation|information)"), 3),
        ("solicitation", re.compile(r"\bsolicitation\b"), 2),
        ("offeror", re.compile(r"\bofferors?\b"), 2),
        ("statement of work", re.compile(r"statement of work"), 1),
        ("evaluation ", re.compile(r"evaluation (criteria|factors)"), 1),
        ("proposal", re.compile(r"proposals? (are|is|must be) (due|submitted)"), 2),
    ),
    "proposal": (
        ("we propose", re.compile(r"\bwe propose\b"), 3),
        (" to ", re.compile(r"(pleased|proud) to (submit|present)"), 3),
        ("in response to", re.compile(r"\bin response to\b"), 2),
        ("our ", re.compile(r"\bour (team|approach|solution|staff)\b"), 1),
        ("we will", re.compile(r"\bwe will\b"), 1),
    ),
}
_WORD = re.compile(r"[a-z][a-z0-9]+")
_IDENTIFIER = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)+\b")
_NAME_NOISE = {
    "rfp",
    "rfq",
    "rfi",
    "proposal",
    "response",
    "to",
    "the",
    "for",
    "of",
    "and",
    "volume",
    "vol",
    "technical",
    "final",
    "draft",
    "copy",
    "submission",
    "bid",
    "solicitation",
    "our",
    "a",
    "an",
    "request",
    "md",
    "txt",
    "pdf",
    "docx",
    "html",
}
_STOP = {
    "the",
    "and",
    "for",
    "with",
    "that",
    "this",
    "shall",
    "will",
    "are",
    "from",
    "have",
    "has",
    "been",
    "which",
    "their",
    "they",
    "must",
    "such",
    "each",
    "all",
    "any",
    "our",
    "not",
    "its",
    "into",
    "more",
    "other",
    "than",
    "also",
    "can",
    "may",
    "these",
    "were",
}


def guess_kind(name: str, blocks: list[Block]) -> str:
    """``rfp``, ``proposal``, ``reference`` or ``other`` from the file name and its content."""
    scores: Counter[str] = Counter()
    stem = re.sub(r"[_.]+", " ", Path(name).stem.lower())
    for kind, pattern in _NAME_CUES.items():
        if re.search(pattern, stem):
            scores[kind] += 3
    if blocks:
        kinds = Counter(b.kind for b in blocks)
        if kinds["pair"] / len(blocks) > 0.5:
            return "other"  # instruction/response pairs are training data, not documents
        if kinds["table_row"] / len(blocks) >= 0.5:
            scores["reference"] += 4
    text = " ".join(b.text for b in blocks[:400])[:20_000].lower()
    for kind, cues in _CONTENT_CUES.items():
        for phrase, pattern, weight in cues:
            if phrase in text and pattern.search(text):
                scores[kind] += weight
    words = max(1, len(text.split()))
    if text.count(" shall ") / words > 0.004:
        scores["rfp"] += 2
    if not scores:
        return "other"
    kind, score = scores.most_common(1)[0]
    return kind if score >= 3 else "other"


@dataclass(frozen=True)
class PairSuggestion:
    """A proposal that probably answered an RFP, with how sure we are (0–1)."""

    rfp_id: str
    proposal_id: str
    score: float
    name_score: float
    content_score: float
    shared_identifiers: tuple[str, ...] = ()


def _name_tokens(name: str) -> str:
    words = re.findall(r"[a-z0-9]+", Path(name).stem.lower())
    return " ".join(w for w in words if w not in _NAME_NOISE)


def _name_similarity(first: str, second: str) -> float:
    a, b = _name_tokens(first), _name_tokens(second)
    if not a or not b:
        return 0.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    sa, sb = set(a.split()), set(b.split())
    return max(ratio, len(sa & sb) / len(sa | sb))


def _vector(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if len(w) > 3 and w not in _STOP)


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def suggest_pairs(store: object, min_score: float = 0.35) -> list[PairSuggestion]:
    """Scored RFP → proposal pairings not yet recorded, best first.

    Name similarity (file names without words like "RFP" or "proposal"), shared
    identifiers (a solicitation number quoted in both) and TF-IDF cosine of the text.
    """
    records = [r for r in store.list() if r.kind in ("rfp", "proposal")]  # type: ignore[attr-defined]
    texts = {r.id: store.text(r.id)[:100_000] for r in records}  # type: ignore[attr-defined]
    vectors = {doc_id: _vector(text) for doc_id, text in texts.items()}
    frequency: Counter[str] = Counter()
    for vector in vectors.values():
        frequency.update(vector.keys())
    total = max(1, len(vectors))
    weighted = {
        doc_id: {w: c * math.log(1 + total / frequency[w]) for w, c in v.items()}
        for doc_id, v in vectors.items()
    }
    identifiers = {doc_id: set(_IDENTIFIER.findall(text)) for doc_id, text in texts.items()}
    suggestions = []
    for rfp in (r for r in records if r.kind == "rfp"):
        for proposal in (r for r in records if r.kind == "proposal"):
            if proposal.id in rfp.paired_with:
                continue
            name = max(
                _name_similarity(rfp.latest.source_name, proposal.latest.source_name),
                _name_similarity(rfp.title, proposal.title),
            )
            content = _cosine(weighted[rfp.id], weighted[proposal.id])
            shared = tuple(sorted(identifiers[rfp.id] & identifiers[proposal.id]))
            score = 0.45 * name + 0.35 * content + (0.3 if shared else 0.0)
            score = min(1.0, score)
            if score >= min_score:
                suggestions.append(
                    PairSuggestion(
                        rfp.id,
                        proposal.id,
                        round(score, 3),
                        round(name, 3),
                        round(content, 3),
                        shared,
                    )
                )
    return sorted(suggestions, key=lambda s: -s.score)


def best_pairs(suggestions: list[PairSuggestion]) -> list[PairSuggestion]:
    """One proposal per RFP and one RFP per proposal, greedily by score."""
    used: set[str] = set()
    chosen = []
    for suggestion in suggestions:
        if suggestion.rfp_id in used or suggestion.proposal_id in used:
            continue
        used.update((suggestion.rfp_id, suggestion.proposal_id))
        chosen.append(suggestion)
    return chosen
