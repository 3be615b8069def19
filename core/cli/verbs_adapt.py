"""CLI verbs of continual adaptation: ``adapt`` (what changed, is an update due) and
``release`` (list releases, promote a GGUF model, roll back)."""

from __future__ import annotations

import argparse

from core.cli.common import add_common, open_workspace
from core.cli.output import print_json, table


def register(sub: argparse._SubParsersAction) -> None:
    release = sub.add_parser("release", help="the deployed model: list, promote, roll back")
    add_common(release)
    actions = release.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every release, the deployed one marked")
    add_common(listing)
    promote = actions.add_parser("promote", help="deploy a GGUF model as a new release")
    add_common(promote)
    promote.add_argument("model", metavar="ID", help="a GGUF model of the workspace")
    promote.add_argument("--notes", help="release notes (default: written from the lineage)")
    promote.add_argument("--override", metavar="REASON",
                         help="promote although the regression gate blocks it (logged)")
    promote.add_argument("--no-gate", action="store_true",
                         help="skip the comparison with the deployed release")
    rollback = actions.add_parser("rollback", help="deploy an earlier release again")
    add_common(rollback)
    rollback.add_argument("version", nargs="?", type=int,
                          help="the release to deploy (default: the one before the deployed)")
    release.set_defaults(handler=cmd_release)

    adapt = sub.add_parser("adapt", help="what changed since the deployed release; is an "
                           "update due")
    add_common(adapt)
    adapt.add_argument("--check", action="store_true",
                       help="list the changes and say whether an update is proposed (default)")
    adapt.add_argument("--run", action="store_true",
                       help="retrain on the new data (with replay), export, and compare with "
                       "the deployed release")
    adapt.add_argument("--no-index", action="store_true",
                       help="do not index changed reference tables now")
    adapt.add_argument("--start", choices=("adapter", "base"), default="adapter",
                       help="--run: continue from the release's adapter or the base model")
    adapt.add_argument("--stages", help="--run: e.g. cpt,sft (default: the release's stages)")
    adapt.add_argument("--replay-ratio", type=float,
                       help="--run: earlier tokens replayed per new token (default: policy)")
    adapt.add_argument("--preset", default="quick", help="--run: training preset")
    adapt.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="--run: a training setting for every stage (repeatable)")
    adapt.add_argument("--quant", help="--run: GGUF quantization (default: Q8_0 for a model "
                       "under 1B parameters, else Q4_K_M)")
    adapt.add_argument("--promote", action="store_true",
                       help="--run: release the candidate when the gate passes")
    adapt.set_defaults(handler=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    from core.adaptation.changes import check_for_update, check_json, summary_lines

    if args.run:
        return _adapt_run(args)
    check = check_for_update(open_workspace(args), update_index=not args.no_index)
    if args.json:
        print_json(check_json(check))
    else:
        print("\n".join(summary_lines(check)))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from core.workspace import releases

    workspace = open_workspace(args)
    if args.action == "promote":
        gate = None
        if not args.no_gate:
            from core.adaptation.gate import run_gate

            gate = run_gate(workspace, args.model)
            if not args.json and gate.get("compared"):
                print(gate["summary"])
        release = releases.promote(workspace, args.model, notes=args.notes, gate=gate,
                                   override=args.override)
        if args.json:
            print_json(release.model_dump(mode="json"))
        else:
            print(f"release {release.version} deployed: {release.model_id}")
        return 0
    if args.action == "rollback":
        release = releases.rollback(workspace, args.version)
        if args.json:
            print_json(release.model_dump(mode="json"))
        else:
            print(f"rolled back: release {release.version} ({release.model_id}) is deployed")
        return 0
    book = releases.read_releases(workspace)
    if args.json:
        print_json(book.model_dump(mode="json"))
        return 0
    if not book.releases:
        print("no releases yet (promote a GGUF model: `scriptorium release promote ID`)")
        return 0
    rows = [("*" if r.version == book.deployed else "", r.version, r.model_id, r.promoted,
             {True: "passed", False: "blocked"}.get(r.gate.get("passed"), "-")
             + (" (overridden)" if r.override else ""))
            for r in book.releases]
    print(table(rows, ["", "release", "model", "promoted", "gate"]))
    return 0


def _adapt_run(args: argparse.Namespace) -> int:
    from core.cli.common import run_job

    workspace = open_workspace(args)
    config: dict[str, object] = {"start": args.start, "preset": args.preset,
                                 "training_overrides": list(args.set), "quant": args.quant,
                                 "promote": args.promote}
    if args.stages:
        config["stages"] = [s.strip() for s in args.stages.split(",") if s.strip()]
    if args.replay_ratio is not None:
        config["replay_ratio"] = args.replay_ratio
    status = run_job(workspace, "adapt", config, as_json=args.json, title="Adapt")
    result = status.result or {}
    if args.json:
        print_json(result)
        return 0
    gate = result.get("gate", {})
    print(f"candidate: {result.get('candidate')} (stages {', '.join(result.get('stages', []))}; "
          f"{len(result.get('new_documents', []))} new and "
          f"{len(result.get('replay_documents', []))} replayed documents)")
    print(gate.get("summary") or f"gate: {gate.get('reason', '-')}")
    if result.get("released"):
        print(f"release {result['released']} deployed")
    elif gate.get("passed"):
        print(f"promote it with `scriptorium release promote {result.get('candidate')}`")
    return 0
