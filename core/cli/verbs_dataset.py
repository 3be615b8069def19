"""CLI verbs: dataset (build a CPT, SFT or prefs dataset as a job; ``synth``: generate
pairs) and datasets (list, show, remove; user-written pairs; generated pairs and their
review, in ``verbs_synth``)."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.cli.verbs_synth import (
    add_review_options,
    add_synth_options,
    cmd_review,
    cmd_synth,
    cmd_synthetic,
)
from core.datasets.model import DATASET_KINDS, DatasetError, DatasetRecord, built_note
from core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser("dataset", help="build a training dataset (cpt, sft or prefs), or "
                           "generate instruction pairs from documents (synth)")
    add_common(build)
    build.add_argument("kind", choices=(*DATASET_KINDS, "synth"))
    build.add_argument("--model", help="model whose tokenizer is used (default gemma3-270m)")
    build.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="seq_len, heldout_fraction, seed, document_kinds, match_threshold, "
                            "grounded (sft, prefs: sources in each prompt, as drafting shows them; "
                            "default true), source_tokens (default 256), reuse (repeatable)")
    build.add_argument("--force", action="store_true",
                       help="build a new version even if nothing changed")
    add_synth_options(build)
    build.set_defaults(handler=cmd_dataset)

    manage = sub.add_parser("datasets", help="the workspace's datasets and user-written pairs")
    add_common(manage)
    manage.add_argument("action", nargs="?", default="list",
                        choices=["list", "show", "remove", "pairs", "add-pair", "synthetic",
                                 "review"])
    manage.add_argument("dataset", nargs="?", help="dataset id (for show, remove) or batch of "
                        "generated pairs (for synthetic, review)")
    manage.add_argument("--instruction", help="add-pair: the instruction")
    manage.add_argument("--response", help="add-pair: the response")
    add_review_options(manage)
    manage.set_defaults(handler=cmd_datasets)


def build_config_dict(kind: str, model: str | None, overrides: list[str],
                      force: bool = False) -> dict[str, Any]:
    """``kind`` + ``--model`` + ``--set`` values (YAML scalars) as a raw config."""
    raw: dict[str, Any] = {"kind": kind}
    bad = []
    for pair in overrides:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            bad.append(f"--set {pair!r}: expected key=value")
            continue
        try:
            raw[key.strip()] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            raw[key.strip()] = text
    if bad:
        raise ConfigError("; ".join(bad) + ".")
    if model:
        raw["model"] = model
    if force:
        raw["reuse"] = False
    return raw


def _row(record: DatasetRecord) -> list[Any]:
    s = record.summary
    return [record.id, record.kind, record.version, len(record.documents), s.get("train", 0),
            s.get("heldout", 0), s.get("tokens", "-"), record.model, record.created]


def cmd_dataset(args: argparse.Namespace) -> int:
    from core.jobs.kinds import validate_config

    if args.kind == "synth":
        raw = build_config_dict("synth", None, args.overrides)
        return cmd_synth(args, raw)
    workspace = open_workspace(args)
    config = validate_config("build-dataset", build_config_dict(
        args.kind, args.model, args.overrides, args.force))
    status = run_job(workspace, "build-dataset", config, as_json=args.json,
                     title=f"build {args.kind} dataset")
    result = status.result
    if args.json:
        print_json({"job": status.id, **result})
        return 0
    verb = "reused" if result.get("reused") else "built"
    summary = result.get("summary", {})
    print(f"{verb} {result['dataset_id']}: {summary.get('train', 0)} train / "
          f"{summary.get('heldout', 0)} held-out rows from {result.get('documents', 0)} documents")
    if note := built_note(args.kind, summary):
        print(note)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from core.datasets import DatasetStore, add_user_pair, list_user_pairs

    if args.action == "synthetic":
        return cmd_synthetic(args)
    if args.action == "review":
        return cmd_review(args)
    workspace = open_workspace(args)
    store = DatasetStore(workspace)
    if args.action == "list":
        records = store.list()
        if args.json:
            print_json([r.model_dump(mode="json") for r in records])
        elif not records:
            print("no datasets yet (build one: `scriptorium dataset cpt|sft|prefs`)")
        else:
            print(table([_row(r) for r in records], ["id", "kind", "version", "documents",
                                                     "train", "heldout", "tokens", "model",
                                                     "created"]))
        return 0
    if args.action == "pairs":
        pairs = list_user_pairs(workspace)
        if args.json:
            print_json(pairs)
        else:
            for pair in pairs:
                print(f"{pair.get('id', '-')}: {pair['instruction'][:70]!r} → "
                      f"{pair['response'][:70]!r}")
        return 0
    if args.action == "add-pair":
        pair = add_user_pair(workspace, args.instruction or "", args.response or "")
        print_json(pair) if args.json else print(f"added pair {pair['id']}")
        return 0
    if not args.dataset:
        raise DatasetError(f"`scriptorium datasets {args.action}` needs a dataset id.")
    if args.action == "remove":
        record = store.remove(args.dataset)
        print_json({"removed": record.id}) if args.json else print(f"removed {record.id}")
        return 0
    record = store.get(args.dataset)
    if args.json:
        print_json(record.model_dump(mode="json"))
    else:
        print(record.describe())
        print(f"created {record.created} with the tokenizer of {record.model}")
        for key, value in record.summary.items():
            print(f"  {key}: {value}")
        for ref in record.documents:
            print(f"  document {ref.document_id} v{ref.version} {ref.sha256[:12]}")
    return 0
