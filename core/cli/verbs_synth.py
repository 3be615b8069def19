"""CLI of generated instruction pairs: ``dataset synth`` (the job) and ``datasets
synthetic`` / ``datasets review`` (the review queue). Registered by ``verbs_dataset``."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.common import open_workspace, run_job
from core.cli.output import print_json, table
from core.datasets.model import DatasetError


def add_synth_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("synth (generate pairs with a local teacher model)")
    group.add_argument("--teacher", help="registered GGUF model, .gguf path or endpoint:NAME "
                       "(default: the deployed release)")
    group.add_argument("--documents", help="comma-separated document ids (default: all prose)")
    group.add_argument("--tasks", help="comma-separated: qa, section, rewrite (default "
                       "qa,section)")
    group.add_argument("--per-chunk", type=int, help="question/answer pairs per passage")
    group.add_argument("--limit", type=int, help="passage×task items in this run")


def add_review_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("synthetic, review (generated pairs)")
    group.add_argument("--state", choices=["pending", "accepted", "edited", "rejected"],
                       help="synthetic BATCH: only pairs in this state")
    group.add_argument("--accept", metavar="PAIR", help="review BATCH: accept this pair")
    group.add_argument("--reject", metavar="PAIR", help="review BATCH: reject this pair")
    group.add_argument("--edit", metavar="PAIR", help="review BATCH: replace this pair's "
                       "text (--instruction, --response) and accept it")
    group.add_argument("--accept-all", action="store_true",
                       help="review BATCH: accept every pending pair that matches "
                       "--task/--contains")
    group.add_argument("--task", help="--accept-all: only pairs of this task")
    group.add_argument("--contains", help="--accept-all: only pairs containing this text")


def synth_config(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    """The job config from the options and ``--set`` values (filter thresholds too)."""
    from core.synth.grounding import FilterSettings

    raw: dict[str, Any] = {}
    for key in ("teacher", "documents", "tasks", "per_chunk", "limit"):
        value = getattr(args, key, None)
        if value is not None:
            raw[key] = value
    filters = {k: v for k, v in overrides.items() if k in FilterSettings.model_fields}
    raw.update({k: v for k, v in overrides.items() if k not in filters and k != "kind"})
    if filters:
        raw["filters"] = filters
    return raw


def cmd_synth(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from core.jobs.kinds import validate_config

    workspace = open_workspace(args)
    config = validate_config("synthesize-pairs", synth_config(args, overrides))
    status = run_job(workspace, "synthesize-pairs", config, as_json=args.json,
                     title="generate instruction pairs")
    result = status.result
    if args.json:
        print_json({"job": status.id, **result})
        return 0
    filtered = ", ".join(f"{k} {v}" for k, v in result["filtered"].items() if v) or "none"
    print(f"batch {result['batch']} (teacher {result['teacher']}, {result['format']} "
          f"prompts): {result['items']} passage×task items, {result['generated']} pairs "
          f"generated, {result['kept']} kept for review; filtered: {filtered}")
    if result["items_left"]:
        print(f"{result['items_left']} items left: run the same command again to go on")
    print(f"review them: scriptorium datasets synthetic {result['batch']}")
    return 0


def _batches(workspace: Any, as_json: bool) -> int:
    from core.datasets.synthetic import list_batches

    batches = list_batches(workspace)
    if as_json:
        print_json(batches)
    elif not batches:
        print("no generated pairs yet (make some: `scriptorium dataset synth`)")
    else:
        print(table([[b["id"], b.get("teacher", "-"), ",".join(b.get("tasks", [])),
                      b["states"]["pending"], b["states"]["accepted"] + b["states"]["edited"],
                      b["states"]["rejected"], b["filtered"], b.get("created", "")]
                     for b in batches],
                    ["batch", "teacher", "tasks", "pending", "accepted", "rejected",
                     "filtered", "created"]))
    return 0


def cmd_synthetic(args: argparse.Namespace) -> int:
    """``datasets synthetic [BATCH]``: the batches, or one batch's pairs."""
    from core.datasets.synthetic import pairs, read_batch

    workspace = open_workspace(args)
    if not args.dataset:
        return _batches(workspace, args.json)
    read_batch(workspace, args.dataset)
    chosen = [p for p in pairs(workspace, args.dataset)
              if args.state is None or p.state == args.state]
    if args.json:
        print_json([p.model_dump(mode="json") for p in chosen])
        return 0
    for pair in chosen:
        print(f"{pair.id} [{pair.task}, {pair.state}] from {pair.where}\n"
              f"  instruction: {pair.instruction[:300]}\n  response:    {pair.response[:300]}")
    if not chosen:
        print("no pairs" + (f" in state {args.state}" if args.state else ""))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """``datasets review BATCH --accept|--reject|--edit PAIR | --accept-all``."""
    from core.datasets.synthetic import accept_remaining, read_batch, review

    workspace = open_workspace(args)
    if not args.dataset:
        raise DatasetError("`scriptorium datasets review` needs a batch id.",
                           hint="list them with `scriptorium datasets synthetic`")
    read_batch(workspace, args.dataset)
    chosen = [flag for flag in ("accept", "reject", "edit") if getattr(args, flag)]
    if args.accept_all == bool(chosen) or len(chosen) > 1:
        raise DatasetError("Give one of --accept PAIR, --reject PAIR, --edit PAIR or "
                           "--accept-all.")
    if args.accept_all:
        accepted = accept_remaining(workspace, args.dataset, task=args.task,
                                    contains=args.contains)
        print_json({"accepted": accepted}) if args.json else print(
            f"accepted {len(accepted)} pair(s)")
        return 0
    flag = chosen[0]
    decision = {"accept": "accepted", "reject": "rejected", "edit": "edited"}[flag]
    pair = review(workspace, args.dataset, getattr(args, flag), decision,  # type: ignore[arg-type]
                  instruction=args.instruction, response=args.response)
    print_json(pair.model_dump(mode="json")) if args.json else print(f"{pair.id}: {pair.state}")
    return 0
