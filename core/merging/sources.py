"""Resolving registry models to full-weight folders for mergekit and the GGUF converter.

Base and merged models are used where they lie. A LoRA adapter (peft safetensors) is first
merged into its base with ``merge_and_unload`` and saved, with the base's tokenizer, into a
scratch folder the caller owns and removes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.errors import ModelError
from core.fsutil import make_private_dir
from core.merging.compat import base_of_adapter
from core.models.info import refuse_pickle_weights
from core.workspace.registry import ModelRecord, ModelRegistry

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                    "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
                    "chat_template.json", "generation_config.json")


def merge_adapter(registry: ModelRegistry, record: ModelRecord, scratch: Path) -> Path:
    """Write ``record`` (an adapter) merged into its base as a full model; returns the folder."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = base_of_adapter(registry, record)
    base_dir = registry.path_of(base)
    adapter_dir = registry.path_of(record)
    refuse_pickle_weights(base_dir)
    if not list(adapter_dir.glob("*.safetensors")):
        raise ModelError(f"Adapter {record.id!r} has no safetensors weights.")
    out = make_private_dir(Path(scratch) / f"{record.id}-merged")
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32,
                                                 low_cpu_mem_usage=True)
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    model = model.merge_and_unload()
    model.save_pretrained(str(out), safe_serialization=True)
    del model
    for name in _TOKENIZER_FILES:
        source = adapter_dir / name if (adapter_dir / name).exists() else base_dir / name
        if source.exists():
            shutil.copy2(source, out / name)
    return out


def full_model_folder(registry: ModelRegistry, record: ModelRecord, scratch: Path) -> Path:
    """An absolute folder with ``record``'s full weights (adapters merged into ``scratch``)."""
    if record.kind == "gguf":
        raise ModelError(f"{record.id!r} is already a GGUF file; pick the model it came from.")
    if record.kind == "adapter":
        return merge_adapter(registry, record, scratch).absolute()
    folder = registry.path_of(record).absolute()
    refuse_pickle_weights(folder)
    return folder
