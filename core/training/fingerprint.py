"""A cheap dataset fingerprint for the run's tokenizer.

``datasets`` fingerprints every ``map`` by pickling its function and arguments; trl's
DPO/ORPO (and unpacked SFT) tokenization passes the tokenizer as an argument, and pickling
a 262k-token vocabulary (Gemma 3) took 12.8 s per map on 2 CPU cores: 26 s of every
preference run's setup, for a dataset of a dozen pairs. Our datasets live in memory, so the
fingerprint names no cache file; it only has to be stable. The tokenizer is fingerprinted
by what decides its output (its class, source, vocabulary size, special tokens, template
and truncation settings) instead of by its bytes.
"""

from __future__ import annotations

import weakref
from typing import Any


def _tokenizer_identity(*fields: str) -> tuple[str, ...]:
    """Stands in for the tokenizer in a fingerprint (never unpickled)."""
    return fields


def identity(tokenizer: Any) -> tuple[str, ...]:
    """What decides the tokenizer's output, as strings."""
    return (type(tokenizer).__module__, type(tokenizer).__qualname__,
            str(getattr(tokenizer, "name_or_path", "")), str(len(tokenizer)),
            repr(getattr(tokenizer, "special_tokens_map", {})),
            str(getattr(tokenizer, "chat_template", "")),
            str(getattr(tokenizer, "padding_side", "")),
            str(getattr(tokenizer, "truncation_side", "")),
            str(getattr(tokenizer, "model_max_length", "")))


_CHEAP: dict[int, weakref.ref[Any]] = {}  # id → the tokenizers fingerprinted by identity


def _forget(key: int, dead: weakref.ref[Any]) -> None:
    if _CHEAP.get(key) is dead:
        del _CHEAP[key]


def _save(pickler: Any, obj: Any) -> None:
    """``datasets``' pickler for tokenizer classes: by identity for ours, else as before."""
    from datasets.utils import _dill

    ref = _CHEAP.get(id(obj))
    if ref is not None and ref() is obj:
        pickler.save_reduce(_tokenizer_identity, identity(obj), obj=obj)
    else:
        _dill._save_transformersPreTrainedTokenizerBase(pickler, obj)


def fingerprint_cheaply(tokenizer: Any) -> bool:
    """Make ``datasets`` fingerprint ``tokenizer`` by its identity, not its bytes (other
    instances of its class keep the library's own handling). False when this version of
    ``datasets`` has no pickler to teach, and nothing changes but the speed."""
    try:
        from datasets.utils import _dill
    except ImportError:
        return False
    dispatch = getattr(getattr(_dill, "Pickler", None), "dispatch", None)
    if not isinstance(dispatch, dict) or not hasattr(
            _dill, "_save_transformersPreTrainedTokenizerBase"):
        return False
    key = id(tokenizer)
    _CHEAP[key] = weakref.ref(tokenizer, lambda dead: _forget(key, dead))
    dispatch[type(tokenizer)] = _save
    return True
