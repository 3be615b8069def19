"""Near-duplicate signatures: the fast arithmetic gives exactly the textbook MinHash."""

from __future__ import annotations

import random
import re
import zlib

import numpy as np
import pytest

from core.ingest import dedup
from core.ingest.dedup import (
    NEAR_DUPLICATE,
    PERMUTATIONS,
    SignatureIndex,
    shingles,
    signature,
    similarity,
)
from core.workspace import Workspace

PRIME = (1 << 31) - 1
BASE = 1_000_003


def reference_shingles(text: str, size: int = 5) -> list[int]:
    """The documented hashing, one Python integer at a time."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return []
    hashes = [zlib.crc32(w.encode()) % PRIME for w in words]
    size = min(size, len(words))
    grams = set()
    for start in range(len(words) - size + 1):
        value = 0
        for offset in range(size):
            value = (value * BASE + hashes[start + offset]) % PRIME
        grams.add(value)
    return sorted(grams)


def reference_signature(text: str) -> list[int] | None:
    values = reference_shingles(text)
    if not values:
        return None
    a, b = (int(x) for x in dedup._A), (int(x) for x in dedup._B)
    return [min((ai * v + bi) % PRIME for v in values) for ai, bi in zip(a, b)]


def random_text(rng: random.Random, words: int) -> str:
    vocabulary = ["scope", "Offeror", "shall", "déjà", "vu", "3.1", "x", "ÆSIR", "straße", "n"]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


@pytest.mark.parametrize("words", [0, 1, 2, 4, 5, 6, 40, 1500])
def test_signature_matches_the_reference(words: int) -> None:
    text = random_text(random.Random(words), words)
    assert shingles(text).tolist() == reference_shingles(text)
    assert signature(text) == reference_signature(text)


def test_fast_modulo_is_exact_over_the_whole_range() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([
        rng.integers(0, 1 << 63, 200_000, dtype=np.uint64),
        np.array([0, 1, PRIME - 1, PRIME, PRIME + 1, 2 * PRIME, (1 << 62) + PRIME,
                  (1 << 63) - 1], dtype=np.uint64),
        np.arange(PRIME - 5, PRIME + 5, dtype=np.uint64) * np.uint64(PRIME),
    ])
    expected = values % np.uint64(PRIME)
    assert np.array_equal(dedup._mod_prime(values.copy()), expected)


def looped_nearest(index: SignatureIndex, sig: list[int],
                   exclude: str | None = None) -> tuple[str, float] | None:
    """What ``nearest`` means: the first best score at or above the threshold."""
    best = None
    for doc_id, (_, other) in index.signatures.items():
        score = similarity(sig, other)
        if doc_id != exclude and score >= NEAR_DUPLICATE and (best is None or score > best[1]):
            best = (doc_id, score)
    return best


def test_nearest_agrees_with_comparing_one_by_one(workspace: Workspace) -> None:
    rng = random.Random(3)
    base = [rng.randrange(PRIME) for _ in range(PERMUTATIONS)]

    def variant(changed: int) -> list[int]:
        sig = list(base)
        for position in rng.sample(range(PERMUTATIONS), changed):
            sig[position] = rng.randrange(PRIME)
        return sig

    index = SignatureIndex(workspace)
    for number, changed in enumerate([60, 5, 5, 12, 2, 128, 2]):
        index.set(f"doc-{number}", f"sha-{number}", variant(changed))
        probe = variant(3)
        assert index.nearest(probe) == looped_nearest(index, probe)
    index.set("doc-4", "sha-4b", variant(1))  # a new version: same place, new signature
    index.set("doc-1", "sha-1b", list(base))
    for exclude in (None, "doc-1", "doc-4", "missing"):
        assert index.nearest(base, exclude) == looped_nearest(index, base, exclude)
    assert index.nearest(base) == ("doc-1", 1.0)
    assert index.nearest(variant(128)) is None


def test_nearest_after_documents_are_removed(workspace: Workspace) -> None:
    index = SignatureIndex(workspace)
    first, second = [1] * PERMUTATIONS, [2] * PERMUTATIONS
    index.set("a", "sha-a", first)
    index.set("b", "sha-b", second)
    assert index.nearest(second) == ("b", 1.0)

    class EmptyStore:
        def list(self) -> list[object]:
            return []

    index.sync(EmptyStore())
    assert index.nearest(second) is None and index.signatures == {}
    index.set("b", "sha-b", second)
    assert index.nearest(second) == ("b", 1.0)
