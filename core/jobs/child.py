"""Entry point of a job's child process: ``python -m core.jobs.child RUN_DIR``.

Waits for its turn if the job is heavy (``core.jobs.slots``), runs the job function, turns
SIGTERM into a clean cancel, and always leaves a final state in ``status.json`` unless the
process itself is killed (the runner covers that).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from contextlib import ExitStack
from pathlib import Path

import psutil

from core.clock import now_iso
from core.errors import JobCancelled, ScriptoriumError, disk_full, is_disk_full
from core.jobs.kinds import check_result, job_function, validate_config
from core.jobs.progress import JobContext
from core.jobs.slots import heavy_slot, is_heavy
from core.jobs.store import JobStore
from core.privacy import keep_private
from core.settings import load_settings
from core.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def apply_threads() -> None:
    """torch's CPU threads from ``SCRIPTORIUM_THREADS`` (set by the runner)."""
    threads = os.environ.get("SCRIPTORIUM_THREADS")
    if threads and threads.isdigit() and int(threads) > 0:
        try:
            import torch

            torch.set_num_threads(int(threads))
        except ImportError:
            pass


def run(job_dir: Path) -> int:
    workspace = Workspace.open(job_dir.parent.parent)
    store = JobStore(workspace)
    job_id = job_dir.name
    cancel = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    status = store.update_status(job_id, pid=os.getpid(),
                                 pid_started=psutil.Process().create_time())
    if status.cancel_requested:
        cancel.set()  # cancelled before it could start
    ctx = JobContext(job_dir, cancel.is_set)  # made again once it runs: ETAs from then

    result: dict[str, object] = {}
    error: str | None = None
    try:
        with ExitStack() as turn:
            if is_heavy(status.kind):
                turn.enter_context(heavy_slot(
                    store, status, load_settings().heavy_jobs, cancel.is_set,
                    lambda message: ctx.report(0, 1, message, force=True)))
                ctx = JobContext(job_dir, cancel.is_set)
            status = store.update_status(job_id, state="running", started=now_iso())
            ctx.state("running")
            workspace.audit.record("job.start", actor="job", id=job_id, kind=status.kind)
            kind, raw = store.config(job_id)
            config = validate_config(kind, raw)
            apply_threads()
            result = job_function(kind)(config, ctx) or {}
            check_result(kind, result)
        state, code = "succeeded", EXIT_OK
    except JobCancelled:
        state, code = "cancelled", EXIT_CANCELLED
    except ScriptoriumError as exc:
        state, code, error = "failed", EXIT_FAILED, str(exc)
    except MemoryError:
        state, code = "failed", EXIT_FAILED
        error = "The job ran out of memory; try a smaller batch or sequence length."
    except Exception as exc:
        if is_disk_full(exc):
            state, code, error = "failed", EXIT_FAILED, str(disk_full(exc))
        else:  # a bug: keep the traceback in the log, show one line
            traceback.print_exc()
            state, code = "failed", EXIT_FAILED
            error = f"Internal error ({type(exc).__name__}: {exc}); see the job log."

    latest = store.update_status(job_id, state=state, ended=now_iso(), error=error, result=result)
    ctx.state(state, error or "")
    workspace.audit.record(f"job.{state}", actor="job", id=job_id, kind=latest.kind, error=error)
    return code


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python -m core.jobs.child RUN_DIR", file=sys.stderr)
        raise SystemExit(2)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    keep_private()
    raise SystemExit(run(Path(sys.argv[1]).absolute()))


if __name__ == "__main__":
    main()
