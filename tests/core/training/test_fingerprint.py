"""The run's tokenizer is fingerprinted for ``datasets`` by its identity, not its bytes."""

from __future__ import annotations

import gc
from pathlib import Path

from core.training import fingerprint


def test_a_registered_tokenizer_hashes_by_identity_and_others_as_before(
        tiny_model_dir: Path) -> None:
    from datasets.fingerprint import Hasher
    from transformers import AutoTokenizer

    ours = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    other = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    before = Hasher.hash(other)
    assert fingerprint.fingerprint_cheaply(ours)
    assert Hasher.hash(ours) == Hasher.hash(ours)  # stable
    assert Hasher.hash(ours) != before  # by identity, not the library's bytes
    assert Hasher.hash(other) == before  # an instance not registered: unchanged
    assert Hasher.hash({"processing_class": ours}) == Hasher.hash({"processing_class": ours})
    ours.chat_template = "{{ messages }}"
    changed = Hasher.hash(ours)
    ours.chat_template = None
    assert Hasher.hash(ours) != changed  # what decides the output is in the identity
    count = len(fingerprint._CHEAP)
    del ours
    gc.collect()
    assert len(fingerprint._CHEAP) == count - 1  # not kept alive by the registry
