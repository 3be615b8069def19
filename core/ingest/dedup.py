"""Near-duplicate detection: MinHash signatures over word 5-gram shingles.

Two documents whose estimated Jaccard similarity is at or above ``NEAR_DUPLICATE`` are
reported (a warning naming the other document), not refused: a revised proposal is
often 95% the same as the last one, and that may be what the user wants.
Signatures of stored documents are cached in ``W/documents/.signatures.json``.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the parser workers import this module: keep their start light
    from core.workspace import Workspace

NEAR_DUPLICATE = 0.9
PERMUTATIONS = 128
SHINGLE = 5
_PRIME = (1 << 31) - 1
_BASE = np.uint64(1_000_003)
_rng = np.random.default_rng(20240611)
_A = _rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")
_MASK = np.uint64(_PRIME)
_SHIFT = np.uint64(31)
_ROWS = 1024  # shingles hashed at once: a small, reused buffer (no page faults per call)
CACHE = ".signatures.json"


def _mod_prime(values: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """``values % _PRIME`` in place, for values below 2**63 (``scratch``: a spare array
    of the same shape, to reuse).

    The prime is 2**31 - 1, so ``hi * 2**31 + lo`` is congruent to ``hi + lo``: two
    such folds and one conditional subtraction replace a 64-bit division, several times
    faster.
    """
    low = np.bitwise_and(values, _MASK, out=scratch)
    values >>= _SHIFT
    values += low
    np.bitwise_and(values, _MASK, out=low)
    values >>= _SHIFT
    values += low
    np.subtract(values, _MASK, out=low)  # wraps around (huge) where values < _PRIME
    return np.minimum(values, low, out=values)


def shingles(text: str, size: int = SHINGLE) -> np.ndarray:
    """Distinct 31-bit hashes of the word ``size``-grams of ``text`` (lower-cased).

    Each distinct word is hashed once (CRC-32); the n-gram hashes are combined as a
    polynomial modulo a prime, vectorised, so long documents stay cheap.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    ids = {word: index for index, word in enumerate(dict.fromkeys(words))}
    codes = np.fromiter(map(ids.__getitem__, words), dtype=np.intp, count=len(words))
    distinct = np.fromiter(
        (zlib.crc32(w.encode()) for w in ids), dtype=np.uint64, count=len(ids)
    )
    word_hashes = _mod_prime(distinct)[codes]
    size = min(size, len(words))
    count = len(words) - size + 1
    grams = word_hashes[:count].copy()
    for offset in range(1, size):
        grams *= _BASE
        grams += word_hashes[offset : offset + count]
        _mod_prime(grams)
    return np.unique(grams)


def signature(text: str) -> list[int] | None:
    """The MinHash signature of ``text`` (None when it has no words): per permutation,
    the least ``(a * shingle + b) % _PRIME``."""
    values = shingles(text)
    if values.size == 0:
        return None
    mins = np.full(PERMUTATIONS, _PRIME, dtype=np.uint64)
    buffer = np.empty((2, min(values.size, _ROWS), PERMUTATIONS), dtype=np.uint64)
    for start in range(0, values.size, _ROWS):
        chunk = values[start : start + _ROWS]
        hashed, scratch = buffer[:, : chunk.size]
        np.multiply(chunk[:, None], _A, out=hashed)
        hashed += _B
        np.minimum(mins, _mod_prime(hashed, scratch).min(axis=0), out=mins)
    return [int(v) for v in mins]


def similarity(first: list[int], second: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(np.asarray(first) == np.asarray(second)))


