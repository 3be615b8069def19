"""Benchmark: our CPT/SFT training jobs against a plain transformers + peft Trainer.

Same model, data, LoRA settings, batch size and sequence length; each variant runs in its
own process (so peak RSS is its own) within this one invocation, and trains one epoch:

(a) ``equal``: equal-length token sequences, no padding — our CPT recipe vs a plain
    Trainer with the standard causal-LM collator;
(b) ``variable``: prompt/completion pairs of varied lengths — our SFT recipe (packing on)
    vs a plain Trainer that pads each batch (loss on the completion in both).

Tokens/s counts real (non-padding) tokens of the epoch over the time ``trainer.train()``
took (the fastest of ``--repeats`` interleaved runs; peak RSS is the largest). Usage::

    .venv/bin/python bench/bench_training.py            # tiny random Gemma 3 (seconds)
    .venv/bin/python bench/bench_training.py --real     # the bundled Gemma 3 270M (minutes)

``--json PATH`` also writes a machine-readable result (with each variant's loss per step).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from result_json import add_json_argument, figure, write_result  # noqa: E402

LORA = {"r": 8, "alpha": 16, "dropout": 0.0}
TARGET_TPS = {"equal": 1.0, "variable": 1.3}  # issue 18: tokens/s, ours / plain Trainer
TARGET_RSS = 1.0  # issue 18: peak RSS, ours / plain Trainer


def _words(rng: random.Random, count: int) -> str:
    vocab = ("contractor shall provide monthly status report labour category security plan "
             "past performance telemetry archive cloud hosting transition schedule quality "
             "assurance help desk requirements section offeror proposal within days").split()
    return " ".join(rng.choice(vocab) for _ in range(count))


# -- setup: a workspace with the model and both datasets ---------------------------------
def prepare(folder: Path, real: bool, seq: int, rows: int) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from core.datasets import DatasetStore
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    workspace = Workspace.create(folder / "ws")
    if real:
        from core.models.bundled import BASE_MODEL_ID, import_base_model

        import_base_model(workspace)
        base = BASE_MODEL_ID
    else:
        from helpers.tiny_model import build_tiny_model

        from core.models.info import hf_model_facts
        from core.workspace.registry import ModelRecord

        model_dir = build_tiny_model(folder / "tiny")
        facts = hf_model_facts(model_dir)
        base = "tiny-base"
        record = ModelRecord(id=base, name="tiny", kind="base", architecture=facts.architecture,
                             parameters=facts.parameters)
        with ModelRegistry(workspace).create(base, lambda f: record) as target:
            for path in model_dir.iterdir():
                os.link(path, target / path.name)
    registry = ModelRegistry(workspace)
    model_dir = registry.path_of(registry.get(base))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    rng = random.Random(0)
    store = DatasetStore(workspace)
    fields = {"created": "2026-01-01T00:00:00+00:00", "model": base,
              "tokenizer": {"vocab_size": len(tokenizer), "eos_token_id": tokenizer.eos_token_id}}

    ids: list[int] = []
    while len(ids) < rows * seq:
        ids.extend(tokenizer(_words(rng, 40))["input_ids"] + [tokenizer.eos_token_id])
    equal = [{"input_ids": ids[i * seq:(i + 1) * seq]} for i in range(rows)]
    cpt = store.commit("cpt", {"train.jsonl": equal, "heldout.jsonl": []}, fields).id

    pairs = []
    for _ in range(rows * 3):
        prompt = ("<bos><start_of_turn>user\n" + _words(rng, rng.randint(3, 12))
                  + "<end_of_turn>\n<start_of_turn>model\n")
        completion = _words(rng, rng.randint(4, max(5, seq // 2 - 10))) + "<end_of_turn>\n"
        pairs.append({"prompt": prompt, "completion": completion})
    sft = store.commit("sft", {"train.jsonl": pairs, "heldout.jsonl": []}, fields).id
    return {"workspace": str(workspace.root), "base": base, "model_dir": str(model_dir),
            "cpt": cpt, "sft": sft}


# -- the variants (each runs in its own process) -----------------------------------------
def _overrides(seq: int, batch: int) -> list[str]:
    return [f"max_length={seq}", f"batch_size={batch}", "epochs=1", "eval_every=0",
            "save_every=100000", "learning_rate=1e-4", "warmup_ratio=0", "seed=1",
            f"lora.r={LORA['r']}", f"lora.alpha={LORA['alpha']}", f"lora.dropout={LORA['dropout']}"]


def run_ours(setup: dict[str, Any], recipe: str, seq: int, batch: int) -> dict[str, Any]:
    from core.jobs.progress import JobContext
    from core.training.config import build_config
    from core.training.job import run_training
    from core.workspace import Workspace

    workspace = Workspace.open(Path(setup["workspace"]))
    dataset = setup["cpt"] if recipe == "cpt" else setup["sft"]
    config = build_config(recipe, base=setup["base"], dataset=dataset,
                          overrides=_overrides(seq, batch))
    job_dir = workspace.root / "runs" / f"bench-{recipe}-{time.time_ns()}"
    job_dir.mkdir(parents=True)
    result = run_training(config, JobContext(job_dir))
    return {"seconds": result["metrics"]["seconds"], "steps": result["metrics"]["steps"],
            "loss": logged_losses(job_dir)}


def logged_losses(job_dir: Path) -> list[list[float]]:
    """[step, loss] pairs from the job's progress events (read after training)."""
    from core.jobs.progress import EVENTS_FILE, ProgressEvent

    path = job_dir / EVENTS_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    events = [ProgressEvent.from_line(line) for line in lines if line.strip()]
    return [[float(e.step), e.metrics["loss"]] for e in events
            if e.type == "progress" and e.metrics and "loss" in e.metrics]


