"""A tiny deterministic embedder for index tests: hashed bag of words, no model to load.

Texts sharing words get close vectors; an identifier is one token among many, so (as
with a real small model) it barely moves a long passage's vector.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be by for from in is it of on or the this to with".split())


class HashEmbedder:
    """Unit-length bag-of-words vectors of ``dim`` hashed buckets (lower-cased words)."""

    def __init__(self, dim: int = 128) -> None:
        self.dim = dim
        self.max_tokens = 256
        self.path = Path("hash-embedder")
        self.name = "hash-embedder"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            if word not in _STOP:
                bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dim
                vector[bucket] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed(self, texts: Sequence[str], *,
              progress: Callable[[int, int], None] | None = None,
              bulk: bool = False) -> np.ndarray:
        vectors = np.stack([self._vector(t) for t in texts]) if texts else np.zeros(
            (0, self.dim), dtype=np.float32)
        if progress:
            progress(len(texts), len(texts))
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
