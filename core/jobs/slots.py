"""Heavy jobs take turns: at most N run at once in a workspace (one, by default).

Training, merging, exporting, indexing, evaluating and importing each use every core; two at
once on a 2-core workstation make both slower than one after the other. A heavy job's child
process takes one of N lock files under ``runs/.slots`` before it starts its work, and waits,
reported as queued (behind which job, how many ahead), while none is free; the longest
waiting goes first. The locks are the operating system's (``filelock``), so a job killed
outright frees its slot, and jobs started by the app and by the command line share the same
turns. Light jobs (a proposal draft, a dataset build, the self-test) never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import JobCancelled
from core.jobs.kinds import KINDS
from core.jobs.store import JobStatus, JobStore

POLL_S = 0.5


def is_heavy(kind: str) -> bool:
    return kind in KINDS and KINDS[kind].heavy


def _try_take(folder: Path, slots: int) -> FileLock | None:
    for number in range(slots):
        lock = FileLock(str(folder / f"heavy-{number}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        return lock
    return None


def _queue(store: JobStore, status: JobStatus) -> tuple[JobStatus | None, int]:
    """The heavy job running now (if any), and how many live queued ones came before this."""
    others = [s for s in store.list() if s.id != status.id and is_heavy(s.kind)]
    running = next((s for s in others if s.state == "running"), None)
    mine = (status.created, status.pid_started or 0.0)  # the child's start: sub-second order
    ahead = sum(1 for s in others if s.state == "queued" and s.pid
                and (s.created, s.pid_started or 0.0) < mine)
    return running, ahead


def waiting_message(running: JobStatus | None, ahead: int) -> str:
    behind = f"“{running.title}”" if running else "another heavy job"
    more = f"; {ahead} more {'job is' if ahead == 1 else 'jobs are'} ahead of this one" \
        if ahead else ""
    return f"Waiting for {behind} to finish{more}"


@contextmanager
def heavy_slot(store: JobStore, status: JobStatus, slots: int,
               cancelled: Callable[[], bool], report: Callable[[str], None]) -> Iterator[bool]:
    """Hold one of ``slots`` heavy-job slots while the block runs; yields whether the job
    had to wait. Raises ``JobCancelled`` when cancelled while it waits."""
    folder = store.root / ".slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    slots = max(1, slots)
    lock = _try_take(folder, slots)
    waited = lock is None
    said = ""
    while lock is None:
        if cancelled():
            raise JobCancelled("The job was cancelled while it waited for its turn.")
        running, ahead = _queue(store, status)
        message = waiting_message(running, ahead)
        if message != said:
            report(message)
            said = message
        time.sleep(POLL_S)
        if ahead < slots:  # first come, first served
            lock = _try_take(folder, slots)
    try:
        yield waited
    finally:
        lock.release()
