"""Checking citations: does the source a sentence cites support it?

A sentence is *supported* by a source when at least ``SUPPORT_OVERLAP`` of its content
words (words of three or more letters that are not stop words, and every number or code)
occur in the source's text, or, with an embedder, when their cosine similarity reaches
``SUPPORT_SIMILARITY``. ``check_citations`` scores each ``[n]`` marker of a draft;
``attribute`` adds a marker to an uncited sentence that one shown source clearly supports
(``ATTRIBUTE_OVERLAP``), and drops markers that name no shown source. Table rows are
sentences too: a row's values must occur in the row it cites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.drafting.hygiene import words
from core.drafting.sources import Citation, cited_numbers

SUPPORT_OVERLAP = 0.35
SUPPORT_SIMILARITY = 0.6
ATTRIBUTE_OVERLAP = 0.5
MIN_CONTENT_WORDS = 4  # shorter sentences (headings, fragments) are not attributed
_MARK = re.compile(r"\s*\[(\d{1,3}(?:\s*[,–-]\s*\d{1,3})*)\]")
_SPLIT = re.compile(r"(?<=[.!?])(?:\s*\[[\d,\s–-]+\])*\s+(?=[A-Z(\"“])|\n+")
STOP_WORDS = frozenset("""
a about above after again against all also an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more
most my no nor not now of off on once only or other our ours out over own same she should so
some such than that the their theirs them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you
your shall must may provide provides provided including include includes within per each
""".split())
Similarity = Callable[[str, str], float]


def content_words(text: str) -> set[str]:
    """Words that carry meaning: no stop words, no citation numbers, at least 3 letters."""
    text = _MARK.sub(" ", text)
    return {w for w in words(text)
            if (len(w) >= 3 or any(ch.isdigit() for ch in w)) and w not in STOP_WORDS}


def overlap(sentence: str, source: str) -> float:
    """Share of the sentence's content words that occur in ``source``."""
    mine = content_words(sentence)
    if not mine:
        return 0.0
    return len(mine & content_words(source)) / len(mine)


def sentences(text: str) -> list[str]:
    """Sentences and table rows of a draft, each with its own citation markers."""
    out = []
    for piece in _SPLIT.split(text):
        piece = piece.strip()
        if piece and not re.fullmatch(r"\|?[\s|:-]*\|?", piece):
            out.append(piece)
    return out


@dataclass(frozen=True)
class CitationCheck:
    """Every [n] marker of a draft and whether its source supports the sentence."""

    markers: int
    valid: int
    invalid: tuple[tuple[int, str], ...]  # (number, sentence) of each unsupported marker
    sentences: int
    cited_sentences: int

    @property
    def validity(self) -> float | None:
        return None if not self.markers else self.valid / self.markers


def supports(sentence: str, source: Citation, similarity: Similarity | None = None) -> bool:
    text = source.text + " " + " ".join(source.fields.values())
    if overlap(sentence, text) >= SUPPORT_OVERLAP:
        return True
    return similarity is not None and similarity(sentence, source.text) >= SUPPORT_SIMILARITY


def check_citations(text: str, citations: Sequence[Citation],
                    similarity: Similarity | None = None) -> CitationCheck:
    """Score each [n] marker in ``text`` against the shown ``citations``."""
    by_number = {c.number: c for c in citations}
    markers = valid = cited = 0
    invalid: list[tuple[int, str]] = []
    parts = sentences(text)
    for sentence in parts:
        numbers = cited_numbers(sentence)
        cited += bool(numbers)
        for number in numbers:
            markers += 1
            source = by_number.get(number)
            if source is not None and supports(sentence, source, similarity):
                valid += 1
            else:
                invalid.append((number, sentence[:200]))
    return CitationCheck(markers, valid, tuple(invalid), len(parts), cited)


def _best_source(sentence: str, citations: Sequence[Citation]) -> Citation | None:
    scored = [(overlap(sentence, c.text + " " + " ".join(c.fields.values())), -c.number, c)
              for c in citations]
    if not scored:
        return None
    score, _, best = max(scored, key=lambda item: item[:2])
    return best if score >= ATTRIBUTE_OVERLAP else None


def attribute(text: str, citations: Sequence[Citation]) -> tuple[str, int, int]:
    """``text`` with markers naming no shown source removed and uncited sentences that a
    source clearly supports given its marker; returns (text, added, removed)."""
    text, removed = drop_unknown_markers(text, {c.number for c in citations})
    added = 0
    out_lines = []
    for line in text.split("\n"):
        if line.lstrip().startswith("|"):
            out_lines.append(line)
            continue
        pieces = re.split(r"(?<=[.!?])(\s+)", line)
        for i in range(0, len(pieces), 2):
            sentence = pieces[i]
            if (cited_numbers(sentence) or len(content_words(sentence)) < MIN_CONTENT_WORDS
                    or not sentence.rstrip().endswith((".", "!", "?"))):
                continue
            best = _best_source(sentence, citations)
            if best is not None:
                stripped = sentence.rstrip()
                pieces[i] = f"{stripped[:-1]} [{best.number}]{stripped[-1]}" + sentence[
                    len(stripped):]
                added += 1
        out_lines.append("".join(pieces))
    return "\n".join(out_lines), added, removed


def drop_unknown_markers(text: str, shown: set[int]) -> tuple[str, int]:
    """``text`` without the marker numbers that name no shown source; and how many."""
    removed = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = cited_numbers(match.group(0))
        kept = [n for n in numbers if n in shown]
        removed += len(numbers) - len(kept)
        if not kept:
            return ""
        lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return lead + "".join(f"[{n}]" for n in kept)

    return _MARK.sub(swap, text), removed
