"""One job's progress, bound to its id: a bar, a line with the step and the time left, and
the job's end, for every wizard page, pane and dialog that runs a job.

``JobProgress`` listens to the ``JobMonitor`` and ignores other jobs. It shows what the
job reports (``message`` with "about N min left" from the job's own ETA) and, when the job
ends, a plain default ("Finished.", "Cancelled.", "Failed: …") that its owner may replace
in its ``ended`` handler. ``progress`` carries each progress event, ``log_line`` each log
line, ``ended`` the final ``JobStatus``, once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.formatting import format_duration
from core.jobs import JobStatus
from core.jobs.progress import ProgressEvent
from desktop.jobs_monitor import JobMonitor
from desktop.qt import QLabel, QProgressBar, QVBoxLayout, QWidget, Signal

STEPS = 1000


def time_left(eta_s: float | None) -> str:
    """" — about 3 min left" (nothing when the job cannot tell yet)."""
    if eta_s is None:
        return ""
    minutes = round(eta_s / 60)
    if minutes < 1:
        return " — less than a minute left"
    if minutes < 90:
        return f" — about {minutes} min left"
    return f" — about {format_duration(eta_s)} left"


class JobProgress(QWidget):
    progress = Signal(object)  # ProgressEvent of the followed job
    log_line = Signal(str)
    ended = Signal(object)  # JobStatus, once

    def __init__(self, monitor: JobMonitor, bar_name: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self.job_id: str | None = None
        self.bar = QProgressBar()
        self.bar.setRange(0, STEPS)
        if bar_name:
            self.bar.setObjectName(bar_name)
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        monitor.event.connect(self.on_event)
        monitor.finished.connect(self.on_finished)

    @property
    def running(self) -> bool:
        return self.job_id is not None

    def start(self, kind: str, config: dict[str, Any] | BaseModel, title: str,
              message: str = "Starting (a job already running finishes first)…") -> str:
        """Submit a job and follow it."""
        job_id = self.monitor.submit(kind, config, title)
        self.follow(job_id, message)
        return job_id

    def follow(self, job_id: str, message: str = "") -> None:
        self.job_id = job_id
        self.bar.setValue(0)
        self.label.setText(message)

    def cancel(self) -> None:
        if self.job_id is not None:
            self.monitor.cancel(self.job_id)
            self.label.setText("Stopping…")

    def on_event(self, job_id: str, event: ProgressEvent) -> None:
        if job_id != self.job_id:
            return
        if event.type == "log":
            self.log_line.emit(event.message)
            return
        if event.type != "progress":
            return
        if event.fraction is not None:
            self.bar.setValue(int(event.fraction * STEPS))
        self.label.setText(f"{event.message}{time_left(event.eta_s)}")
        self.progress.emit(event)

    def on_finished(self, job_id: str, status: JobStatus) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        if status.state == "succeeded":
            self.bar.setValue(STEPS)
            self.label.setText("Finished.")
        elif status.state == "cancelled":
            self.label.setText("Cancelled.")
        else:
            self.label.setText(f"Failed: {status.error or 'see the job log in Jobs'}")
        self.ended.emit(status)
