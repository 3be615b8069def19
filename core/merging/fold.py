"""Folding a LoRA adapter into its base tensor by tensor: W + scale · B · A.

The output is a full-weight folder for mergekit and the GGUF converter, written in shards of
bounded size, so memory holds one shard and one tensor — never the whole model, as loading
the base, attaching the adapter and ``merge_and_unload`` would (for the 270M that is a
float32 copy of the model plus peft's; for an 8B model more than a workstation has).

Only plain LoRA on linear layers is folded here — what our trainer writes. An adapter with
anything else (DoRA, embedding LoRA, modules to save, trained biases, names that do not map
onto the base's tensors) is left to peft: :func:`can_fold` says which, and the caller
falls back to ``merge_and_unload``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError

_PREFIX = "base_model.model."
_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<side>[AB])(?:\.[^.]+)?\.weight$")
_SHARD_BYTES = 512 << 20  # one shard is held in memory while it is built
FOLD_JSON = "fold.json"
_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


@dataclass(frozen=True)
class LoraPair:
    a: str  # adapter key of lora_A (r × in)
    b: str  # adapter key of lora_B (out × r)
    scale: float


def weight_files(folder: Path) -> list[Path]:
    """The safetensors shards of a model folder, in order."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        names = json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()
        return [folder / name for name in sorted(set(names))]
    return sorted(folder.glob("*.safetensors"))


def _scale(config: dict[str, Any], module: str) -> float:
    rank = int(config.get("r", 8))
    alpha = float(config.get("lora_alpha", rank))
    for pattern, value in (config.get("rank_pattern") or {}).items():
        if re.match(rf"(.*\.)?{pattern}$", module):
            rank = int(value)
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?{pattern}$", module):
            alpha = float(value)
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def lora_pairs(adapter_dir: Path, base_names: set[str]) -> dict[str, LoraPair] | str:
    """Base tensor name → its LoRA pair, or why this adapter must go through peft."""
    from safetensors import safe_open

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        return f"a {config.get('peft_type')} adapter"
    for key, why in (("use_dora", "DoRA"), ("modules_to_save", "modules saved whole"),
                     ("layer_replication", "layer replication"),
                     ("target_parameters", "LoRA on parameters")):
        if config.get(key):
            return why
    if config.get("bias", "none") != "none":
        return "trained biases"
    if config.get("fan_in_fan_out"):
        return "fan-in/fan-out layers"
    files = sorted(adapter_dir.glob("adapter_model*.safetensors"))
    if not files:
        return "no safetensors weights"
    sides: dict[str, dict[str, str]] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                match = _LORA_KEY.match(key.removeprefix(_PREFIX))
                if not match:
                    return f"an adapter tensor other than LoRA A/B ({key})"
                sides.setdefault(match["module"], {})[match["side"]] = key
    pairs: dict[str, LoraPair] = {}
    for module, both in sides.items():
        target = f"{module}.weight"
        if set(both) != {"A", "B"} or target not in base_names:
            return f"a LoRA module that does not map onto the base ({module})"
        pairs[target] = LoraPair(both["A"], both["B"], _scale(config, module))
    return pairs


