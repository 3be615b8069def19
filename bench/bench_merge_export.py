"""Benchmark: merge and GGUF export of the bundled Gemma 3 270M on this machine.

Measures, each stage in its own process (so peak memory is that stage's own):

- TIES merge of two "fine-tunes" (the base plus seeded low-rank updates): wall time, peak RSS;
- export of the merged model to f16 and Q8_0, Q6_K, Q5_K_M, Q4_K_M: wall time, peak RSS,
  and for each file its size and perplexity on 2,048 tokens of the sample RFPs and
  proposals, as a ratio to the f16 file's.

Run:  .venv/bin/python bench/bench_merge_export.py [--workspace DIR] [--keep] [--json PATH]
(offline: ``unshare -rn`` in front works). Prints a table; not a test.
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
QUANTS = ["f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m"]
EVAL_TOKENS = 2048  # held-out tokens scored per file (the sample's RFPs and proposals)


def run_stage(stage: str, workspace: Path) -> tuple[dict, float, float]:
    """Run one stage in a child; returns its JSON result, wall seconds and peak RSS (MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--stage", stage,
                              "--workspace", str(workspace)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"stage {stage} failed (exit {child.returncode})")
    last = output.decode().strip().splitlines()[-1]
    return json.loads(last), seconds, usage.ru_maxrss / 1024


def stage_setup(workspace: Path) -> dict:
    import torch
    from safetensors.torch import load_file, save_file

    from core.models.bundled import import_base_model
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    ws = Workspace.create(workspace) if not workspace.exists() else Workspace.open(workspace)
    import_base_model(ws)
    registry = ModelRegistry(ws)
    base = registry.get("gemma3-270m")
    source = registry.path_of(base)
    for seed in (1, 2):
        model_id = f"bench-ft-{seed}"
        if registry.exists(model_id):
            continue
        weights = load_file(str(source / "model.safetensors"))
        generator = torch.Generator().manual_seed(seed)
        for name in list(weights):
            if name.endswith(("q_proj.weight", "v_proj.weight", "up_proj.weight")):
                out_dim, in_dim = weights[name].shape
                update = (torch.randn(out_dim, 8, generator=generator) * 0.01) @ \
                    (torch.randn(8, in_dim, generator=generator) * 0.01)
                weights[name] = weights[name] + update
        record = base.model_copy(update={"kind": "merged", "parents": (base.id,),
                                         "name": f"bench fine-tune {seed}"})
        with registry.create(model_id, lambda folder, r=record: r) as folder:
            save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
            for path in source.iterdir():
                if path.name not in ("model.safetensors", "model.json"):
                    shutil.copy2(path, folder / path.name)
    return {"ok": True}


def stage_merge(workspace: Path) -> dict:
    from core.merging import parse_merge_config
    from core.merging.job import merge_models
    from core.workspace import Workspace

    config = parse_merge_config({"method": "ties", "models": [
        {"model": "bench-ft-1", "density": 0.5}, {"model": "bench-ft-2", "density": 0.5}],
        "model_id": f"bench-merged-{int(time.time())}"})
    return merge_models(Workspace.open(workspace), config)


def stage_export(workspace: Path) -> dict:
    from core.export import parse_export_config
    from core.export.job import export_model
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    ws = Workspace.open(workspace)
    merged = [r for r in ModelRegistry(ws).list() if r.id.startswith("bench-merged-")][-1]
    heldout = workspace.parent / "heldout.txt"
    heldout.write_text(heldout_text(), encoding="utf-8")
    return export_model(ws, parse_export_config({
        "model": merged.id, "quants": QUANTS, "heldout_file": str(heldout),
        "eval_tokens": EVAL_TOKENS}))


def heldout_text() -> str:
    """In-domain text for the perplexity comparison: the sample RFPs and proposals."""
    documents = ROOT / "resources" / "sample" / "documents"
    files = (sorted((documents / "rfps").glob("*.md"))
             + sorted((documents / "proposals").glob("*.md")))
    return "\n\n".join(path.read_text(encoding="utf-8") for path in files)


def write_json(path: Path | None, merged: dict, exported: dict,
               stages: dict[str, dict[str, float]]) -> None:
    """The machine-readable result (``--json``): each quant against the f16 file."""
    outputs = exported["outputs"]
    f16 = next((o for o in outputs if o["label"] == "f16"), None)
    figures: list[dict[str, Any]] = []
    for output in outputs:
        if output is f16:
            continue
        figures.append(figure(f"{output['label']} perplexity", output["perplexity"],
                              exported["f16_perplexity"], "ppl", "lower",
                              f"baseline: f16; {exported['tokens_scored']} held-out tokens"))
        if f16 is not None:
            figures.append(figure(f"{output['label']} file size", output["size_bytes"] / 2**20,
                                  f16["size_bytes"] / 2**20, "MiB", "lower", "baseline: f16"))
            figures.append(figure(f"{output['label']} decode speed", output["tokens_per_s"],
                                  f16["tokens_per_s"], "tok/s", "higher", "baseline: f16"))
    raw = {"cpu_count": os.cpu_count(), "stages": stages, "merged": merged, "export": exported}
    write_result(path, "merge_export", "Merge and GGUF export of Gemma 3 270M: quants vs f16",
                 figures, raw=raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--stage", choices=["setup", "merge", "export"], help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.stage:
        sys.path.insert(0, str(ROOT))
        import core  # noqa: F401  (offline variables before any HF import)

        result = {"setup": stage_setup, "merge": stage_merge,
                  "export": stage_export}[args.stage](args.workspace)
        print(json.dumps(result, default=str))
        return
    temporary = args.workspace is None
    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="bench-merge-")) / "ws"
    try:
        run_stage("setup", workspace)
        merged, merge_s, merge_mb = run_stage("merge", workspace)
        exported, export_s, export_mb = run_stage("export", workspace)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workspace.parent, ignore_errors=True)
    print(f"Gemma 3 270M on {os.cpu_count()} CPU cores")
    print(f"{'stage':<34}{'wall s':>9}{'peak RSS MiB':>14}")
    print(f"{'TIES merge (2 models + base)':<34}{merge_s:>9.1f}{merge_mb:>14.0f}")
    print(f"{'export: f16 + 4 quants, verified':<34}{export_s:>9.1f}{export_mb:>14.0f}")
    print()
    print(f"held-out perplexity over {exported['tokens_scored']} tokens "
          f"(f16: {exported['f16_perplexity']:.3f})")
    print(f"{'type':<8}{'size MiB':>10}{'perplexity':>12}{'ratio vs f16':>14}{'tok/s':>8}")
    for output in exported["outputs"]:
        print(f"{output['label']:<8}{output['size_bytes'] / 2**20:>10.1f}"
              f"{output['perplexity']:>12.3f}{output['perplexity_ratio']:>14.4f}"
              f"{output['tokens_per_s']:>8.0f}")
    print(f"\nmerged {merged['tensors']} tensors; model {merged['model_id']}")
    stages = {"merge": {"wall_s": merge_s, "peak_rss_mib": merge_mb},
              "export": {"wall_s": export_s, "peak_rss_mib": export_mb}}
    write_json(args.json, merged, exported, stages)


if __name__ == "__main__":
    main()
