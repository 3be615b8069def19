"""CLI verb: jobs (list, show, logs, follow, cancel, run, rerun)."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import add_common, open_workspace, run_job, runner_for
from core.cli.output import ProgressPrinter, print_json, progress_text, table
from core.errors import ConfigError, JobError
from core.jobs import JobStore
from core.jobs.kinds import KINDS
from core.jobs.overrides import parse_overrides


def register(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="long-running jobs: list, follow, cancel, re-run")
    add_common(jobs)
    jobs.add_argument(
        "action", nargs="?", default="list",
        choices=["list", "show", "logs", "follow", "cancel", "run", "rerun", "kinds"],
    )
    jobs.add_argument("target", nargs="?", help="job id, or a job kind for `run`")
    jobs.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE", help="config value for `run` (repeatable)")
    jobs.add_argument("--detach", action="store_true", help="start and return at once")
    jobs.set_defaults(handler=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    store = JobStore(workspace)
    action = args.action
    if action == "kinds":
        kinds = {name: kind.title for name, kind in sorted(KINDS.items())}
        print_json(kinds) if args.json else print(table(list(kinds.items()), ["kind", "what"]))
        return 0
    if action == "list":
        jobs = store.list()
        if args.json:
            print_json([j.model_dump(mode="json") for j in jobs])
        elif not jobs:
            print("no jobs yet")
        else:
            rows = []
            for job in jobs:
                last = store.last_progress(job.id)
                done = f"{last.fraction * 100:.0f}%" if last and last.fraction is not None else "-"
                rows.append([job.id, job.title, job.state, done, job.created, job.error or ""])
            print(table(rows, ["id", "title", "state", "progress", "created", "error"]))
        return 0
    if not args.target:
        raise JobError(f"`scriptorium jobs {action}` needs a job id" +
                       (" or kind." if action == "run" else "."))
    if action == "run":
        config, bad = parse_overrides(args.overrides)
        if bad:
            raise ConfigError("; ".join(bad) + ".")
        if args.detach:
            handle = runner_for(workspace).submit(args.target, config)
            print_json({"job": handle.job_id}) if args.json else print(handle.job_id)
            return 0
        status = run_job(workspace, args.target, config, as_json=args.json)
        print_json(status.model_dump(mode="json")) if args.json else print(
            f"job {status.id} {status.state}: {status.result}")
        return 0
    if action == "rerun":
        kind, config = store.config(args.target)
        status = run_job(workspace, kind, config, as_json=args.json)
        print_json(status.model_dump(mode="json")) if args.json else print(
            f"job {status.id} {status.state}")
        return 0
    status = store.get(args.target)
    if action == "show":
        last = store.last_progress(status.id)
        if args.json:
            data = status.model_dump(mode="json")
            data["progress"] = last and {"step": last.step, "total": last.total,
                                         "eta_s": last.eta_s, "metrics": last.metrics}
            print_json(data)
        else:
            for key, value in status.model_dump(mode="json").items():
                print(f"{key}: {value}")
            if last:
                print(f"progress: {progress_text(last)}")
    elif action == "logs":
        print(store.log_tail(status.id, 200))
    elif action == "follow":
        handle = runner_for(workspace).attach(status.id)
        printer = ProgressPrinter(sys.stdout if args.json else sys.stderr, as_json=args.json)
        final = handle.follow(printer)
        printer.close()
        if not args.json:
            print(f"job {final.id} {final.state}" + (f": {final.error}" if final.error else ""))
        return 0 if final.state == "succeeded" else 1
    elif action == "cancel":
        handle = runner_for(workspace).attach(status.id)
        handle.cancel()
        final = handle.wait(timeout_s=60)
        if args.json:
            print_json(final.model_dump(mode="json"))
        else:
            print(f"job {final.id} {final.state}")
    return 0
