"""CLI verb: models (the registry with lineage)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.errors import ModelError
from core.formatting import format_size
from core.workspace.registry import ModelRecord, ModelRegistry


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="the model registry, with lineage")
    add_common(models)
    models.add_argument(
        "action", nargs="?", default="list",
        choices=["list", "show", "lineage", "verify", "remove", "import-base", "check"],
    )
    models.add_argument("model", nargs="?", help="model id (for show, lineage, verify, "
                        "remove); for import-base and check: a Hugging Face model folder or "
                        "a .gguf file (import-base with none: the bundled Gemma 3 270M)")
    models.add_argument("--force", action="store_true", help="remove even with descendants")
    models.add_argument("--id", dest="model_id", help="import-base: the new model's id")
    models.add_argument("--name", help="import-base: the new model's display name")
    models.set_defaults(handler=cmd_models)


def _row(record: ModelRecord) -> list[str]:
    return [
        record.id, record.kind, record.architecture, f"{record.parameters / 1e6:.0f}M",
        format_size(record.size_bytes), ", ".join(record.parents) or "-", record.created,
    ]


def tree_lines(records: list[ModelRecord]) -> list[str]:
    """The registry as a forest: each model under its first parent."""
    ids = {r.id for r in records}
    children: dict[str, list[ModelRecord]] = {}
    roots = []
    for record in records:
        parent = next((p for p in record.parents if p in ids), None)
        if parent is None:
            roots.append(record)
        else:
            children.setdefault(parent, []).append(record)
    lines: list[str] = []

    def walk(record: ModelRecord, depth: int) -> None:
        extra = [p for p in record.parents[1:]]
        also = f"  (+ {', '.join(extra)})" if extra else ""
        lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{record.id} [{record.kind}]{also}")
        for child in children.get(record.id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


def _check(args: argparse.Namespace) -> int:
    """``models check PATH``: what a folder or GGUF file can go through, before importing."""
    from core.modelstore.check import inspect_base

    if not args.model:
        raise ModelError("Name a model folder or a .gguf file to check.",
                         hint="scriptorium models check /media/usb/Qwen2.5-1.5B")
    check = inspect_base(Path(args.model))
    if args.json and args.action == "check":
        print_json({"ok": check.ok, "lines": check.lines(), "refusals": list(check.refusals),
                    "support": {s.stage: {"ok": s.ok, "detail": s.detail}
                                for s in check.support}})
    else:
        print("\n".join(check.lines()))
    return 0 if check.ok else 1


def cmd_models(args: argparse.Namespace) -> int:
    if args.action == "check":  # no workspace needed
        return _check(args)
    workspace = open_workspace(args)
    registry = ModelRegistry(workspace)
    action = args.action
    if action == "import-base":
        if args.model:
            path = Path(args.model)
            if not path.exists():  # said at once; every other check is the job's
                raise ModelError(f"{path} does not exist.")
            config = {"path": str(path.absolute()), "model_id": args.model_id,
                      "name": args.name}
            status = run_job(workspace, "import-model", config, as_json=args.json)
            if not args.json:
                print("\n".join(status.result.get("check", [])))
        else:
            status = run_job(workspace, "import-base-model", {}, as_json=args.json)
        args.model, action = status.result.get("model_id"), "show"
    if action == "list":
        records = registry.list()
        if args.json:
            print_json([r.model_dump(mode="json") for r in records])
        elif not records:
            print("no models yet (import the bundled base model: `scriptorium models import-base`)")
        else:
            headers = ["id", "kind", "architecture", "params", "size", "parents", "created"]
            print(table([_row(r) for r in records], headers))
            print()
            print("\n".join(tree_lines(records)))
        return 0
    if not args.model:
        raise ModelError(f"`scriptorium models {action}` needs a model id.")
    if action == "show":
        record = registry.get(args.model)
        if args.json:
            print_json(record.model_dump(mode="json"))
        else:
            for key, value in record.model_dump(mode="json").items():
                if key != "files":
                    print(f"{key}: {value}")
            print(f"files: {len(record.files)} ({format_size(record.size_bytes)})")
    elif action == "lineage":
        chain = registry.lineage(args.model)
        if args.json:
            print_json([r.model_dump(mode="json") for r in chain])
        else:
            for depth, record in enumerate(chain):
                print(f"{'  ' * depth}{record.describe()}")
    elif action == "verify":
        bad = registry.verify(args.model)
        if args.json:
            print_json({"model": args.model, "ok": not bad, "bad_files": bad})
        elif bad:
            print(f"{args.model}: {len(bad)} file(s) missing or altered: {', '.join(bad)}")
        else:
            print(f"{args.model}: all files match their checksums")
        return 1 if bad else 0
    elif action == "remove":
        registry.remove(args.model, force=args.force)
        if args.json:
            print_json({"removed": args.model})
        else:
            print(f"removed {args.model}")
    return 0
