"""Checking citations: does the source a sentence cites support it?

A sentence is *supported* by a source when at least ``SUPPORT_OVERLAP`` of its content
words (words of three or more letters that are not stop words, and every number or code)
occur in the source's text, or, with an embedder, when their cosine similarity reaches
``SUPPORT_SIMILARITY``. ``check_citations`` scores each ``[n]`` marker of a draft;
``attribute`` puts a draft's citations right before anyone reads it: it drops markers that
name no shown source, moves a marker whose source does not support its sentence to the
shown source that does (or drops it), and adds a marker to an uncited sentence that one
shown source clearly supports (``ATTRIBUTE_OVERLAP``). Table rows are sentences too: a
row's values must occur in the row it cites.
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
_TRAILING_MARKS = re.compile(r"([.!?])((?:[ \t]*\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\])+)")
# between two sentences of a line once markers sit before the stop (as _SPLIT, captured)
_SENTENCE_GAP = re.compile(r"(?<=[.!?])(\s+)(?=[A-Z(\"“])")
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


def _best_source(sentence: str, citations: Sequence[Citation],
                 threshold: float = ATTRIBUTE_OVERLAP) -> Citation | None:
    scored = [(overlap(sentence, c.text + " " + " ".join(c.fields.values())), -c.number, c)
              for c in citations]
    if not scored:
        return None
    score, _, best = max(scored, key=lambda item: item[:2])
    return best if score >= threshold else None


@dataclass(frozen=True)
class Attribution:
    """A draft's text after its citations were put right, and what was changed."""

    text: str
    added: int = 0    # markers given to uncited sentences a source clearly supports
    removed: int = 0  # markers naming no shown source
    moved: int = 0    # markers whose source did not support the sentence, given to one that does
    dropped: int = 0  # markers whose source did not support the sentence, and no source did


def _marks_before_stop(text: str) -> str:
    """'… shifts. [2] Next' → '… shifts [2]. Next': a marker belongs to the sentence it ends."""
    return _TRAILING_MARKS.sub(lambda m: m.group(2) + m.group(1), text)


def _with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """``sentence`` with its final marker(s) ``numbers``, before its closing punctuation."""
    stripped = sentence.rstrip()
    tail = sentence[len(stripped):]
    marks = "".join(f"[{n}]" for n in numbers)
    if stripped.endswith((".", "!", "?")):
        return f"{stripped[:-1].rstrip()} {marks}{stripped[-1]}{tail}"
    return f"{stripped} {marks}{tail}"


def _correct(sentence: str, citations: Sequence[Citation],
             move: bool = True) -> tuple[str, int, int]:
    """``sentence`` with each marker whose source does not support it moved to the shown
    source that does (by content-word overlap; ``move``), or removed; returns (sentence,
    moved, dropped)."""
    by_number = {c.number: c for c in citations}
    numbers = cited_numbers(sentence)
    wrong = [n for n in numbers if not supports(sentence, by_number[n])]
    if not wrong:
        return sentence, 0, 0
    kept = [n for n in numbers if n not in wrong]
    bare = _MARK.sub(lambda m: _keep_numbers(m, set(kept)), sentence)
    best = _best_source(bare, [c for c in citations if c.number not in kept],
                        SUPPORT_OVERLAP) if move else None
    if best is None:
        return bare, 0, len(wrong)
    return _with_markers(bare, [best.number]), 1, len(wrong) - 1


def attribute(text: str, citations: Sequence[Citation]) -> Attribution:
    """``text`` with its citations put right: markers naming no shown source removed,
    markers whose source does not support their sentence moved to one that does (or
    removed), and uncited sentences that a source clearly supports given its marker.

    A draft never shows a reader a citation its source does not bear out; what the model
    itself wrote is scored before this (``check_citations`` on the raw prose)."""
    text, removed = drop_unknown_markers(_marks_before_stop(text),
                                         {c.number for c in citations})
    added = moved = dropped = 0
    out_lines = []
    for line in text.split("\n"):
        if line.lstrip().startswith("|"):  # a table row: its markers checked, none added
            row, _, d = _correct(line, citations, move=False)
            out_lines.append(row)
            dropped += d
            continue
        pieces = _SENTENCE_GAP.split(line)  # the sentences check_citations scores
        for i in range(0, len(pieces), 2):
            sentence = pieces[i]
            if cited_numbers(sentence):
                pieces[i], m, d = _correct(sentence, citations)
                moved, dropped = moved + m, dropped + d
                continue
            if (len(content_words(sentence)) < MIN_CONTENT_WORDS
                    or not sentence.rstrip().endswith((".", "!", "?"))):
                continue
            best = _best_source(sentence, citations)
            if best is not None:
                pieces[i] = _with_markers(sentence, [best.number])
                added += 1
        out_lines.append("".join(pieces))
    return Attribution("\n".join(out_lines), added, removed, moved, dropped)


def _keep_numbers(match: re.Match[str], shown: set[int]) -> str:
    """A marker match rewritten to keep only the numbers in ``shown`` ('' when none)."""
    kept = [n for n in cited_numbers(match.group(0)) if n in shown]
    if not kept:
        return ""
    lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
    return lead + "".join(f"[{n}]" for n in kept)


def drop_unknown_markers(text: str, shown: set[int]) -> tuple[str, int]:
    """``text`` without the marker numbers that name no shown source; and how many."""
    removed = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = cited_numbers(match.group(0))
        removed += sum(n not in shown for n in numbers)
        return _keep_numbers(match, shown)

    return _MARK.sub(swap, text), removed
