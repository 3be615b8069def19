"""Facts about model files without loading their weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError

SAFE_WEIGHT_SUFFIXES = (".safetensors", ".gguf")
UNSAFE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


@dataclass(frozen=True)
class ModelFacts:
    architecture: str
    model_type: str
    parameters: int
    vocab_size: int
    hidden_size: int
    num_layers: int


def refuse_pickle_weights(folder: Path) -> None:
    """Refuse a model folder whose only weights are pickle files (they can run code)."""
    folder = Path(folder)
    safe = [p for p in folder.glob("*") if p.suffix in SAFE_WEIGHT_SUFFIXES]
    unsafe = [p.name for p in folder.glob("*") if p.suffix in UNSAFE_WEIGHT_SUFFIXES]
    if unsafe and not safe:
        raise ModelError(
            f"{folder} holds only pickle weights ({', '.join(sorted(unsafe))}); Scriptorium "
            "loads only safetensors or GGUF, because pickle files can run code when loaded.",
            hint="convert the model to safetensors on a trusted machine",
        )


def count_safetensors_parameters(folder: Path) -> int:
    """Sum of tensor sizes in every ``*.safetensors`` file (reads headers only)."""
    from safetensors import safe_open

    total = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="np") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= int(dim)
                total += count
    return total


def hf_model_facts(folder: Path) -> ModelFacts:
    """Architecture and size of a Hugging Face model folder (config.json + safetensors)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.exists():
        raise ModelError(f"{folder} is not a Hugging Face model folder (no config.json).")
    refuse_pickle_weights(folder)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ModelError(f"{config_path} is not valid JSON: {error}") from error
    text = config.get("text_config") or {}
    get = lambda key: config.get(key, text.get(key, 0))  # noqa: E731
    return ModelFacts(
        architecture=(config.get("architectures") or ["unknown"])[0],
        model_type=str(config.get("model_type", "")),
        parameters=count_safetensors_parameters(folder),
        vocab_size=int(get("vocab_size") or 0),
        hidden_size=int(get("hidden_size") or 0),
        num_layers=int(get("num_hidden_layers") or 0),
    )


def gguf_model_facts(path: Path) -> ModelFacts:
    """Architecture and size of a GGUF file (reads its metadata and tensor table)."""
    from core.models.gguf_header import read_header

    header = read_header(path)
    arch = str(header.values.get("general.architecture") or "unknown")
    number = lambda key: int(header.values.get(key) or 0)  # type: ignore[call-overload]  # noqa: E731
    return ModelFacts(
        architecture=arch,
        model_type=arch,
        parameters=header.parameters,
        vocab_size=header.array_lengths.get("tokenizer.ggml.tokens", 0),
        hidden_size=number(f"{arch}.embedding_length"),
        num_layers=number(f"{arch}.block_count"),
    )
