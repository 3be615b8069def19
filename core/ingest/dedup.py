"""Near-duplicate detection: MinHash signatures over word 5-gram shingles.

Two documents whose estimated Jaccard similarity is at or above ``NEAR_DUPLICATE`` are
reported (a warning naming the other document), not refused: a revised proposal is
often 95% the same as the last one, and that may be what the user wants.
Signatures of stored documents are cached in ``W/documents/.signatures.json``.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from core.fsutil import atomic_write_json, read_json
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
CACHE = ".signatures.json"


def shingles(text: str, size: int = SHINGLE) -> np.ndarray:
    """Distinct 31-bit hashes of the word ``size``-grams of ``text`` (lower-cased).

    Each distinct word is hashed once (CRC-32); the n-gram hashes are combined as a
    polynomial modulo a prime, vectorised, so long documents stay cheap.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    ids: dict[str, int] = {}
    codes = np.fromiter(
        (ids.setdefault(w, len(ids)) for w in words), dtype=np.int64, count=len(words)
    )
    word_hashes = np.fromiter(
        (zlib.crc32(w.encode()) % _PRIME for w in ids), dtype=np.uint64, count=len(ids)
    )[codes]
    size = min(size, len(words))
    count = len(words) - size + 1
    grams = np.zeros(count, dtype=np.uint64)
    for offset in range(size):
        grams = (grams * _BASE + word_hashes[offset : offset + count]) % _PRIME
    return np.unique(grams)


def signature(text: str) -> list[int] | None:
    """The MinHash signature of ``text`` (None when it has no words)."""
    values = shingles(text)
    if values.size == 0:
        return None
    mins = np.full(PERMUTATIONS, _PRIME, dtype=np.uint64)
    for start in range(0, values.size, 4096):  # bounded memory for long documents
        chunk = values[start : start + 4096]
        hashed = (np.outer(chunk, _A) + _B) % _PRIME
        mins = np.minimum(mins, hashed.min(axis=0))
    return [int(v) for v in mins]


def similarity(first: list[int], second: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(np.asarray(first) == np.asarray(second)))


class SignatureIndex:
    """MinHash signatures of a workspace's live documents (latest versions)."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = workspace.documents_dir / CACHE
        self.signatures: dict[str, tuple[str, list[int]]] = {}  # doc id -> (sha, signature)
        self._dirty = False
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
                self._dirty = True
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
        self.signatures[doc_id] = (sha256, sig)
        self._dirty = True

    def nearest(self, sig: list[int], exclude: str | None = None) -> tuple[str, float] | None:
        """The most similar other document at or above the threshold, if any."""
        best: tuple[str, float] | None = None
        for doc_id, (_, other) in self.signatures.items():
            if doc_id == exclude:
                continue
            score = similarity(sig, other)
            if score >= NEAR_DUPLICATE and (best is None or score > best[1]):
                best = (doc_id, score)
        return best

    def save(self) -> None:
        if self._dirty:
            atomic_write_json(
                self.path, {k: [sha, sig] for k, (sha, sig) in self.signatures.items()}
            )
            self._dirty = False
