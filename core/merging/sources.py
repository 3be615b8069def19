"""Resolving registry models to full-weight folders for mergekit and the GGUF converter.

Base and merged models are used where they lie. A LoRA adapter (peft safetensors) is first
folded into its base tensor by tensor and saved, with the base's tokenizer, into a scratch
folder the caller owns and removes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from core.errors import ModelError
from core.fsutil import make_private_dir
from core.merging import fold
from core.merging.compat import base_of_adapter
from core.models.info import refuse_pickle_weights
from core.workspace.registry import ModelRecord, ModelRegistry

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                    "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
                    "chat_template.json", "generation_config.json")


def merge_adapter(registry: ModelRegistry, record: ModelRecord, scratch: Path,
                  dtype: str | None = None, for_merge: bool = False,
                  report: Callable[[int, int], None] | None = None) -> Path:
    """Write ``record`` (an adapter) merged into its base as a full model; returns the folder.

    Folded tensor by tensor (:mod:`core.merging.fold`) in ``dtype`` (default: the base's
    stored dtype); an adapter that plain folding cannot express goes through peft's
    ``merge_and_unload`` (the whole model in memory). ``for_merge``: only the changed tensors
    are written, the merge reads the rest from the base (see :mod:`core.merging.lean`).
    """
    base = base_of_adapter(registry, record)
    base_dir = registry.path_of(base)
    adapter_dir = registry.path_of(record)
    refuse_pickle_weights(base_dir)
    if not list(adapter_dir.glob("*.safetensors")):
        raise ModelError(f"Adapter {record.id!r} has no safetensors weights.")
    out = make_private_dir(Path(scratch) / f"{record.id}-merged")
    if fold.can_fold(adapter_dir, base_dir) is None:
        fold.fold_adapter(adapter_dir, base_dir, out, dtype or fold.stored_dtype(base_dir),
                          changed_only=for_merge, report=report)
    else:
        _merge_with_peft(base_dir, adapter_dir, out)
    for name in _TOKENIZER_FILES:
        source = adapter_dir / name if (adapter_dir / name).exists() else base_dir / name
        if source.exists():
            shutil.copy2(source, out / name)
    return out


def _merge_with_peft(base_dir: Path, adapter_dir: Path, out: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32,
                                                 low_cpu_mem_usage=True)
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    model = model.merge_and_unload()
    model.save_pretrained(str(out), safe_serialization=True)


def full_model_folder(registry: ModelRegistry, record: ModelRecord, scratch: Path,
                      dtype: str | None = None, for_merge: bool = False,
                      report: Callable[[int, int], None] | None = None) -> Path:
    """An absolute folder with ``record``'s full weights (adapters merged into ``scratch``,
    in ``dtype``: default the base's; ``for_merge``: a changed-only fold for mergekit;
    ``report(done, total)`` per folded tensor)."""
    if record.kind == "gguf":
        raise ModelError(f"{record.id!r} is already a GGUF file; pick the model it came from.")
    if record.kind == "adapter":
        return merge_adapter(registry, record, scratch, dtype, for_merge, report).absolute()
    folder = registry.path_of(record).absolute()
    refuse_pickle_weights(folder)
    return folder
