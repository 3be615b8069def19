"""Long work as child processes with JSON-line progress and cancel."""

from core.jobs.progress import JobContext, ProgressEvent
from core.jobs.runner import JobHandle, JobRunner
from core.jobs.store import JobStatus, JobStore

__all__ = ["JobContext", "JobHandle", "JobRunner", "JobStatus", "JobStore", "ProgressEvent"]
