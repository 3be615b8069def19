"""Shared pieces of the CLI verbs: finding the workspace, running a job in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.cli.output import ProgressPrinter
from core.errors import JobError, WorkspaceError
from core.jobs import JobRunner, JobStatus
from core.settings import load_settings, save_settings
from core.workspace import Workspace


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", "-w", metavar="PATH",
        help="workspace folder (default: $SCRIPTORIUM_WORKSPACE, or the current folder)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def workspace_path(args: argparse.Namespace) -> Path:
    if getattr(args, "workspace", None):
        return Path(args.workspace).expanduser()
    if os.environ.get("SCRIPTORIUM_WORKSPACE"):
        return Path(os.environ["SCRIPTORIUM_WORKSPACE"]).expanduser()
    if Workspace.is_workspace(Path.cwd()):
        return Path.cwd()
    raise WorkspaceError(
        "No workspace given.", hint="pass --workspace PATH or create one with `scriptorium init`"
    )


def open_workspace(args: argparse.Namespace) -> Workspace:
    workspace = Workspace.open(workspace_path(args))
    settings = load_settings()
    try:
        save_settings(settings.with_recent(workspace.root))
    except OSError:
        pass  # an unwritable config folder must not stop the CLI
    return workspace


def runner_for(workspace: Workspace) -> JobRunner:
    threads = load_settings().threads or None
    return JobRunner(workspace, threads=threads)


def run_job(
    workspace: Workspace, kind: str, config: dict[str, Any] | BaseModel, *,
    as_json: bool, title: str = "",
) -> JobStatus:
    """Start a job and follow it to the end in this terminal; Ctrl-C cancels it."""
    runner = runner_for(workspace)
    handle = runner.submit(kind, config, title)
    printer = None if as_json else ProgressPrinter(sys.stderr)
    if printer:
        sys.stderr.write(f"job {handle.job_id} started (Ctrl-C cancels)\n")
    try:
        status = handle.follow(printer)
    except KeyboardInterrupt:
        sys.stderr.write("\ncancelling…\n")
        handle.cancel()
        status = handle.follow(printer)
    finally:
        if printer:
            printer.close()
    if status.state == "failed":
        raise JobError(status.error
                       or f"Job {status.id} failed; see `scriptorium jobs logs {status.id}`.")
    if status.state == "cancelled":
        raise JobError(f"Job {status.id} was cancelled.")
    return status
