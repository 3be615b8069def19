"""CLI verbs: train (LoRA recipes as jobs) and eval (held-out perplexity)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.errors import ConfigError
from core.jobs.store import JobStore

if TYPE_CHECKING:
    from core.training.config import TrainConfig
    from core.workspace import Workspace

RECIPES = ("cpt", "sft", "dpo", "orpo")


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fine-tune a model with LoRA (CPT, SFT, DPO, ORPO)")
    add_common(train)
    train.add_argument("--recipe", choices=RECIPES, help="required unless --resume is given")
    train.add_argument("--base", help="base model id, model folder or .gguf file")
    train.add_argument("--dataset", help="dataset id")
    train.add_argument("--init-adapter", help="adapter to continue from (e.g. the CPT stage)")
    train.add_argument("--preset", help="quick, balanced or thorough")
    train.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a config value (repeatable)")
    train.add_argument("--nproc", type=int, metavar="N",
                       help="training processes (torchrun): one per GPU; default: every "
                       "visible GPU, or 1 on CPU")
    train.add_argument("--strategy", choices=("auto", "ddp", "fsdp"),
                       help="with several processes: ddp (default) or fsdp (sharded)")
    train.add_argument("--resume", metavar="RUN",
                       help="continue a stopped run from its last complete checkpoint "
                       "(its saved config is reused; arguments given here override it)")
    train.add_argument("--probe", action="store_true",
                       help="measure a few real steps of this config on this machine (time "
                       "per step, peak memory) and print the estimate; trains nothing")
    train.add_argument("--dry-run", action="store_true",
                       help="validate and print the config and estimate; do not train")
    train.set_defaults(handler=cmd_train)

    evaluate = sub.add_parser("eval", help="held-out perplexity of a registered model")
    add_common(evaluate)
    evaluate.add_argument("model", help="model id (base, adapter or merged)")
    evaluate.add_argument("--dataset", help="dataset id (default: the model's own)")
    evaluate.add_argument("--max-length", type=int, default=512)
    evaluate.add_argument("--limit", type=int, default=256, help="held-out rows to score")
    evaluate.set_defaults(handler=cmd_eval)


def cmd_train(args: argparse.Namespace) -> int:
    from core.training.config import build_config
    from core.training.lengths import planned_steps, resolve_max_length

    workspace = open_workspace(args)
    extra: dict[str, object] = {}
    recipe = args.recipe
    if args.resume:
        kind, previous = JobStore(workspace).config(args.resume)
        if kind != "train":
            raise ConfigError(f"--resume: run {args.resume} is a {kind} job, not a training run.")
        if recipe and recipe != previous.get("recipe"):
            raise ConfigError(f"--resume: run {args.resume} used the {previous.get('recipe')} "
                              f"recipe, not {recipe}.")
        recipe = str(previous.get("recipe"))
        extra.update({k: v for k, v in previous.items() if k not in ("base", "dataset")})
        extra["resume"] = args.resume
        args.base = args.base or previous.get("base")
        args.dataset = args.dataset or previous.get("dataset")
    if not recipe:
        raise ConfigError("Pass --recipe cpt|sft|dpo|orpo (or --resume RUN).")
    if args.init_adapter:
        extra["init_adapter"] = args.init_adapter
    if args.nproc is not None:
        extra["nproc"] = args.nproc
    if args.strategy:
        extra["strategy"] = args.strategy
    config = build_config(recipe, preset=args.preset, base=args.base,
                          dataset=args.dataset, overrides=args.overrides, extra=extra)
    config, length_note = resolve_max_length(config, workspace)
    if length_note and not args.json:
        print(length_note)
    if args.probe:
        return _probe(workspace, config, args.json)
    if args.dry_run:
        from core.system.hardware import detect_hardware
        from core.training.distributed import describe_plan
        from core.training.estimate import estimate, model_shape

        hardware = detect_hardware()
        guess = estimate(config, hardware, model_shape(workspace, config.base),
                         total_steps=planned_steps(config, workspace))
        plan = describe_plan(config, len(hardware.gpus))
        payload = {"config": config.to_yaml_dict(), "estimate": guess.__dict__,
                   "processes": plan, "lengths": length_note}
        if args.json:
            print_json(payload)
        else:
            for key, value in config.to_yaml_dict().items():
                print(f"{key}: {value}")
            print(f"estimate: {guess.plan()}, {guess.steps} steps, "
                  f"{guess.seconds / 60:.1f} min, fits={guess.fits} {guess.warning}")
            print(f"processes: {plan}")
        return 0
    status = run_job(workspace, "train", config, as_json=args.json,
                     title=f"train {config.recipe} on {config.dataset}")
    if args.json:
        print_json({"job": status.id, **status.result})
    else:
        result = status.result
        metrics = result.get("metrics", {})
        print(f"registered {result.get('model_id')}"
              + (f" and {result['merged_id']}" if result.get("merged_id") else ""))
        print(f"held-out perplexity: {metrics.get('heldout_ppl_before', float('nan')):.2f} → "
              f"{metrics.get('heldout_ppl_after', float('nan')):.2f}  "
              f"({int(metrics.get('steps', 0))} steps, {metrics.get('seconds', 0):.0f} s)")
    return 0


def _probe(workspace: Workspace, config: TrainConfig, as_json: bool) -> int:
    """``train --probe``: a few real steps in a job process, against the formula's guess."""
    from core.system.hardware import detect_hardware
    from core.training.estimate import estimate, model_shape

    status = run_job(workspace, "probe-training", {"train": config.to_yaml_dict()},
                     as_json=as_json, title=f"probe {config.recipe} on {config.base}")
    guess = estimate(config, detect_hardware(), model_shape(workspace, config.base),
                     length=status.result.get("length"))
    result = {**status.result, "formula_memory_bytes": guess.memory_bytes,
              "formula_step_s": guess.seconds_per_step}
    if as_json:
        print_json(result)
    else:
        print("measured: " + result["summary"])
        print(f"formula (no measurement): {guess.seconds_per_step:.2f} s a step, "
              f"{guess.memory_bytes / 2**30:.1f} GiB")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from core.training.evaluate import evaluate_model

    workspace = open_workspace(args)
    result = evaluate_model(workspace, args.model, args.dataset, args.max_length, args.limit)
    if args.json:
        print_json(result)
    else:
        print(table([[result["model"], result["dataset"], result["split"], result["tokens"],
                      f"{result['loss']:.4f}", f"{result['perplexity']:.2f}"]],
                    ["model", "dataset", "split", "tokens", "loss", "perplexity"]))
    return 0