class SignatureIndex:
    """MinHash signatures of a workspace's live documents (latest versions).

    ``nearest`` compares against all of them at once: the signatures are also kept as
    rows of one matrix, in the order of ``signatures``, grown as documents are added.
    """

    def __init__(self, workspace: Workspace) -> None:
        from core.fsutil import read_json

        self.path = workspace.documents_dir / CACHE
        self.signatures: dict[str, tuple[str, list[int]]] = {}  # doc id -> (sha, signature)
        self._dirty = False
        self._rows: dict[str, int] | None = None  # doc id -> matrix row; None: rebuild
        self._matrix = np.zeros((0, PERMUTATIONS), dtype=np.int64)
        try:
            raw = read_json(self.path)
            self.signatures = {k: (v[0], list(v[1])) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            self.signatures = {}

    def sync(self, store: object) -> None:
        """Add signatures for stored documents the cache lacks; forget removed ones."""
        records = {r.id: r for r in store.list()}  # type: ignore[attr-defined]
        for doc_id in list(self.signatures):
            if doc_id not in records:
                del self.signatures[doc_id]
                self._dirty, self._rows = True, None
        for doc_id, record in records.items():
            cached = self.signatures.get(doc_id)
            if cached and cached[0] == record.latest.sha256:
                continue
            try:
                sig = signature(store.text(doc_id))  # type: ignore[attr-defined]
            except OSError:
                continue
            if sig:
                self.set(doc_id, record.latest.sha256, sig)

    def set(self, doc_id: str, sha256: str, sig: list[int]) -> None:
        known = doc_id in self.signatures
        self.signatures[doc_id] = (sha256, sig)
        self._dirty = True
        if self._rows is None:
            return
        if len(sig) != PERMUTATIONS or (known and doc_id not in self._rows):
            self._rows = None
        elif doc_id in self._rows:
            self._matrix[self._rows[doc_id]] = sig
        else:
            if len(self._rows) == len(self._matrix):
                grown = np.zeros((max(16, 2 * len(self._matrix)), PERMUTATIONS), np.int64)
                grown[: len(self._matrix)] = self._matrix
                self._matrix = grown
            self._matrix[len(self._rows)] = sig
            self._rows[doc_id] = len(self._rows)

    def restore(self, doc_id: str, before: tuple[str, list[int]] | None) -> None:
        """Put back what ``doc_id`` had before a ``set`` (None: nothing), when the version
        it was set for was not stored after all."""
        if before is not None:
            self.set(doc_id, *before)
        elif self.signatures.pop(doc_id, None) is not None:
            self._dirty, self._rows = True, None

    def _table(self) -> tuple[dict[str, int], np.ndarray]:
        """Row numbers and the matrix of every well-formed signature, in dict order."""
        if self._rows is None:
            usable = [(k, s) for k, (_, s) in self.signatures.items() if len(s) == PERMUTATIONS]
            self._rows = {doc_id: row for row, (doc_id, _) in enumerate(usable)}
            self._matrix = np.array([s for _, s in usable], dtype=np.int64).reshape(
                len(usable), PERMUTATIONS
            )
        return self._rows, self._matrix[: len(self._rows)]

    def nearest(self, sig: list[int], exclude: str | None = None) -> tuple[str, float] | None:
        """The most similar other document at or above the threshold, if any (the first
        of equals, in the order the documents were added)."""
        rows, matrix = self._table()
        if not rows or len(sig) != PERMUTATIONS:
            return None
        scores = (matrix == np.asarray(sig, dtype=np.int64)).sum(axis=1) / PERMUTATIONS
        if exclude in rows:
            scores[rows[exclude]] = -1.0
        best = int(np.argmax(scores))
        if scores[best] < NEAR_DUPLICATE:
            return None
        return next(d for d, row in rows.items() if row == best), float(scores[best])

    def save(self) -> None:
        """Write the cache as compact JSON: 128 numbers a document, rewritten by every
        import (indented, it goes through Python's slow encoder: 0.45 s against 0.11 s
        for 10,000 documents)."""
        import json

        from core.fsutil import atomic_write_bytes

        if self._dirty:
            cache = {k: [sha, sig] for k, (sha, sig) in self.signatures.items()}
            atomic_write_bytes(self.path, json.dumps(cache, separators=(",", ":")).encode())
            self._dirty = False
