"""Packing and held-out splitting, on plain token lists (no tokenizer needed)."""

from __future__ import annotations

import pytest

from core.datasets.split import choose_heldout, heldout_count, pack

EOS = 1


def test_every_sequence_is_full_and_only_the_final_remainder_is_dropped() -> None:
    documents = [[10 + i for i in range(n)] for n in (5, 17, 3, 30, 1)]
    packed = pack(documents, seq_len=8, eos_id=EOS)
    stream = [t for doc in documents for t in (*doc, EOS)]
    assert packed.tokens == len(stream) == 61
    assert all(len(s) == 8 for s in packed.sequences)
    flat = [t for s in packed.sequences for t in s]
    assert flat == stream[: len(flat)]  # order kept, nothing skipped
    assert packed.remainder == len(stream) - len(flat) == 61 % 8


def test_eos_follows_every_document_even_across_sequence_boundaries() -> None:
    packed = pack([[5, 5, 5], [6, 6, 6, 6, 6], [7]], seq_len=4, eos_id=EOS)
    flat = [t for s in packed.sequences for t in s]
    assert flat == [5, 5, 5, EOS, 6, 6, 6, 6, 6, EOS, 7, EOS]
    assert packed.remainder == 0


def test_with_bos_every_row_starts_with_it_and_nothing_is_skipped() -> None:
    BOS = 2
    documents = [[10 + i for i in range(n)] for n in (5, 17, 3)]
    packed = pack(documents, seq_len=8, eos_id=EOS, bos_id=BOS)
    assert all(len(s) == 8 and s[0] == BOS for s in packed.sequences)
    stream = [t for doc in documents for t in (*doc, EOS)]
    flat = [t for s in packed.sequences for t in s[1:]]
    assert flat == stream[: len(flat)] and packed.remainder == len(stream) - len(flat)
    with pytest.raises(ValueError):
        pack(documents, seq_len=1, eos_id=EOS, bos_id=BOS)


def test_too_little_text_gives_no_sequence() -> None:
    packed = pack([[3, 3]], seq_len=8, eos_id=EOS)
    assert packed.sequences == [] and packed.remainder == 3


@pytest.mark.parametrize(("total", "fraction", "expected"),
                         [(0, 0.1, 0), (1, 0.5, 0), (2, 0.1, 1), (10, 0.1, 1), (25, 0.1, 2),
                          (10, 0.0, 0), (4, 0.9, 3)])
def test_heldout_count(total: int, fraction: float, expected: int) -> None:
    assert heldout_count(total, fraction) == expected


def test_choose_heldout_is_deterministic_and_seeded() -> None:
    keys = [f"doc-{i}" for i in range(30)]
    first = choose_heldout(keys, 0.1, seed=42)
    assert first == choose_heldout(list(reversed(keys)), 0.1, seed=42)
    assert len(first) == 3 and first <= set(keys)
    seeds = {frozenset(choose_heldout(keys, 0.1, seed=s)) for s in range(5)}
    assert len(seeds) > 1  # the seed changes the split
