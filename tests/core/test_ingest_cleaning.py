"""Shortcuts in cleaning (ASCII text, nothing to collapse) and kind guessing (a plain
phrase looked for before the pattern) change no result."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from core.ingest.cleaning import INVISIBLE, clean_blocks, normalise_text
from core.ingest.guess import _CONTENT_CUES
from core.ingest.model import Block

SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reference_normalise(text: str, keep_newlines: bool) -> tuple[str, int]:
    """Every step applied to every text, as the cleaning rules are written."""
    removed = len(INVISIBLE.findall(text))
    text = unicodedata.normalize("NFKC", INVISIBLE.sub("", text).replace("\u00ad", ""))
    text = CONTROL.sub(" ", text)
    if not keep_newlines:
        return " ".join(text.split()), removed
    text = "\n".join(SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()
    return re.sub(r"\n{3,}", "\n\n", text), removed


PIECES = ["word", "Scope", " ", "  ", "\t", "\n", "\n\n\n", "\u00a0", "\u2003", "\u3000",
          "\u200b", "\u202e", "\u00ad", "\x07", "\x0c", "ﬁ", "é", "e\u0301", "＄5", "\r",
          "\u2028", "-", "3.1"]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("keep_newlines", [False, True])
def test_normalise_text_matches_the_rules(seed: int, keep_newlines: bool) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))
    ascii_text = "".join(p for p in text if p.isascii())
    for sample in (text, ascii_text):
        assert normalise_text(sample, keep_newlines=keep_newlines) == reference_normalise(
            sample, keep_newlines
        )


def test_a_clean_block_is_kept_as_it_is_and_a_dirty_one_is_cleaned() -> None:
    clean = Block(kind="paragraph", text="Scope of work.", section=("1 Scope",))
    dirty = Block(kind="table_row", text="a:  b", section=("1\u00a0Scope",),
                  fields={"a\u200b": " b "})
    blocks, warnings = clean_blocks([clean, dirty])
    assert blocks[0] is clean
    assert blocks[1].text == "a: b" and blocks[1].section == ("1 Scope",)
    assert blocks[1].fields == {"a": "b"}
    assert warnings == [
        "Removed 1 invisible character(s) (zero-width or bidirectional controls) that "
        "could hide or reorder text."
    ]


CUE_WORDS = ("request for proposal quotation information solicitation offeror offerors "
             "statement of work evaluation criteria factors proposals are is must be due "
             "submitted we propose pleased proud to submit present in response our team "
             "approach solution staff will solicitations x").split()


@pytest.mark.parametrize("seed", range(30))
def test_every_kind_cue_match_contains_its_phrase(seed: int) -> None:
    """The phrase tried first must be in every text the cue's pattern matches."""
    rng = random.Random(seed)
    text = " ".join(rng.choice(CUE_WORDS) for _ in range(400))
    for cues in _CONTENT_CUES.values():
        for phrase, pattern, _weight in cues:
            for found in pattern.finditer(text):
                window = text[max(0, found.start() - 1) : found.end() + 1]
                assert phrase in window, (phrase, pattern.pattern, window)
