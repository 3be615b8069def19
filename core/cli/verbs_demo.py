"""CLI verb: demo — every stage of the product on the bundled sample, headless."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from core.cli.common import add_common, run_job
from core.cli.output import print_json
from core.demo.pipeline import SUMMARY_FILE, DemoConfig, summary_lines
from core.ingest.sample import open_or_create_sample, sample_workspace_path
from core.settings import load_settings

SIZES = ("cpt_steps", "sft_steps", "dpo_steps", "seq_len", "draft_tokens")


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="run every stage headless on the bundled sample workspace and model: "
        "import, index, CPT, SFT, DPO, merge, export, perplexity, draft, adaptation check",
    )
    add_common(demo)
    defaults = DemoConfig()
    for name in SIZES:
        demo.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                          help=f"(default {getattr(defaults, name)})")
    demo.add_argument("--merge-method", choices=["ties", "linear", "dare_ties",
                                                 "task_arithmetic"], default=None)
    demo.add_argument("--summary", type=Path, default=None,
                      help="also copy the JSON summary to this file")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    root = (Path(args.workspace).expanduser() if args.workspace
            else sample_workspace_path(load_settings()))
    workspace, created = open_or_create_sample(root)
    values = {name: getattr(args, name) for name in SIZES if getattr(args, name) is not None}
    if args.merge_method:
        values["merge_method"] = args.merge_method
    config = DemoConfig(**values)
    status = run_job(workspace, "demo", config, as_json=args.json, title="Guided demo")
    summary = status.result
    summary["created"] = created
    if args.summary:
        shutil.copyfile(workspace.root / SUMMARY_FILE, args.summary)
    if args.json:
        print_json(summary)
    else:
        for line in summary_lines(summary):
            print(line)
        print(f"summary written to {workspace.root / SUMMARY_FILE}")
    return 0
