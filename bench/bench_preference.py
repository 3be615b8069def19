"""Benchmark: a DPO step against a CPT step on the same tokens (issue 18, target ≤ 3×).

Each pair's prompt + chosen and prompt + rejected are ``seq`` tokens long, and a CPT row is
``seq`` tokens; the batch size is the same, so a DPO step reads twice a CPT step's tokens
(two sequences a pair); no gradient accumulation. Three jobs, each in its own process, of
``--epochs`` passes (default 2: the reference pass is made once only when the run reads
the pairs more than once):

- ``cpt``: our CPT recipe (the unit);
- ``dpo``: our DPO recipe, the reference model's log-probabilities computed once before
  the first step (``reference_once=always``; what ``auto`` does for such a run);
- ``dpo-per-step`` (the baseline): the same with the reference pass at every step, as
  before.

A step's time is the job's trainer time (building it, which for DPO includes the one
reference pass, plus ``train()``) over its steps; the fastest of ``--repeats`` interleaved
runs counts. The ratio is given per step (a DPO step reads twice the tokens) and per
token. Usage::

    .venv/bin/python bench/bench_preference.py            # tiny random Gemma 3 (seconds)
    .venv/bin/python bench/bench_preference.py --real     # the bundled Gemma 3 270M
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "tests"))

from bench_training import LORA, _words  # noqa: E402
from result_json import add_json_argument, figure, write_result  # noqa: E402

VARIANTS = ("cpt", "dpo", "dpo-per-step")
TARGET = 3.0


def prepare(folder: Path, real: bool, seq: int, rows: int) -> dict[str, Any]:
    """A workspace with the model, a CPT dataset and a preference dataset of equal-length
    sequences."""
    from bench_training import prepare as prepare_cpt
    from transformers import AutoTokenizer

    from core.datasets import DatasetStore
    from core.workspace import Workspace

    setup = prepare_cpt(folder, real, seq, rows)
    tokenizer = AutoTokenizer.from_pretrained(setup["model_dir"])
    rng = random.Random(1)

    def text_of(tokens: int) -> str:
        ids: list[int] = []
        while len(ids) < tokens:
            ids += tokenizer(" " + _words(rng, 20), add_special_tokens=False)["input_ids"]
        return tokenizer.decode(ids[:tokens])

    prompt_tokens = seq // 4
    pairs = [{"prompt": text_of(prompt_tokens), "chosen": text_of(seq - prompt_tokens - 2),
              "rejected": text_of(seq - prompt_tokens - 2)} for _ in range(rows)]
    store = DatasetStore(Workspace.open(Path(setup["workspace"])))
    fields = {"created": "2026-01-01T00:00:00+00:00", "model": setup["base"],
              "tokenizer": {"vocab_size": len(tokenizer),
                            "eos_token_id": tokenizer.eos_token_id}}
    setup["prefs"] = store.commit("prefs", {"train.jsonl": pairs, "heldout.jsonl": []},
                                  fields).id
    return setup


def run(setup: dict[str, Any], variant: str, seq: int, batch: int,
        epochs: int) -> dict[str, Any]:
    from core.jobs.progress import JobContext
    from core.training.config import build_config
    from core.training.job import run_training
    from core.workspace import Workspace

    workspace = Workspace.open(Path(setup["workspace"]))
    recipe = "cpt" if variant == "cpt" else "dpo"
    overrides = [f"max_length={seq}", f"batch_size={batch}", f"epochs={epochs}",
                 "grad_accum=1", "max_steps=null", "eval_every=0",
                 "save_every=100000", "learning_rate=1e-4", "warmup_ratio=0", "seed=1",
                 f"lora.r={LORA['r']}", f"lora.alpha={LORA['alpha']}", "lora.dropout=0.0",
                 f"reference_once={'never' if variant == 'dpo-per-step' else 'always'}"]
    config = build_config(recipe, base=setup["base"],
                          dataset=setup["cpt"] if recipe == "cpt" else setup["prefs"],
                          overrides=overrides)
    job_dir = workspace.root / "runs" / f"bench-{variant}-{time.time_ns()}"
    job_dir.mkdir(parents=True)
    metrics = run_training(config, JobContext(job_dir))["metrics"]
    seconds = metrics["seconds"] + metrics["prepare_seconds"]
    return {"steps": metrics["steps"], "seconds": seconds, "tokens": metrics["tokens"],
            "prepare_seconds": metrics["prepare_seconds"],
            "step_s": seconds / max(1.0, metrics["steps"])}


def measure(setup: dict[str, Any], variant: str, seq: int, batch: int,
            epochs: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(setup), variant,
                          str(seq), str(batch), str(epochs)], capture_output=True, text=True,
                         check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"{variant} failed")
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="use the bundled Gemma 3 270M")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--rows", type=int, default=None, help="rows of each dataset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.child:
        setup, variant, seq, batch, epochs = args.child
        result = run(json.loads(setup), variant, int(seq), int(batch), int(epochs))
        print("RESULT " + json.dumps(result))
        return
    batch = args.batch or (2 if args.real else 8)
    rows = args.rows or (16 if args.real else 96)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        setup = prepare(Path(tmp), args.real, args.seq, rows)
        model = "Gemma 3 270M" if args.real else "tiny Gemma 3"
        print(f"model: {model}, LoRA r={LORA['r']}, seq {args.seq}, batch {batch}, "
              f"{rows} rows, {args.epochs} epochs")
        for round_ in range(args.repeats):
            order = VARIANTS if round_ % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                runs[variant].append(measure(setup, variant, args.seq, batch, args.epochs))
    best = {v: min(r, key=lambda x: x["step_s"]) for v, r in runs.items()}
    print(f"{'variant':13} {'steps':>5} {'s/step':>7} {'prepare s':>9}")
    for variant in VARIANTS:
        b = best[variant]
        print(f"{variant:13} {int(b['steps']):5d} {b['step_s']:7.3f} {b['prepare_seconds']:9.2f}")
    cpt, dpo, before = (best[v]["step_s"] for v in VARIANTS)
    print(f"DPO step / CPT step: ×{dpo / cpt:.2f} (target ≤ {TARGET:g}; the reference pass "
          f"at every step, as before: ×{before / cpt:.2f}); per token: ×{dpo / cpt / 2:.2f} "
          f"(before ×{before / cpt / 2:.2f})")
    print(f"DPO step, ours vs per-step reference (baseline): ×{dpo / before:.2f}")
    figures = [
        figure("DPO step time", dpo, before, "s", "lower",
               "baseline: the reference pass at every step"),
        figure("DPO step / CPT step", dpo / cpt, TARGET, "×", "lower",
               f"baseline column: the target, ≤ {TARGET:g}× a CPT step on the same tokens",
               limit=TARGET),
    ]
    write_result(args.json, "preference", "DPO step vs CPT step", figures,
                 raw={"model": model, "seq": args.seq, "batch": batch, "rows": rows,
                      "epochs": args.epochs, "per_token_ratio": dpo / cpt / 2,
                      "runs": runs})


if __name__ == "__main__":
    main()
