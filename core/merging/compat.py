"""Can these models be merged? Same architecture, shape, vocabulary and tokenizer.

Reads only ``config.json`` and the tokenizer files, never the weights. An adapter is
judged by its base model (that is what it will be merged into first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.models.support import refusal
from core.workspace.registry import ModelRecord, ModelRegistry

# config.json keys that must agree, with the words used in messages.
SHAPE_KEYS: dict[str, str] = {
    "hidden_size": "hidden size",
    "num_hidden_layers": "layer count",
    "vocab_size": "vocabulary size",
    "intermediate_size": "MLP size",
    "num_attention_heads": "attention heads",
    "num_key_value_heads": "key/value heads",
    "head_dim": "head size",
}


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` flattened (a multimodal ``text_config`` lifted to the top)."""
    path = Path(folder) / "config.json"
    if not path.exists():
        raise ModelError(f"{folder} is not a Hugging Face model folder (no config.json).")
    config = json.loads(path.read_text(encoding="utf-8"))
    return {**config, **(config.get("text_config") or {})}


def tokenizer_fingerprint(folder: Path) -> str | None:
    """A hash of the vocabulary, merges and added tokens (formatting differences ignored)."""
    folder = Path(folder)
    tokenizer_json = folder / "tokenizer.json"
    if tokenizer_json.exists():
        data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        model = data.get("model") or {}
        added = sorted((t.get("id"), t.get("content")) for t in data.get("added_tokens") or [])
        key = json.dumps([model.get("type"), model.get("vocab"), model.get("merges"), added],
                         sort_keys=True, default=str)
        return hashlib.sha256(key.encode("utf-8")).hexdigest()
    sentencepiece = folder / "tokenizer.model"
    if sentencepiece.exists():
        return hashlib.sha256(sentencepiece.read_bytes()).hexdigest()
    return None


def base_of_adapter(registry: ModelRegistry, record: ModelRecord) -> ModelRecord:
    """The full model an adapter was trained on (its first non-adapter parent)."""
    for parent in record.parents:
        if registry.exists(parent):
            candidate = registry.get(parent)
            if candidate.kind == "adapter":
                return base_of_adapter(registry, candidate)
            return candidate
    raise ModelError(f"Adapter {record.id!r} has no base model in this workspace "
                     f"(parents: {', '.join(record.parents) or 'none'}).")


def weights_folder(registry: ModelRegistry, record: ModelRecord) -> Path:
    """The folder whose config and tokenizer stand for ``record`` in a merge."""
    if record.kind == "gguf":
        raise ModelError(
            f"{record.id!r} is a GGUF file; merging needs the full-precision model "
            f"(merge {', '.join(record.parents) or 'its source model'} instead).")
    if record.kind == "adapter":
        return registry.path_of(base_of_adapter(registry, record))
    return registry.path_of(record)


def compare_folders(folders: Mapping[str, Path]) -> list[str]:
    """Problems that stop these model folders (label → folder) being merged; [] if none."""
    labels = list(folders)
    if len(labels) < 2:
        return []
    configs = {label: read_config(folders[label]) for label in labels}
    problems = []

    def differs(what: str, values: dict[str, Any]) -> None:
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            listed = ", ".join(f"{label}={value}" for label, value in values.items())
            problems.append(f"{what} differs: {listed}")

    differs("architecture", {k: (c.get("architectures") or ["?"])[0] for k, c in configs.items()})
    differs("model type", {k: c.get("model_type", "?") for k, c in configs.items()})
    for key, words in SHAPE_KEYS.items():
        values = {label: config.get(key) for label, config in configs.items()}
        if any(v is not None for v in values.values()):
            differs(words, values)
    prints = {label: tokenizer_fingerprint(folders[label]) for label in labels}
    if any(p is None for p in prints.values()):
        missing = ", ".join(label for label, p in prints.items() if p is None)
        problems.append(f"no tokenizer to compare in {missing}")
    elif len(set(prints.values())) > 1:
        groups: dict[str, list[str]] = {}
        for label, fingerprint in prints.items():
            groups.setdefault(fingerprint, []).append(label)
        listed = " vs ".join(", ".join(group) for group in groups.values())
        problems.append(f"tokenizer differs (vocabulary or merges): {listed}")
    return problems


def check_compatible(records: Sequence[ModelRecord], registry: ModelRegistry) -> list[str]:
    """Problems that stop these registry models being merged together; [] if none."""
    problems: list[str] = [refused for record in records
                           if (refused := refusal(registry, record.id, "merge")) is not None]
    folders: dict[str, Path] = {}
    for record in records:
        try:
            folders[record.id] = weights_folder(registry, record)
        except ModelError as error:
            problems.append(error.message)
    if problems:
        return problems
    return compare_folders(folders)


def explain(problems: Sequence[str]) -> str:
    """One user-facing sentence for a list of compatibility problems."""
    return ("These models cannot be merged: " + "; ".join(problems) + ". Merging needs "
            "models of the same architecture and size that share one tokenizer.")
