"""Grounding and quality filters for generated pairs, each with a name and a reason.

A generated pair is kept only when every check passes:

- ``length``: the instruction and the answer have a sensible number of words;
- ``language``: both read as English prose (mostly words, and common function words);
- ``scaffolding``: neither repeats the generation prompt's own wording (``has_echo``);
- ``numbers``: every number, code and amount in the generated text occurs in the source
  passage (a teacher that invents "41 million" or a labour-category code is filtered);
- ``support``: the generated text is borne out by the passage: at least ``min_overlap``
  of its content words occur there, and its embedding similarity to the passage is at
  least ``min_similarity`` (when an embedder is given);
- ``duplicate``: it is not a near-copy (word 3-gram Jaccard ≥ ``max_jaccard``) of a pair
  kept before, in this batch or in the workspace's existing pairs.

Which text is "generated" depends on the task (``core.synth.tasks``): for
questions and answers it is the answer; when the response is the company's own passage
(the section and rewrite tasks) it is the instruction the teacher wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from core.drafting.citecheck import content_words, overlap
from core.drafting.facts import check_facts
from core.drafting.hygiene import has_echo, ngrams, words

Similarity = Callable[[str, str], float]
CHECKS = ("length", "language", "scaffolding", "numbers", "support", "duplicate")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_FUNCTION_WORDS = frozenset(
    "the a an of to and in for is are be with on by that this our we will as or at from it "
    "its which who what how when where does do can has have was were".split())


class FilterSettings(BaseModel):
    """Thresholds of the filters (kept with every pair and with the dataset built)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_overlap: float = Field(default=0.6, ge=0.0, le=1.0,
                               description="share of the generated text's content words "
                               "that must occur in the source passage")
    min_similarity: float = Field(default=0.5, ge=-1.0, le=1.0,
                                  description="embedding similarity to the source passage")
    max_jaccard: float = Field(default=0.7, gt=0.0, le=1.0,
                               description="word 3-gram overlap above which a pair is a "
                               "near-duplicate of one kept before")
    min_instruction_words: int = Field(default=4, ge=1)
    max_instruction_words: int = Field(default=250, ge=1)
    min_response_words: int = Field(default=5, ge=1)
    max_response_words: int = Field(default=600, ge=1)


@dataclass(frozen=True)
class Verdict:
    """Why a pair was kept or filtered: the failed check and its reason, and the figures."""

    check: str | None  # None: every check passed
    reason: str = ""
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def kept(self) -> bool:
        return self.check is None


def numbers_in(text: str) -> set[str]:
    """The numbers of ``text`` as written, without thousands separators ("1,024" → "1024")."""
    return {m.group(0).replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def invented_values(generated: str, source: str) -> list[str]:
    """Numbers, codes and amounts in ``generated`` that ``source`` does not contain."""
    missing = sorted(numbers_in(generated) - numbers_in(source))
    missing += [f for f in check_facts(generated, [source]).unmatched if f not in missing]
    return missing


def reads_as_prose(text: str) -> bool:
    """Mostly alphabetic words, with the function words English prose always has."""
    tokens = text.split()
    if not tokens:
        return False
    alphabetic = sum(any(ch.isalpha() for ch in t) for t in tokens) / len(tokens)
    function = sum(w in _FUNCTION_WORDS for w in words(text))
    return alphabetic >= 0.6 and (len(tokens) < 8 or function >= max(1, len(tokens) // 20))


def shingles(instruction: str, response: str) -> set[tuple[str, ...]]:
    return ngrams(words(instruction + " " + response), 3)


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


class Filters:
    """The checks, with the pairs kept so far for the duplicate check."""

    def __init__(self, settings: FilterSettings, similarity: Similarity | None = None,
                 existing: Iterable[tuple[str, str]] = ()) -> None:
        self.settings = settings
        self.similarity = similarity
        self.kept: list[set[tuple[str, ...]]] = [shingles(i, r) for i, r in existing]
        self.counts: dict[str, int] = {check: 0 for check in CHECKS}

    def check(self, instruction: str, response: str, generated: str, source: str,
              scaffolding: Iterable[str]) -> Verdict:
        """The first failed check of one pair (counted), or a pass (then remembered)."""
        verdict = self._verdict(instruction, response, generated, source, tuple(scaffolding))
        if verdict.kept:
            self.kept.append(shingles(instruction, response))
        else:
            self.counts[verdict.check] += 1  # type: ignore[index]
        return verdict

    def _verdict(self, instruction: str, response: str, generated: str, source: str,
                 scaffolding: tuple[str, ...]) -> Verdict:
        s = self.settings
        asked, answered = len(instruction.split()), len(response.split())
        if not s.min_instruction_words <= asked <= s.max_instruction_words:
            return Verdict("length", f"the instruction has {asked} words")
        if not s.min_response_words <= answered <= s.max_response_words:
            return Verdict("length", f"the response has {answered} words")
        if not (reads_as_prose(instruction) and reads_as_prose(response)):
            return Verdict("language", "it does not read as English prose")
        if has_echo(instruction + "\n" + response, scaffolding, (source,)):
            return Verdict("scaffolding", "it repeats the generation prompt")
        invented = invented_values(generated, source)
        if invented:
            return Verdict("numbers", "not in the source passage: " + ", ".join(invented[:5]))
        figures = {"overlap": round(overlap(generated, source), 3)}
        if not content_words(generated):
            return Verdict("support", "it has no content words", figures)
        if figures["overlap"] < s.min_overlap:
            return Verdict("support", f"only {figures['overlap']:.0%} of its content words "
                           f"are in the source (at least {s.min_overlap:.0%} needed)", figures)
        if self.similarity is not None:
            figures["similarity"] = round(float(self.similarity(generated, source)), 3)
            if figures["similarity"] < s.min_similarity:
                return Verdict("support", f"its meaning is far from the source (similarity "
                               f"{figures['similarity']:.2f} < {s.min_similarity:.2f})", figures)
        mine = shingles(instruction, response)
        closest = max((jaccard(mine, other) for other in self.kept), default=0.0)
        figures["closest"] = round(closest, 3)
        if closest >= s.max_jaccard:
            return Verdict("duplicate", f"{closest:.0%} the same as a pair kept before",
                           figures)
        return Verdict(None, "", figures)