def _adapter_tensors(adapter_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    tensors: dict[str, Any] = {}
    for path in sorted(adapter_dir.glob("adapter_model*.safetensors")):
        tensors.update(load_file(str(path)))
    return tensors


def _base_tensors(files: list[Path], only: set[str] | None) -> Iterator[tuple[str, Any]]:
    from safetensors import safe_open

    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            names = [name for name in handle.keys() if only is None or name in only]
        for name in names:  # a handle kept open keeps every page read so far in memory
            with safe_open(str(path), framework="pt") as handle:
                tensor = handle.get_tensor(name)
            yield name, tensor


def folded_base(folder: Path) -> Path | None:
    """The base a changed-only fold reads its other tensors from (None: a full model)."""
    marker = Path(folder) / FOLD_JSON
    if not marker.exists():
        return None
    return Path(json.loads(marker.read_text(encoding="utf-8"))["base"])


def base_tensor_names(base_dir: Path) -> set[str]:
    from safetensors import safe_open

    names: set[str] = set()
    for path in weight_files(base_dir):
        with safe_open(str(path), framework="pt") as handle:
            names.update(handle.keys())
    return names


def can_fold(adapter_dir: Path, base_dir: Path) -> str | None:
    """None when :func:`fold_adapter` can fold this adapter; else why peft must."""
    found = lora_pairs(adapter_dir, base_tensor_names(base_dir))
    return found if isinstance(found, str) else None


def fold_adapter(adapter_dir: Path, base_dir: Path, out: Path, dtype: str = "float32",
                 shard_bytes: int = _SHARD_BYTES, changed_only: bool = False,
                 report: Callable[[int, int], None] | None = None) -> int:
    """Write base + adapter as full weights into ``out`` (shards and, if several, an index);
    returns the number of tensors changed. Raises ModelError if the adapter cannot be folded
    here (see :func:`can_fold`).

    ``changed_only`` (for a merge): write only the tensors the adapter changes, and name
    the base in ``fold.json`` for the rest; the merge reads those from the base, once
    (:mod:`core.merging.lean`). Such a folder is not a complete model on its own.
    ``report(done, total)`` is called after each tensor (it may raise to cancel).
    """
    import torch
    from safetensors.torch import save_file

    files = weight_files(base_dir)
    base_names = base_tensor_names(base_dir)
    pairs = lora_pairs(adapter_dir, base_names)
    if isinstance(pairs, str):
        raise ModelError(f"This adapter cannot be folded tensor by tensor: {pairs}.")
    adapter = _adapter_tensors(adapter_dir)
    target = getattr(torch, _DTYPES[dtype])
    shards: list[dict[str, Any]] = [{}]
    sizes = [0]
    changed = 0

    def flush() -> None:
        if shards[-1]:
            index = len(shards)
            save_file(shards[-1], str(out / f"fold-{index:05d}.safetensors"),
                      metadata={"format": "pt"})
            shards[-1] = {name: None for name in shards[-1]}  # keep the names, drop data
            shards.append({})
            sizes.append(0)

    total = len(pairs) if changed_only else len(base_names)
    for done, (name, tensor) in enumerate(
            _base_tensors(files, set(pairs) if changed_only else None), start=1):
        pair = pairs.get(name)
        if pair is not None:
            a = adapter[pair.a].to(torch.float32)
            b = adapter[pair.b].to(torch.float32)
            tensor = torch.addmm(tensor.to(torch.float32), b, a, alpha=pair.scale)
            changed += 1
        if tensor.is_floating_point():
            tensor = tensor.to(target)
        size = tensor.numel() * tensor.element_size()
        if shards[-1] and sizes[-1] + size > shard_bytes:
            flush()
        shards[-1][name] = tensor.contiguous()
        sizes[-1] += size
        if report:
            report(done, total)
    flush()
    written = [shard for shard in shards if shard]
    if changed_only:
        (out / FOLD_JSON).write_text(json.dumps({"base": str(base_dir.absolute()),
                                                 "dtype": dtype}), encoding="utf-8")
    if len(written) == 1 and not changed_only:
        (out / "fold-00001.safetensors").rename(out / "model.safetensors")
    else:  # the names transformers, mergekit and the GGUF converter expect of shards
        total = len(written)
        weight_map = {}
        for index, shard in enumerate(written, start=1):
            final = f"model-{index:05d}-of-{total:05d}.safetensors"
            (out / f"fold-{index:05d}.safetensors").rename(out / final)
            weight_map.update(dict.fromkeys(shard, final))
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1),
            encoding="utf-8")
    _write_config(base_dir, out, dtype)
    return changed


def _write_config(base_dir: Path, out: Path, dtype: str) -> None:
    config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    for key in ("torch_dtype", "dtype"):
        if key in config:
            config[key] = dtype
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def stored_dtype(folder: Path) -> str:
    """The dtype a model folder's floating-point weights are stored in (from the header)."""
    from safetensors import safe_open

    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                kind = handle.get_slice(name).get_dtype()
                found = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}.get(kind)
                if found:
                    return found
    return "float32"
