"""How long a dataset's examples are, in tokens: what a training run's ``max_length`` must
hold so that no answer is cut.

An SFT example is its prompt and its answer; a preference pair is its prompt and the
longer of its two answers. Training cuts an example at ``max_length`` from the end: the
answer loses its end, and one whose prompt alone fills ``max_length`` is left out (SFT's
packing and trl's DPO both drop it). Grounded prompts carry their sources, so they are
long: a preset's 256 tokens held only 13 of the sample's 59 SFT examples.

A dataset's summary keeps the counts in buckets of ``BUCKET`` tokens (``lengths``), so
the training wizard can say how many examples a ``max_length`` cuts without reading the
rows; datasets built before it are measured from their rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BUCKET = 16  # whole examples: bucket k holds (16·k, 16·(k+1)]; prompts: [16·k, 16·(k+1))
EOS = 1  # the end-of-turn token training appends to an answer


def _bucket(length: int) -> int:
    return max(0, (length - 1) // BUCKET)


@dataclass(frozen=True)
class Lengths:
    """The examples of a dataset's training split: how many of each length (bucketed)."""

    examples: Mapping[int, int] = field(default_factory=dict)  # bucket -> count (whole)
    prompts: Mapping[int, int] = field(default_factory=dict)  # bucket -> count (prompt)
    longest: int = 0
    longest_prompt: int = 0

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> Lengths:
        """From (prompt tokens, answer tokens) of each example."""
        pairs = [(prompt, prompt + answer + EOS) for prompt, answer in pairs]
        return cls(dict(Counter(_bucket(whole) for _, whole in pairs)),
                   dict(Counter(prompt // BUCKET for prompt, _ in pairs)),
                   max((whole for _, whole in pairs), default=0),
                   max((prompt for prompt, _ in pairs), default=0))

    @property
    def count(self) -> int:
        return sum(self.examples.values())

    def cut(self, max_length: int) -> int:
        """Examples longer than ``max_length`` (a multiple of ``BUCKET`` counts exactly;
        another counts the bucket it falls in as cut)."""
        return sum(n for k, n in self.examples.items() if (k + 1) * BUCKET > max_length)

    def dropped(self, max_length: int) -> int:
        """Examples whose prompt alone fills ``max_length``: training leaves them out
        (exact for a multiple of ``BUCKET``, as ``cut``)."""
        return sum(n for k, n in self.prompts.items() if (k + 1) * BUCKET > max_length)

    def packed_rows(self, max_length: int) -> int:
        """About how many rows of ``max_length`` best-fit packing makes of the examples
        (each cut to ``max_length``): their tokens over the row length, and never fewer
        than the examples longer than half a row (no two of them share one)."""
        middle = {k: min(k * BUCKET + BUCKET // 2, max_length) for k in self.examples}
        tokens = sum(n * middle[k] for k, n in self.examples.items())
        halves = sum(n for k, n in self.examples.items() if k * BUCKET >= max_length // 2)
        return max(-(-tokens // max(1, max_length)), halves)

    def to_summary(self) -> dict[str, Any]:
        return {"bucket": BUCKET, "longest": self.longest, "longest_prompt": self.longest_prompt,
                "examples": {str(k): n for k, n in sorted(self.examples.items())},
                "prompts": {str(k): n for k, n in sorted(self.prompts.items())}}

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Lengths | None:
        """From a dataset summary's ``lengths`` (None for a dataset built without it)."""
        raw = summary.get("lengths")
        if not isinstance(raw, Mapping) or raw.get("bucket") != BUCKET:
            return None
        try:
            return cls({int(k): int(n) for k, n in raw["examples"].items()},
                       {int(k): int(n) for k, n in raw["prompts"].items()},
                       int(raw["longest"]), int(raw["longest_prompt"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def example_tokens(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """(prompt, answer) tokens of a built SFT or preference row, as its build counted
    them; None for a row without counts."""
    prompt = row.get("prompt_tokens")
    answers = [row.get(key) for key in ("completion_tokens", "chosen_tokens",
                                        "rejected_tokens") if key in row]
    if not isinstance(prompt, int) or not answers or not all(isinstance(a, int)
                                                             for a in answers):
        return None
    return prompt, max(answers)  # type: ignore[type-var]
