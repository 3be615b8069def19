"""Benchmark: peak memory of a TIES merge of two LoRA adapters (issue 18 item 1).

Ours: ``merge_models`` — each adapter folded into its base tensor by tensor, mergekit with
the lean magnitude cut and untouched tensors passed through. Baseline, in the same run: what
the merge did before — peft's ``merge_and_unload`` per adapter (the whole model in memory),
then mergekit's own ``run_merge`` on the folded folders. Each side runs in its own process,
so its peak RSS is its own; the two outputs are compared tensor by tensor.

Models: the bundled Gemma 3 270M (``--model 270m``), or a random-weight Llama-shaped 1B
model created for the run and deleted after it (``--model 1b``: 16 layers, hidden 2048,
vocabulary 128k, stored in bfloat16). The adapters are rank-16 LoRA on every linear layer
with random weights. Target: peak RSS ≤ 2.5× one input model in the merge dtype.

Run:  .venv/bin/python bench/bench_merge_memory.py [--model 270m|1b] [--json PATH]
Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from result_json import add_json_argument, figure, write_result

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.5
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def run_stage(stage: str, workspace: Path, model: str) -> tuple[dict, float, float]:
    """One stage in a child; returns its JSON result, wall seconds and peak RSS (MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--stage", stage, "--model", model,
                              "--workspace", str(workspace)],
                             stdout=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {stage} failed")
    return (json.loads(output.decode().strip().splitlines()[-1]),
            time.perf_counter() - start, usage.ru_maxrss / 1024)


def _random_1b(folder: Path, tokenizer_from: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                         num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                         tie_word_embeddings=True, max_position_embeddings=4096)
    torch.manual_seed(0)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model = model.to_empty(device="cpu").to(torch.bfloat16)
    for parameter in model.parameters():
        parameter.data.normal_(0, 0.02)
    model.save_pretrained(str(folder), safe_serialization=True, max_shard_size="1GB")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_from / name).exists():
            shutil.copy2(tokenizer_from / name, folder / name)
    return folder


