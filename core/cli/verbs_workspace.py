"""CLI verbs: init, settings, status, audit."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from core.cli.common import add_common, open_workspace, run_job, workspace_path
from core.cli.output import print_json
from core.errors import ConfigError, validation_message
from core.settings import Settings, load_settings, save_settings
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="create a workspace (and import the bundled base model)")
    add_common(init)
    init.add_argument("path", nargs="?", help="folder for the new workspace (or use --workspace)")
    init.add_argument("--name", help="display name (default: the folder name)")
    init.add_argument("--no-base-model", action="store_true",
                      help="do not import the bundled Gemma 3 270M base model now")
    init.set_defaults(handler=cmd_init)

    settings = sub.add_parser("settings", help="show or change user settings")
    add_common(settings)
    settings.add_argument("assignments", nargs="*", metavar="KEY=VALUE",
                          help="e.g. threads=2 device=cpu")
    settings.set_defaults(handler=cmd_settings)

    status = sub.add_parser("status", help="where the workspace stands, stage by stage "
                            "(documents → knowledge base → training → export → release → "
                            "drafting), and the next step")
    add_common(status)
    status.set_defaults(handler=cmd_status)

    audit = sub.add_parser("audit", help="check the workspace's audit log: its hash chain and "
                           "its signed anchor (exit status 1: it was altered; the log then "
                           "takes no entry until acknowledged)")
    audit.add_argument("action", choices=("verify", "acknowledge"),
                       help="verify: check it; acknowledge: record that you have seen an "
                            "alteration, so that work can go on")
    add_common(audit)
    audit.set_defaults(handler=cmd_audit)


def cmd_init(args: argparse.Namespace) -> int:
    if args.path:
        args.workspace = args.path
    workspace = Workspace.create(workspace_path(args), args.name)
    result: dict[str, Any] = {"workspace": str(workspace.root), "name": workspace.name}
    if not args.no_base_model:
        status = run_job(workspace, "import-base-model", {}, as_json=args.json)
        result["base_model"] = status.result.get("model_id")
    open_workspace(args)  # remember it as recent
    if args.json:
        print_json(result)
    else:
        print(f"created workspace {workspace.name!r} at {workspace.root}")
        if result.get("base_model"):
            record = ModelRegistry(workspace).get(result["base_model"])
            print(f"base model: {record.describe()}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.assignments:
        updates: dict[str, Any] = {}
        for item in args.assignments:
            key, sep, value = item.partition("=")
            if not sep or key not in Settings.model_fields:
                known = ", ".join(k for k in Settings.model_fields if k != "recent_workspaces")
                raise ConfigError(f"{item!r} is not KEY=VALUE with a known key ({known}).")
            updates[key] = value
        try:
            settings = Settings.model_validate({**settings.model_dump(), **updates})
        except ValidationError as error:  # one line per the CLI's error contract
            raise ConfigError(validation_message(error, "setting")) from error
        save_settings(settings)
    data = settings.model_dump(mode="json")
    if args.json:
        print_json(data)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import getpass

    workspace = open_workspace(args)
    if args.action == "acknowledge":
        check = workspace.audit.acknowledge(by=getpass.getuser())
        print(f"acknowledged; the audit log records it and takes entries again "
              f"({check.note or 'intact'})")
        return 0
    check = workspace.audit.check()
    if args.json:
        print_json({"ok": check.ok, "entries": check.entries, "anchored": check.anchored,
                     "first_bad_line": check.first_bad_line, "reason": check.reason,
                     "note": check.note, "path": str(workspace.audit.path)})
    elif check.ok:
        print(f"the audit log is intact: {check.entries} entries"
              + (", anchored" if check.anchored else ""))
        if check.note:
            print(f"note: {check.note}")
    else:
        print(f"the audit log was altered at line {check.first_bad_line}: {check.reason} "
              f"({check.entries} entries before it are intact; {workspace.audit.path})\n"
              "nothing more is recorded in this workspace until someone who has looked into "
              f"it runs: scriptorium audit acknowledge -w {workspace.root}")
    return 0 if check.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from core.overview import workspace_overview

    overview = workspace_overview(open_workspace(args))
    upcoming = overview.next_stage
    if args.json:
        print_json({"stages": [vars(s) | {"needs_work": s.needs_work}
                               for s in overview.stages],
                    "next": upcoming.key if upcoming else None})
        return 0
    marks = {"done": "✓", "todo": "→", "attention": "!", "optional": "·"}
    for stage in overview.stages:
        print(f"{marks[stage.state]} {stage.title:<17} {stage.summary}")
    print("\nnext: " + (f"{upcoming.title}: `{upcoming.command}`" if upcoming
                        else "nothing to do; every stage is done"))
    return 0
