"""Issue 21: a block with no sentence or word boundaries (a 50 MB data dump on one line)
is split by characters, in bounded time and memory, and only as far as it is needed."""

from __future__ import annotations

import random
import time

from core.ingest.model import Block
from core.retrieval.chunking import CHARS_PER_TOKEN, ChunkingOptions, chunk_blocks, word_count

OPTIONS = ChunkingOptions(max_tokens=200, overlap_tokens=30)


def _blob(size: int) -> str:
    rng = random.Random(3)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(size))


def _dense(text: str) -> int:
    """A tokenizer that makes a token of every two characters (base64 under WordPiece)."""
    return (len(text) + 1) // 2


def test_a_line_without_spaces_is_cut_by_characters() -> None:
    text = _blob(2_000_000)
    for count in (word_count, _dense):
        started = time.monotonic()
        chunks = chunk_blocks([Block(kind="paragraph", text=text)], doc_id="d", version=1,
                              options=OPTIONS, count_tokens=count)
        assert time.monotonic() - started < 20
        assert max(len(c.text) for c in chunks) <= OPTIONS.max_tokens * CHARS_PER_TOKEN
        assert max(count(c.text) for c in chunks) <= OPTIONS.max_tokens
        assert "".join(c.text for c in chunks) == text  # nothing lost, nothing repeated


def test_only_the_passages_asked_for_are_made() -> None:
    text = _blob(50_000_000)
    started = time.monotonic()
    chunks = chunk_blocks([Block(kind="paragraph", text=text)], doc_id="d", version=1,
                          options=OPTIONS, count_tokens=_dense, limit=10)
    assert len(chunks) == 10 and time.monotonic() - started < 2


def test_prose_still_splits_at_sentences_with_an_overlap() -> None:
    sentence = "The contractor shall staff the security operations center around the clock. "
    chunks = chunk_blocks([Block(kind="paragraph", text=sentence * 60)], doc_id="d",
                          version=1, options=OPTIONS, count_tokens=word_count)
    assert len(chunks) > 1
    assert all(c.text.endswith("clock.") for c in chunks)
    first_words = chunks[1].text.split()[:5]
    assert " ".join(first_words) in chunks[0].text  # the overlap
