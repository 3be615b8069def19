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
    adapt.add_argument("--no-index", action="store_true",
                       help="do not index changed reference tables now")
    adapt.set_defaults(handler=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    from core.adaptation.changes import check_for_update, check_json, summary_lines

    check = check_for_update(open_workspace(args), update_index=not args.no_index)
    if args.json:
        print_json(check_json(check))
    else:
        print("\n".join(summary_lines(check)))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from core.adaptation import releases

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