def run_baseline(setup: dict[str, Any], kind: str, seq: int, batch: int) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from core.datasets import DatasetStore
    from core.workspace import Workspace

    store = DatasetStore(Workspace.open(Path(setup["workspace"])))
    tokenizer = AutoTokenizer.from_pretrained(setup["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(setup["model_dir"], dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"],
                                             lora_dropout=LORA["dropout"],
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    if kind == "equal":
        train, _ = store.load_training_data(setup["cpt"])
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    else:
        train, _ = store.load_training_data(setup["sft"])

        def encode(row: dict[str, str]) -> dict[str, list[int]]:
            prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
            answer = tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
            answer = answer + [tokenizer.eos_token_id]
            ids = (prompt + answer)[:seq]
            return {"input_ids": ids, "attention_mask": [1] * len(ids),
                    "labels": ([-100] * len(prompt) + answer)[:seq]}

        train = train.map(encode, remove_columns=train.column_names)
        collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=batch,
                             num_train_epochs=1, learning_rate=1e-4, lr_scheduler_type="cosine",
                             logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                             seed=1, disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collator)
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    loss = [[float(e["step"]), float(e["loss"])] for e in trainer.state.log_history
            if "loss" in e]
    return {"seconds": seconds, "steps": trainer.state.global_step, "loss": loss}


def real_tokens(setup: dict[str, Any], kind: str, seq: int) -> int:
    """Non-padding tokens in one epoch (the work both sides must do)."""
    from transformers import AutoTokenizer

    from core.datasets import DatasetStore
    from core.workspace import Workspace

    store = DatasetStore(Workspace.open(Path(setup["workspace"])))
    if kind == "equal":
        return sum(len(r["input_ids"]) for r in store.rows(setup["cpt"]))
    tokenizer = AutoTokenizer.from_pretrained(setup["model_dir"])
    total = 0
    for row in store.rows(setup["sft"]):
        n = len(tokenizer(row["prompt"] + row["completion"], add_special_tokens=False)
                ["input_ids"]) + 1
        total += min(n, seq)
    return total


