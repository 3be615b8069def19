"""CLI verb: demo — the headless walk through what the product can do on the sample."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from core.cli.common import add_common, run_job
from core.cli.output import print_json
from core.fsutil import atomic_write_json
from core.models.bundled import BASE_MODEL_ID
from core.settings import load_settings
from core.workspace.registry import ModelRegistry
from core.workspace.sample import open_or_create_sample, sample_workspace_path


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="run the pipeline headless on the bundled sample workspace and model"
    )
    add_common(demo)
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.workspace).expanduser() if args.workspace else sample_workspace_path(load_settings())
    workspace, created = open_or_create_sample(root)
    stages: list[dict[str, Any]] = []

    started = time.monotonic()
    status = run_job(workspace, "import-base-model", {}, as_json=args.json)
    stages.append({"stage": "base model", "seconds": round(time.monotonic() - started, 1),
                   "result": status.result})

    started = time.monotonic()
    status = run_job(workspace, "populate-sample", {}, as_json=args.json)
    stages.append({"stage": "import", "seconds": round(time.monotonic() - started, 1),
                   "result": status.result.get("counts", {})})

    record = ModelRegistry(workspace).get(BASE_MODEL_ID)
    summary = {
        "workspace": str(workspace.root),
        "created": created,
        "base_model": record.describe(),
        "stages": stages,
    }
    atomic_write_json(workspace.root / "demo-summary.json", summary)
    if args.json:
        print_json(summary)
    else:
        print(f"workspace: {workspace.root}{' (new)' if created else ''}")
        print(f"base model: {record.describe()}")
        for stage in stages:
            print(f"  {stage['stage']:<12} {stage['seconds']:>7.1f} s")
        print(f"summary written to {workspace.root / 'demo-summary.json'}")
    return 0
