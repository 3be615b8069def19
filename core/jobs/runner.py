"""Start jobs in child processes, follow their progress, cancel them.

Nothing here blocks for long: ``JobHandle.poll()`` reads what is new and returns at once,
so the GUI can call it from a timer; the CLI loops over it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel

import core
from core.errors import JobError
from core.jobs.progress import ProgressEvent
from core.jobs.store import LOG_FILE, JobStatus, JobStore, _process_alive
from core.workspace import Workspace

CANCEL_GRACE_S = 15.0
_PROJECT_ROOT = Path(core.__file__).resolve().parent.parent


def _child_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    if threads:
        env["SCRIPTORIUM_THREADS"] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
    return env


class JobHandle:
    """A started (or re-attached) job: poll it for events, cancel it, wait for it."""

    def __init__(self, store: JobStore, job_id: str, process: subprocess.Popen[bytes] | None):
        self.store = store
        self.job_id = job_id
        self._process = process
        self._offset = 0
        self._kill_at: float | None = None
        self._cancelling = False
        self._final: JobStatus | None = None

    @property
    def status(self) -> JobStatus:
        return self._final or self.store.read_status(self.job_id)

    def _exited(self) -> tuple[bool, int | None]:
        if self._process is not None:
            code = self._process.poll()
            return code is not None, code
        status = self.store.read_status(self.job_id)
        if status.finished:
            return True, None
        if status.state == "queued" and not status.pid:  # its process has not started yet
            return False, None
        return not _process_alive(status.pid, status.pid_started), None

    def poll(self) -> tuple[list[ProgressEvent], JobStatus | None]:
        """New events since the last call, and the final status once the job ended."""
        if self._final is not None:
            return [], self._final
        events, self._offset = self.store.events(self.job_id, self._offset)
        if self._kill_at is not None and time.monotonic() >= self._kill_at:
            self._kill()
            self._kill_at = None
        exited, code = self._exited()
        if not exited:
            return events, None
        more, self._offset = self.store.events(self.job_id, self._offset)
        status = self.store.read_status(self.job_id)
        if not status.finished:
            status = self.store.mark_dead(status, code, cancelling=self._cancelling)
        self._final = status
        return events + more, status

    def cancel(self, grace_s: float = CANCEL_GRACE_S) -> None:
        """Ask the job to stop (SIGTERM); it is killed if still running after ``grace_s``."""
        status = self.store.read_status(self.job_id)
        if status.finished:
            return
        self.store.update_status(self.job_id, cancel_requested=True)
        self._cancelling = True
        self.store.workspace.audit.record("job.cancel", id=self.job_id)
        self._signal(signal.SIGTERM)
        self._kill_at = time.monotonic() + grace_s

    def _pid(self) -> int | None:
        if self._process is not None:
            return self._process.pid
        return self.store.read_status(self.job_id).pid

    def _signal(self, signum: int) -> None:
        pid = self._pid()
        if not pid:
            return
        try:
            if sys.platform == "win32":  # pragma: no cover
                psutil.Process(pid).terminate()
            else:
                os.killpg(os.getpgid(pid), signum)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            pass

    def _kill(self) -> None:
        self._signal(signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM)

    def follow(
        self, on_event: Callable[[ProgressEvent], None] | None = None, interval_s: float = 0.2
    ) -> JobStatus:
        """Block until the job ends, passing each event to ``on_event`` (CLI use)."""
        while True:
            events, final = self.poll()
            for event in events:
                if on_event:
                    on_event(event)
            if final is not None:
                return final
            time.sleep(interval_s)

    def wait(self, timeout_s: float | None = None) -> JobStatus:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            _, final = self.poll()
            if final is not None:
                return final
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"Job {self.job_id} did not finish within {timeout_s:.0f} s.")
            time.sleep(0.1)


class JobRunner:
    """Starts jobs of one workspace as child processes."""

    def __init__(self, workspace: Workspace, threads: int | None = None) -> None:
        self.workspace = workspace
        self.store = JobStore(workspace)
        self.threads = threads

    def submit(
        self, kind: str, config: dict[str, Any] | BaseModel, title: str = ""
    ) -> JobHandle:
        """Validate and save the config, then start the job; returns at once."""
        status = self.store.create(kind, config, title)
        return self.start(status.id)

    def start(self, job_id: str) -> JobHandle:
        folder = self.store.job_dir(job_id)
        status = self.store.read_status(job_id)
        if status.state != "queued":
            raise JobError(f"Job {job_id} is {status.state}; only a queued job can start.")
        log = open(folder / LOG_FILE, "ab")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "core.jobs.child", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.workspace.root),
                env=_child_env(self.threads),
                start_new_session=True,
            )
        except OSError as error:
            raise JobError(f"Could not start job {job_id}: {error}") from error
        finally:
            log.close()
        return JobHandle(self.store, job_id, process)

    def rerun(self, job_id: str) -> JobHandle:
        """Start a new job from a finished job's saved config."""
        kind, config = self.store.config(job_id)
        return self.submit(kind, config)

    def attach(self, job_id: str) -> JobHandle:
        """Follow a job started elsewhere (another app window, the CLI, a previous run)."""
        self.store.job_dir(job_id)
        return JobHandle(self.store, job_id, None)

    def running(self) -> Iterator[JobHandle]:
        for status in self.store.list():
            if status.state in ("queued", "running"):
                yield self.attach(status.id)
