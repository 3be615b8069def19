"""Jobs as folders in ``W/runs``: config, status, progress events and log.

``runs/<job-id>/``::

    job.yaml        kind + validated config (re-runnable from the CLI)
    status.json     state, pid, times, error, result (written atomically)
    events.jsonl    JSON-line progress stream
    log.txt         the child's stdout and stderr
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.clock import now_iso
from core.errors import JobError, is_disk_full
from core.fsutil import (
    atomic_write_json,
    atomic_write_yaml,
    free_bytes,
    make_private_dir,
    read_json,
    read_yaml,
)
from core.jobs.kinds import get_kind, validate_config
from core.jobs.progress import ProgressEvent, last_progress_event, read_events
from core.workspace import Workspace
from core.workspace.locking import file_lock

DISK_FULL_BYTES = 16 << 20  # less free than this when a job died: the disk stopped it

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
LOG_FILE = "log.txt"


class JobStatus(BaseModel):
    """The state of one job, as last written by its child (or by the reaper)."""

    model_config = ConfigDict(frozen=True)
    id: str
    kind: str
    title: str
    state: JobState = "queued"
    created: str = Field(default_factory=now_iso)
    started: str | None = None
    ended: str | None = None
    pid: int | None = None
    pid_started: float | None = None
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


def _process_alive(pid: int | None, started: float | None) -> bool:
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if started is not None and abs(process.create_time() - started) > 1.0:
            return False  # the pid was reused by another process
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


class JobStore:
    """Creates, lists and reconciles the jobs of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.runs_dir

    def job_dir(self, job_id: str) -> Path:
        path = self.root / job_id
        if "/" in job_id or job_id.startswith(".") or not (path / "status.json").exists():
            raise JobError(f"No job {job_id!r} in this workspace.")
        return path

    def create(self, kind: str, config: dict[str, Any] | BaseModel, title: str = "") -> JobStatus:
        """Validate ``config`` and write a queued job; returns its status."""
        raw = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        validated = validate_config(kind, raw)
        job_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{kind}-{uuid.uuid4().hex[:4]}"
        folder = make_private_dir(self.root / job_id)
        status = JobStatus(id=job_id, kind=kind, title=title or get_kind(kind).title)
        try:
            atomic_write_yaml(
                folder / "job.yaml",
                {"kind": kind, "workspace": str(self.workspace.root),
                 "config": validated.model_dump(mode="json")},
            )
            self.write_status(status)
            self.workspace.audit.record("job.create", id=job_id, kind=kind)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a full disk leaves no half-made job
            raise
        return status

    def write_status(self, status: JobStatus) -> None:
        atomic_write_json(self.root / status.id / "status.json", status.model_dump(mode="json"))

    def update_status(self, job_id: str, **changes: Any) -> JobStatus:
        """Read-modify-write the status under a lock (the child and the runner both write)."""
        with file_lock(self.root / job_id / "status.lock"):
            status = self.read_status(job_id).model_copy(update=changes)
            self.write_status(status)
        return status

    def read_status(self, job_id: str) -> JobStatus:
        path = self.job_dir(job_id) / "status.json"
        try:
            return JobStatus.model_validate(read_json(path))
        except (ValueError, ValidationError) as error:
            raise JobError(f"The status of job {job_id!r} is damaged: {error}") from error

    def config(self, job_id: str) -> tuple[str, dict[str, Any]]:
        raw = read_yaml(self.job_dir(job_id) / "job.yaml")
        return str(raw["kind"]), dict(raw.get("config") or {})

    def get(self, job_id: str) -> JobStatus:
        """The job's status, reconciled: a running job whose process vanished is failed."""
        status = self.read_status(job_id)
        started = status.state == "running" or (status.state == "queued" and status.pid)
        if started and not _process_alive(status.pid, status.pid_started):
            status = self.mark_dead(status)
        return status

    def mark_dead(
        self, status: JobStatus, returncode: int | None = None, *, cancelling: bool = False
    ) -> JobStatus:
        """Record that the job's process ended without writing a final state."""
        fresh = self.read_status(status.id)
        if fresh.finished:
            return fresh
        if fresh.cancel_requested or cancelling:
            state, error = "cancelled", "The job was stopped before it finished."
        else:
            how = f"exit code {returncode}" if returncode is not None else "an unknown cause"
            if returncode is not None and returncode < 0:
                how = f"signal {-returncode}"
            tail = self.log_tail(status.id, 5).strip()
            error = f"The job process ended unexpectedly ({how})."
            if free_bytes(self.root) < DISK_FULL_BYTES:
                error = (f"The job process ended when the disk was full ({how}); free some "
                         "space and run it again.")
            if tail:
                error += " Last output: " + tail.splitlines()[-1][:300]
            state = "failed"
        try:
            updated = self.update_status(status.id, state=state, ended=now_iso(), error=error)
            self.workspace.audit.record(f"job.{state}", id=status.id, kind=status.kind,
                                        error=error)
        except OSError as write_error:
            if not is_disk_full(write_error):
                raise
            # a full disk: say so to whoever asked (jobs list), write it when there is room
            return fresh.model_copy(update={"state": state, "error": error})
        return updated

    def list(self) -> list[JobStatus]:
        jobs = []
        for path in sorted(self.root.glob("*/status.json")):
            try:
                jobs.append(self.get(path.parent.name))
            except JobError:
                continue
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def events(self, job_id: str, offset: int = 0) -> tuple[list[ProgressEvent], int]:
        return read_events(self.job_dir(job_id), offset)

    def last_progress(self, job_id: str) -> ProgressEvent | None:
        return last_progress_event(self.job_dir(job_id))

    def log_tail(self, job_id: str, lines: int = 40) -> str:
        path = self.root / job_id / LOG_FILE
        if not path.exists():
            return ""
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
