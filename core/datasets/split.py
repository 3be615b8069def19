"""Deterministic held-out splits and fixed-length packing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def heldout_count(total: int, fraction: float) -> int:
    """How many of ``total`` items to hold out: round(fraction·total), at least 1 when
    there are two or more items (and fraction > 0), never all of them."""
    if total < 2 or fraction <= 0:
        return 0
    return min(total - 1, max(1, round(fraction * total)))


def choose_heldout(keys: Iterable[str], fraction: float, seed: int) -> set[str]:
    """The keys held out: the lowest ``sha256(seed:key)`` ranks (same inputs, same split).

    Ranking by a keyed hash, not by a shuffled list, keeps an item's side of the split
    stable when other items are added.
    """
    unique = sorted(set(keys))
    ranked = sorted(unique, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    return set(ranked[: heldout_count(len(unique), fraction)])


@dataclass(frozen=True)
class Packed:
    sequences: list[list[int]]
    tokens: int  # tokens in the stream, EOS separators included
    remainder: int  # tokens of the final partial sequence, dropped


def pack(documents: Iterable[Sequence[int]], seq_len: int, eos_id: int,
         bos_id: int | None = None) -> Packed:
    """Concatenate documents with EOS after each one and cut the stream into rows of
    exactly ``seq_len`` tokens; the final partial row is dropped and its size reported.

    With ``bos_id`` every row starts with BOS followed by ``seq_len - 1`` tokens of the
    stream: models trained with BOS at position 0 (Gemma, Llama) score a row that lacks
    it far worse, so training without it would first spend steps unlearning that.
    """
    if seq_len < 1 or (bos_id is not None and seq_len < 2):
        raise ValueError("seq_len must be positive (at least 2 with a BOS token)")
    body = seq_len if bos_id is None else seq_len - 1
    prefix = [] if bos_id is None else [bos_id]
    sequences: list[list[int]] = []
    buffer: list[int] = []
    total = 0
    for ids in documents:
        buffer.extend(ids)
        buffer.append(eos_id)
        total += len(ids) + 1
        start = 0
        while len(buffer) - start >= body:
            sequences.append(prefix + buffer[start:start + body])
            start += body
        del buffer[:start]
    return Packed(sequences, total, len(buffer))