def child(argv: list[str]) -> None:
    setup = json.loads(argv[0])
    variant, kind, seq, batch = argv[1], argv[2], int(argv[3]), int(argv[4])
    if variant == "ours":
        result = run_ours(setup, "cpt" if kind == "equal" else "sft", seq, batch)
    else:
        result = run_baseline(setup, kind, seq, batch)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def measure(setup: dict[str, Any], variant: str, kind: str, seq: int, batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(setup), variant, kind, str(seq),
         str(batch)], capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"{variant}/{kind} failed")
    return json.loads(line.removeprefix("RESULT "))


def case_figures(kind: str, ours: dict, base: dict) -> list[dict[str, Any]]:
    return [
        figure(f"{kind}: tokens/s", ours["tps"], base["tps"], "tok/s", "higher",
               "baseline: plain transformers + peft Trainer", target=TARGET_TPS.get(kind)),
        figure(f"{kind}: wall time", ours["seconds"], base["seconds"], "s", "lower"),
        figure(f"{kind}: peak RSS", ours["peak_rss_mb"], base["peak_rss_mb"], "MB", "lower",
               target=TARGET_RSS),
    ]


def write_json(path: Path | None, settings: dict[str, Any],
               cases: dict[str, dict[str, dict]]) -> None:
    """The machine-readable result (``--json``): figures and loss curves per case."""
    figures = []
    curves: dict[str, dict[str, list]] = {}
    for kind, results in cases.items():
        figures += case_figures(kind, results["ours"], results["baseline"])
        runs = {variant: results[variant].get("loss") for variant in ("baseline", "ours")}
        if all(runs.values()):
            curves[kind] = runs
    raw = {"settings": settings,
           "cases": {kind: {variant: {k: v for k, v in result.items() if k != "loss"}
                            for variant, result in results.items()}
                     for kind, results in cases.items()}}
    write_result(path, "training", "Training: our CPT/SFT jobs vs a plain Trainer", figures,
                 series={"loss_curves": curves} if curves else {}, raw=raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="use the bundled Gemma 3 270M")
    parser.add_argument("--seq", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--rows", type=int, default=None, help="equal-length sequences")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each variant, interleaved; the fastest counts")
    parser.add_argument("--cases", default="equal,variable",
                        help="which cases to run (comma-separated: equal, variable)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    seq = args.seq or 128
    batch = args.batch or (4 if args.real else 8)
    rows = args.rows or (32 if args.real else 192)
    cases: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        setup = prepare(Path(tmp), args.real, seq, rows)
        print(f"model: {'Gemma 3 270M' if args.real else 'tiny Gemma 3'}, LoRA r={LORA['r']} "
              f"all-linear, seq {seq}, batch {batch}, 1 epoch, CPU threads "
              f"{os.cpu_count()}")
        print(f"{'case':10} {'variant':9} {'steps':>5} {'seconds':>8} {'tokens/s':>9} "
              f"{'peak RSS MB':>11}")
        for kind in [c.strip() for c in args.cases.split(",") if c.strip()]:
            tokens = real_tokens(setup, kind, seq)
            runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
            for round_ in range(args.repeats):  # interleaved, so load changes hit both
                order = ("baseline", "ours") if round_ % 2 == 0 else ("ours", "baseline")
                for variant in order:
                    runs[variant].append(measure(setup, variant, kind, seq, batch))
            results = {}
            for variant in ("baseline", "ours"):
                best = min(runs[variant], key=lambda r: r["seconds"])
                best["tps"] = tokens / best["seconds"]
                best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs[variant])
                results[variant] = best
                print(f"{kind:10} {variant:9} {int(best['steps']):5d} {best['seconds']:8.2f} "
                      f"{best['tps']:9.0f} {best['peak_rss_mb']:11.0f}")
            ours, base = results["ours"], results["baseline"]
            print(f"{kind:10} ratio ours/baseline: tokens/s ×{ours['tps'] / base['tps']:.2f}, "
                  f"peak RSS ×{ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}")
            cases[kind] = results
    settings = {"model": "Gemma 3 270M" if args.real else "tiny Gemma 3", "lora": LORA,
                "seq": seq, "batch": batch, "rows": rows, "repeats": args.repeats,
                "cpu_count": os.cpu_count()}
    write_json(args.json, settings, cases)

if __name__ == "__main__":
    main()
