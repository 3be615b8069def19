"""Follows the workspace's jobs from the GUI thread without blocking it.

A timer polls each job handle (a small file read) and turns what is new into signals;
another looks every two seconds for jobs that another process (the command line, a second
window) started in the workspace and follows them too, so that every pane hears what any
job changed. The jobs themselves run in child processes; a crash there never reaches the
app.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel

from core.errors import JobError
from core.jobs import JobHandle, JobRunner, JobStatus
from core.jobs.kinds import KINDS
from core.jobs.progress import ProgressEvent
from core.workspace import Workspace
from desktop.qt import QObject, QTimer, Signal

POLL_MS = 200
WATCH_MS = 2000  # how often to look for jobs another process started in the workspace


class JobMonitor(QObject):
    event = Signal(str, object)  # job id, ProgressEvent
    finished = Signal(str, object)  # job id, JobStatus
    changed = Signal()  # a job started or ended
    data_changed = Signal(object)  # frozenset: what an ended job changed (JobKind.changes)

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        self.threads = threads
        self.runner: JobRunner | None = None
        self.handles: dict[str, JobHandle] = {}
        self.latest: dict[str, ProgressEvent] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.known: set[str] = set()  # job folders seen in this workspace
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self.adopt_new_jobs)

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.handles.clear()
        self.latest.clear()
        self.runner = JobRunner(workspace, self.threads) if workspace else None
        self.known = set(self._job_folders())
        if self.runner:
            for handle in self.runner.running():  # re-attach to jobs left running
                self.handles[handle.job_id] = handle
            self._watch.start()
        else:
            self._watch.stop()
        self._update_timer()
        self.changed.emit()

    def _job_folders(self) -> list[str]:
        root = self.runner.store.root if self.runner else None
        try:
            return [e.name for e in os.scandir(root) if not e.name.startswith(".")] \
                if root is not None and root.is_dir() else []
        except OSError:
            return []

    def adopt_new_jobs(self) -> None:
        """Follow the jobs another process (the command line, another window) started in
        this workspace, so that the panes hear when they change something. A folder listing
        every two seconds; a new job's status is read once."""
        if self.runner is None:
            return
        for job_id in self._job_folders():
            if job_id in self.known:
                continue
            self.known.add(job_id)
            try:
                status = self.runner.store.read_status(job_id)
            except (JobError, OSError):
                self.known.discard(job_id)  # still being created: look again next time
                continue
            if job_id not in self.handles and not status.finished:
                self.handles[job_id] = self.runner.attach(job_id)
                self.changed.emit()
        self._update_timer()

    def submit(self, kind: str, config: dict[str, Any] | BaseModel, title: str = "") -> str:
        if self.runner is None:
            raise RuntimeError("no workspace is open")
        handle = self.runner.submit(kind, config, title)
        self.handles[handle.job_id] = handle
        self.known.add(handle.job_id)
        self._update_timer()
        self.changed.emit()
        return handle.job_id

    def cancel(self, job_id: str) -> None:
        handle = self.handles.get(job_id)
        if handle is None and self.runner is not None:
            handle = self.runner.attach(job_id)
            self.handles[job_id] = handle
            self._update_timer()
        if handle is not None:
            handle.cancel()

    def is_running(self, job_id: str) -> bool:
        return job_id in self.handles

    def poll(self) -> None:
        for job_id, handle in list(self.handles.items()):
            events, final = handle.poll()
            for event in events:
                if event.type == "progress":
                    self.latest[job_id] = event
                self.event.emit(job_id, event)
            if final is not None:
                del self.handles[job_id]
                self.finished.emit(job_id, final)
                self.changed.emit()
                changes = frozenset(KINDS[final.kind].changes) if final.kind in KINDS else None
                if changes:
                    self.data_changed.emit(changes)
        self._update_timer()

    def cancel_all(self) -> None:
        for handle in list(self.handles.values()):
            handle.cancel()

    def wait_all(self, timeout_s: float = 30) -> list[JobStatus]:
        return [handle.wait(timeout_s) for handle in list(self.handles.values())]

    def _update_timer(self) -> None:
        if self.handles and not self._timer.isActive():
            self._timer.start()
        elif not self.handles and self._timer.isActive():
            self._timer.stop()
