"""A job made of stages (the retraining run, the demo): each stage reports on its own
scale, the job shows one progress bar over all of them."""

from __future__ import annotations

from pathlib import Path

from core.jobs.progress import JobContext, ProgressEvent
from core.workspace import Workspace

STEPS = 1000  # resolution of the overall progress bar


class StageContext(JobContext):
    """A stage's view of the pipeline job: its own folder, the job's progress bar."""

    def __init__(self, parent: JobContext, folder: Path, index: int, count: int,
                 name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(folder, parent.cancelled)
        self.parent, self.index, self.count, self.name = parent, index, count, name

    def _emit(self, event: ProgressEvent) -> None:
        if event.type != "progress":
            self.parent._emit(event)
            return
        done = min(1.0, event.step / event.total) if event.total else 0.0
        metrics = dict(event.metrics or {})
        if event.tokens_per_s:
            metrics["tokens_per_s"] = event.tokens_per_s
        self.parent.report(int((self.index + done) / self.count * STEPS), STEPS,
                           f"{self.index + 1}/{self.count} {self.name}: {event.message}",
                           **metrics)

    def workspace(self) -> Workspace:
        return self.parent.workspace()
