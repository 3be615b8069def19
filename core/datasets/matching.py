"""Finding which proposal section answers which RFP requirement.

A requirement is an RFP paragraph, list item or table row that obliges the contractor
("shall", "must", "is required to"); instructions to offerors (where and by when to
submit, page format, questions: ``core.ingest.instructions``) are not requirements. Its
number ("3.2", "C.4.1") comes from the start of its text or, failing that, from the
nearest numbered heading above it. A proposal section answers it when the section's
heading names that number ("Response to 3.2", "3.2 Monthly reporting"), else when its
body cites the number; requirements with no such section are matched by TF-IDF cosine
similarity when the best score reaches a threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.ingest.instructions import only_instructions
from core.ingest.model import Block

_REQUIREMENT = re.compile(
    r"\b(shall|must|is required to|are required to|will be required to|is responsible for)\b",
    re.IGNORECASE)
_NUMBER = re.compile(
    r"^\s*(?:(?:section|requirement|req\.?|para(?:graph)?\.?)\s*)?"
    r"((?:[A-Za-z]\.)?\d+(?:\.\d+)+|[A-Za-z]\.\d+)(?=[\s.):\-–]|$)",
    re.IGNORECASE)
_BODY_KINDS = ("paragraph", "list_item", "table_row")


@dataclass(frozen=True)
class Requirement:
    number: str | None
    text: str
    section: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    """A proposal section: its heading path and the text under it."""

    path: tuple[str, ...]
    text: str

    @property
    def title(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(frozen=True)
class Match:
    requirement: Requirement
    section: Section
    method: str  # "heading" | "body" | "similarity"
    score: float


def leading_number(text: str) -> str | None:
    found = _NUMBER.match(text)
    return found.group(1).rstrip(".") if found else None


def requirements(blocks: list[Block]) -> list[Requirement]:
    """The RFP's requirement statements, in reading order."""
    found = []
    for block in blocks:
        if block.kind not in _BODY_KINDS or not _REQUIREMENT.search(block.text):
            continue
        if only_instructions(block.text):
            continue  # how to bid (submission, format, questions), not the work
        number = leading_number(block.text)
        for heading in reversed(block.section):
            if number:
                break
            number = leading_number(heading)
        found.append(Requirement(number, block.text.strip(), block.section))
    return found


def sections(blocks: list[Block]) -> list[Section]:
    """The proposal's sections: body blocks grouped by heading path, in reading order.

    A proposal without headings becomes one section per paragraph, so it can still be
    matched piece by piece.
    """
    grouped: dict[tuple[str, ...], list[str]] = {}
    for block in blocks:
        if block.kind in _BODY_KINDS and block.text.strip():
            grouped.setdefault(tuple(block.section), []).append(block.text.strip())
    if list(grouped) == [()]:
        return [Section((), text) for text in grouped[()]]
    return [Section(path, "\n\n".join(texts)) for path, texts in grouped.items()]


def _cites(number: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(number)}(?!\.?\d)", text, re.IGNORECASE) is not None


def _by_number(requirement: Requirement, candidates: list[Section]) -> Match | None:
    number = requirement.number
    if not number:
        return None
    for section in candidates:
        if section.title and _cites(number, section.title):
            return Match(requirement, section, "heading", 1.0)
    for section in candidates:
        if any(_cites(number, part) for part in section.path[:-1]):
            return Match(requirement, section, "heading", 0.9)
    for section in candidates:
        if _cites(number, section.text):
            return Match(requirement, section, "body", 0.8)
    return None


def _similarities(texts: list[str], others: list[str]) -> list[list[float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts + others)
    except ValueError:  # nothing but stop words
        return [[0.0] * len(others) for _ in texts]
    left, right = matrix[: len(texts)], matrix[len(texts):]
    return (left @ right.T).toarray().tolist()  # rows are L2-normalised: dot = cosine


def match(rfp_blocks: list[Block], proposal_blocks: list[Block],
          threshold: float) -> tuple[list[Match], int]:
    """Each RFP requirement's answering proposal section; returns (matches, unmatched)."""
    wanted = requirements(rfp_blocks)
    candidates = sections(proposal_blocks)
    if not wanted or not candidates:
        return [], len(wanted)
    matches: list[Match | None] = [_by_number(r, candidates) for r in wanted]
    loose = [i for i, m in enumerate(matches) if m is None]
    if loose:
        scores = _similarities([wanted[i].text for i in loose],
                               [f"{s.title}\n{s.text}" for s in candidates])
        for i, row in zip(loose, scores):
            best = max(range(len(candidates)), key=row.__getitem__)
            if row[best] >= threshold and row[best] > 0:
                matches[i] = Match(wanted[i], candidates[best], "similarity", round(row[best], 4))
    found = [m for m in matches if m is not None]
    return found, len(wanted) - len(found)