def stage_setup(workspace: Path, model: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from core.models.bundled import import_base_model
    from core.workspace import Workspace
    from core.workspace.registry import ModelRecord, ModelRegistry

    ws = Workspace.create(workspace)
    import_base_model(ws)
    registry = ModelRegistry(ws)
    base_id = "gemma3-270m"
    if model == "1b":
        bundled = registry.path_of(registry.get(base_id))
        folder = _random_1b(workspace.parent / "llama-1b", bundled)
        base_id = "llama-1b"
        record = ModelRecord(id=base_id, name="random Llama 1B", kind="base",
                             architecture="LlamaForCausalLM", model_type="llama",
                             parameters=0, format="safetensors", source="bench")
        with registry.create(base_id, lambda out: record) as out:
            for path in folder.iterdir():
                shutil.copy2(path, out / path.name)
        shutil.rmtree(folder)
    base_dir = registry.path_of(registry.get(base_id))
    for seed in (1, 2):
        torch.manual_seed(seed)
        loaded = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
        peft = get_peft_model(loaded, LoraConfig(r=16, lora_alpha=32, init_lora_weights=False,
                                                 target_modules="all-linear"))
        for name, parameter in peft.named_parameters():
            if "lora_" in name:
                parameter.data.mul_(0.05)
        adapter = ModelRecord(id=f"lora-{seed}", name=f"LoRA {seed}", kind="adapter",
                              architecture="", model_type="", parameters=0, format="peft",
                              parents=(base_id,), source="bench")
        with registry.create(adapter.id, lambda out, r=adapter: r) as out:
            peft.save_pretrained(str(out), safe_serialization=True)
        del peft, loaded
    return {"base": base_id}


def _config(model_id: str) -> Any:
    from core.merging import parse_merge_config

    return parse_merge_config({"method": "ties", "model_id": model_id, "models": [
        {"model": "lora-1", "density": 0.5}, {"model": "lora-2", "density": 0.5}]})


def stage_ours(workspace: Path, model: str) -> dict:
    from core.merging.job import merge_models
    from core.workspace import Workspace

    return merge_models(Workspace.open(workspace), _config("ours"))


def stage_baseline(workspace: Path, model: str) -> dict:
    """peft merge_and_unload per adapter, then mergekit's own run_merge."""
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge

    from core.merging.compat import base_of_adapter
    from core.merging.config import merge_yaml
    from core.merging.engine import mergekit_options
    from core.merging.fold import stored_dtype
    from core.merging.sources import _TOKENIZER_FILES, _merge_with_peft
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    registry = ModelRegistry(Workspace.open(workspace))
    scratch = workspace.parent / "baseline-scratch"
    paths = {}
    for adapter_id in ("lora-1", "lora-2"):
        record = registry.get(adapter_id)
        base_dir = registry.path_of(base_of_adapter(registry, record))
        out = scratch / adapter_id
        out.mkdir(parents=True)
        _merge_with_peft(base_dir, registry.path_of(record), out)
        for name in _TOKENIZER_FILES:
            if (base_dir / name).exists():
                shutil.copy2(base_dir / name, out / name)
        paths[adapter_id] = out
    base = base_of_adapter(registry, registry.get("lora-1"))
    paths[base.id] = registry.path_of(base)
    text = merge_yaml(_config("baseline"), paths, base=base.id,
                      dtype=stored_dtype(registry.path_of(base)))
    run_merge(MergeConfiguration.model_validate(yaml.safe_load(text)),
              str(workspace.parent / "baseline-out"), options=mergekit_options(0))
    shutil.rmtree(scratch)
    return {"ok": True}


def compare(workspace: Path) -> dict[str, float]:
    """Largest difference between the two merges, and the share of values that differ."""
    from safetensors import safe_open

    from core.merging.fold import weight_files

    def tensors(folder: Path) -> dict[str, tuple[Path, str]]:
        found = {}
        for path in weight_files(folder):
            with safe_open(str(path), framework="pt") as handle:
                found.update({name: (path, name) for name in handle.keys()})
        return found

    ours = tensors(workspace / "models" / "ours")
    baseline = tensors(workspace.parent / "baseline-out")
    worst, differing, total = 0.0, 0, 0
    for name, (path, key) in ours.items():
        with safe_open(str(path), framework="pt") as a, \
                safe_open(str(baseline[name][0]), framework="pt") as b:
            x, y = a.get_tensor(key).float(), b.get_tensor(key).float()
        worst = max(worst, float((x - y).abs().max()))
        differing += int((x != y).sum())
        total += x.numel()
    return {"max_abs_difference": worst, "share_differing": differing / max(total, 1),
            "tensors": len(ours), "same_names": set(ours) == set(baseline)}


def model_bytes(workspace: Path) -> tuple[int, str]:
    """Size of one input model in the merge dtype, and that dtype."""
    from core.merging.fold import stored_dtype
    from core.models.info import hf_model_facts
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    registry = ModelRegistry(Workspace.open(workspace))
    folder = registry.path_of(registry.get("ours"))
    dtype = stored_dtype(folder)
    return hf_model_facts(folder).parameters * _BYTES[dtype], dtype


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["270m", "1b"], default="270m")
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stage", choices=["setup", "ours", "baseline"], help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.stage:
        sys.path.insert(0, str(ROOT))
        import core  # noqa: F401  (offline variables before any HF import)

        stages = {"setup": stage_setup, "ours": stage_ours, "baseline": stage_baseline}
        print(json.dumps(stages[args.stage](args.workspace, args.model), default=str))
        return
    sys.path.insert(0, str(ROOT))
    folder = Path(tempfile.mkdtemp(prefix="bench-merge-memory-"))
    workspace = folder / "ws"
    try:
        run_stage("setup", workspace, args.model)
        _, ours_s, ours_mb = run_stage("ours", workspace, args.model)
        _, base_s, base_mb = run_stage("baseline", workspace, args.model)
        size, dtype = model_bytes(workspace)
        same = compare(workspace)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size_mb = size / 2**20
    print(f"TIES merge of two rank-16 LoRA adapters of the {args.model} model "
          f"({dtype}, {size_mb:.0f} MiB), {os.cpu_count()} CPU cores")
    print(f"{'':<34}{'wall s':>9}{'peak RSS MiB':>14}{'× model':>9}")
    print(f"{'ours (fold + lean mergekit)':<34}{ours_s:>9.1f}{ours_mb:>14.0f}"
          f"{ours_mb / size_mb:>9.2f}")
    print(f"{'baseline (peft + run_merge)':<34}{base_s:>9.1f}{base_mb:>14.0f}"
          f"{base_mb / size_mb:>9.2f}")
    print(f"peak RSS ours / baseline: ×{ours_mb / base_mb:.2f}; ours / model size "
          f"×{ours_mb / size_mb:.2f} (target ≤ {TARGET:g}×)")
    print(f"outputs: largest difference {same['max_abs_difference']:.3g}, "
          f"{same['share_differing']:.2e} of values differ (ties at the magnitude cut)")
    figures = [
        figure(f"merge peak RSS ({args.model})", ours_mb, base_mb, "MiB", "lower",
               "baseline: peft merge_and_unload + mergekit run_merge"),
        figure(f"merge peak RSS / model size ({args.model})", ours_mb / size_mb, TARGET, "×",
               "lower", f"baseline column: the target, ≤ {TARGET:g}× one input model "
               f"({dtype}, {size_mb:.0f} MiB)", limit=TARGET),
        figure(f"merge wall time ({args.model})", ours_s, base_s, "s", "lower",
               "baseline: peft merge_and_unload + mergekit run_merge"),
    ]
    name = "merge_memory" if args.model == "270m" else f"merge_memory_{args.model}"
    title = f"TIES merge of two LoRA adapters of the {args.model} model: peak memory"
    write_result(args.json, name, title,
                 figures, raw={"model": args.model, "dtype": dtype, "model_mib": size_mb,
                               "ours": {"wall_s": ours_s, "peak_rss_mib": ours_mb},
                               "baseline": {"wall_s": base_s, "peak_rss_mib": base_mb},
                               "outputs": same})


if __name__ == "__main__":
    main()
