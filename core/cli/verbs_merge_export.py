"""CLI verbs: merge (mergekit methods as a job) and export (GGUF + quantization as a job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.errors import ConfigError
from core.export.config import QUANTS, parse_export_config
from core.formatting import format_size
from core.fsutil import read_yaml
from core.merging.config import METHODS, MergeConfig, merge_yaml, parse_merge_config


def register(sub: argparse._SubParsersAction) -> None:
    merge = sub.add_parser(
        "merge", help="merge models (linear, slerp, ties, dare_ties, task_arithmetic)",
        description="Merge models of one architecture and size. Give a YAML config (ours or "
        "mergekit-style, models named by registry id) or --method and --models.")
    add_common(merge)
    merge.add_argument("config", nargs="?", metavar="CONFIG.yaml", help="merge config file")
    merge.add_argument("--method", choices=[*METHODS, "dare-ties", "task-arithmetic"])
    merge.add_argument("--models", nargs="+", metavar="ID", help="models to merge")
    merge.add_argument("--base", metavar="ID",
                       help="base model (TIES, DARE-TIES, task arithmetic; default: the "
                       "models' common parent)")
    merge.add_argument("--weights", nargs="+", type=float, metavar="W",
                       help="one weight per model")
    merge.add_argument("--density", nargs="+", type=float, metavar="D",
                       help="fraction kept (TIES, DARE-TIES): one value, or one per model")
    merge.add_argument("--t", type=float, help="SLERP: 0 = first model, 1 = second")
    merge.add_argument("--name", help="display name of the merged model")
    merge.add_argument("--id", dest="model_id", help="id of the merged model")
    merge.add_argument("--seed", type=int, help="random seed (DARE)")
    merge.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                       help="dtype of the merge and its output (default: the one the base's "
                       "weights are stored in)")
    merge.add_argument("--dry-run", action="store_true",
                       help="print the mergekit YAML and the compatibility report only")
    merge.set_defaults(handler=cmd_merge)

    export = sub.add_parser("export", help="export a model to GGUF and quantize it")
    add_common(export)
    export.add_argument("model", help="model id (base, merged or adapter)")
    export.add_argument("--quant", action="append", choices=QUANTS, metavar="TYPE",
                        help=f"output type, repeatable ({', '.join(QUANTS)}; default q8_0 for a "
                        "model under 1B parameters, else q4_k_m)")
    export.add_argument("--name", help="general.name written in the GGUF")
    export.add_argument("--pre-tokenizer", help="llama.cpp pre-tokenizer name for a tokenizer "
                        "the converter does not recognise (e.g. gpt-2)")
    export.add_argument("--heldout", metavar="FILE", help="text file for the perplexity check")
    export.add_argument("--eval-tokens", type=int, help="held-out tokens to score")
    export.add_argument("--gain-tokens", type=int,
                        help="held-out tokens of the workspace's CPT data scored base vs tuned "
                        "at f16 and each quant (default 1024: about 23 s a model for the "
                        "270M on 2 cores; 0: no adaptation check). The command exits 1 when "
                        "no file of a requested type keeps 80%% of the fine-tune's gain")
    export.add_argument("--no-fallback", action="store_true",
                        help="do not also export Q8_0 when a requested type loses the gain")
    export.set_defaults(handler=cmd_export)


def build_merge_config(args: argparse.Namespace) -> MergeConfig:
    """The merge config from a YAML file and/or the flags (flags win)."""
    raw: dict[str, Any] = {}
    if args.config:
        loaded = read_yaml(Path(args.config).expanduser())
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.config} does not hold a merge config mapping.")
        raw = dict(loaded)
        if "merge_method" in raw:
            raw = parse_merge_config(raw).model_dump(exclude_none=True)
    if args.method:
        raw["method"] = args.method
    if args.models:
        count = len(args.models)
        for flag, values in (("--weights", args.weights), ("--density", args.density)):
            if values and len(values) not in (1, count):
                raise ConfigError(f"{flag} takes one value or one per model ({count}).")
        models = []
        for index, model in enumerate(args.models):
            entry: dict[str, Any] = {"model": model}
            if args.weights:
                entry["weight"] = args.weights[index if len(args.weights) > 1 else 0]
            if args.density:
                entry["density"] = args.density[index if len(args.density) > 1 else 0]
            models.append(entry)
        raw["models"] = models
    elif args.weights or args.density:
        raise ConfigError("--weights and --density go with --models.")
    for key in ("base", "t", "name", "model_id", "seed", "dtype"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if "method" not in raw or not raw.get("models"):
        raise ConfigError("Give a merge config file, or --method and --models.")
    return parse_merge_config(raw)


def cmd_merge(args: argparse.Namespace) -> int:
    from core.merging.plan import compatibility_report, resolve_models

    workspace = open_workspace(args)
    config = build_merge_config(args)
    if args.dry_run:
        _, base = resolve_models(workspace, config)
        text = merge_yaml(config, base=base.id if base else None)
        problems = compatibility_report(workspace, config)
        if args.json:
            print_json({"config": config.to_yaml_dict(), "mergekit_yaml": text,
                        "base": base.id if base else None, "compatible": not problems,
                        "problems": problems})
        else:
            print(text.rstrip())
            print()
            print("compatibility: " + ("ok" if not problems else
                                       "NOT compatible\n  - " + "\n  - ".join(problems)))
        return 1 if problems else 0
    status = run_job(workspace, "merge", config, as_json=args.json,
                     title=f"merge {config.method}: {', '.join(m.model for m in config.models)}")
    result = status.result
    if args.json:
        print_json({"job": status.id, **result})
    else:
        print(f"registered {result['model_id']} ({result['method']}, parents: "
              f"{', '.join(result['parents'])})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    raw: dict[str, Any] = {"model": args.model, "quants": args.quant or []}
    for key, value in (("name", args.name), ("pre_tokenizer", args.pre_tokenizer),
                       ("heldout_file", args.heldout), ("eval_tokens", args.eval_tokens),
                       ("gain_tokens", args.gain_tokens)):
        if value is not None:
            raw[key] = str(Path(value).expanduser().absolute()) if key == "heldout_file" \
                else value
    if args.no_fallback:
        raw["fallback_quants"] = []
    config = parse_export_config(raw)
    status = run_job(workspace, "export", config, as_json=args.json,
                     title=f"export {config.model} to {', '.join(config.quants)}")
    result = status.result
    usable = result.get("usable", True)
    if args.json:
        print_json({"job": status.id, **result})
        return 0 if usable else 1
    rows = [[o["model_id"], o["label"], format_size(o["size_bytes"]),
             f"{o['perplexity']:.2f}", f"{o['perplexity_ratio']:.4f}",
             "-" if o.get("gain_kept") is None else f"{o['gain_kept']:.0%}",
             "yes" if o.get("verified", True) else "NO",
             f"{o['tokens_per_s']:.0f}"] for o in result["outputs"]]
    print(table(rows, ["id", "type", "size", "perplexity", "vs f16", "gain kept", "verified",
                       "tok/s"]))
    print(f"f16 perplexity {result['f16_perplexity']:.2f} on {result['tokens_scored']} "
          "tokens of the built-in passage")
    adaptation = result.get("adaptation") or {}
    if adaptation.get("checked"):
        print(f"adaptation check: base {adaptation['base_model']} vs tuned on "
              f"{adaptation['tokens']} held-out tokens of {', '.join(adaptation['datasets'])} "
              f"({adaptation['windows']} windows of {adaptation['window']})")
        for output in result["outputs"]:
            print(f"  {output['verification']}")
    else:
        print(f"adaptation check: not run ({adaptation.get('reason', 'unknown')})")
    for warning in result.get("warnings", []):
        print(f"NOT VERIFIED: {warning}", file=sys.stderr)
    by_id = {o["model_id"]: o for o in result["outputs"]}
    for quant, model_id in (result.get("recommended") or {}).items():
        if by_id[model_id]["quant"] != quant:
            print(f"use {model_id} ({by_id[model_id]['label']}, keeps the adaptation) in place "
                  f"of the {quant} file")
    return 0 if usable else 1
