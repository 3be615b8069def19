"""Progress events and the handle a job function reports through.

A job function has the signature ``fn(config, ctx: JobContext) -> dict`` and never sees
a widget. It calls ``ctx.report(step, total, message, **metrics)`` and checks
``ctx.cancelled()`` (or ``ctx.check_cancelled()``, which raises) at safe points.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import JobCancelled
from core.fsutil import append_line
from core.workspace import Workspace

EVENTS_FILE = "events.jsonl"


@dataclass(frozen=True)
class ProgressEvent:
    """One JSON line of a job's progress stream."""

    type: str  # "progress" | "log" | "state"
    time: float
    step: int = 0
    total: int = 0
    message: str = ""
    eta_s: float | None = None
    elapsed_s: float = 0.0
    tokens_per_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    state: str = ""
    level: str = "info"

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.step / self.total) if self.total > 0 else None

    def to_line(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", {})}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> ProgressEvent:
        raw = json.loads(line)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


class EtaEstimator:
    """Estimates time left from the average rate since the first reported step of the
    current phase (a report with a different total starts a new phase)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self._first: tuple[float, int] | None = None
        self._total: int | None = None
        self._first_tokens: tuple[float, int] | None = None

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    def eta(self, step: int, total: int) -> float | None:
        now = self._clock()
        if self._first is None or total != self._total:
            # a new phase (loading → training → export…): its own rate, not the average
            # over a model load that took longer than every step after it
            self._first, self._total = (now, step), total
            return None
        t0, s0 = self._first
        if total <= 0 or step <= s0 or now <= t0:
            return None
        rate = (step - s0) / (now - t0)
        return max(0.0, (total - step) / rate)

    def tokens_per_s(self, tokens: int) -> float | None:
        now = self._clock()
        if self._first_tokens is None:
            self._first_tokens = (now, tokens)
            return None
        t0, n0 = self._first_tokens
        return (tokens - n0) / (now - t0) if now > t0 and tokens > n0 else None


class JobContext:
    """What a running job function sees: progress reporting and cancellation."""

    def __init__(
        self,
        job_dir: Path,
        is_cancelled: Callable[[], bool] = lambda: False,
        *,
        min_interval_s: float = 0.1,
        sink: Callable[[ProgressEvent], None] | None = None,
    ) -> None:
        self.job_dir = Path(job_dir)
        self._is_cancelled = is_cancelled
        self._eta = EtaEstimator()
        self._min_interval = min_interval_s
        self._last_write = 0.0
        self._sink = sink

    def _emit(self, event: ProgressEvent) -> None:
        append_line(self.job_dir / EVENTS_FILE, event.to_line())
        if self._sink:
            self._sink(event)

    def report(
        self,
        step: int,
        total: int,
        message: str = "",
        *,
        tokens: int | None = None,
        force: bool = False,
        **metrics: float,
    ) -> None:
        """Report progress; throttled to ~10 lines/s unless metrics, the end, or ``force``."""
        eta = self._eta.eta(step, total)
        tps = self._eta.tokens_per_s(tokens) if tokens is not None else None
        now = time.monotonic()
        important = force or bool(metrics) or step >= total or step == 0
        if not important and now - self._last_write < self._min_interval:
            return
        self._last_write = now
        self._emit(
            ProgressEvent(
                type="progress",
                time=time.time(),
                step=step,
                total=total,
                message=message,
                eta_s=eta,
                elapsed_s=round(self._eta.elapsed, 3),
                tokens_per_s=tps,
                metrics={k: float(v) for k, v in metrics.items()},
            )
        )

    def log(self, message: str, level: str = "info") -> None:
        self._emit(ProgressEvent(type="log", time=time.time(), message=message, level=level))

    def state(self, state: str, message: str = "") -> None:
        self._emit(ProgressEvent(type="state", time=time.time(), state=state, message=message))

    def workspace(self) -> Workspace:
        """The workspace this job runs in (its folder is ``W/runs/<job-id>``)."""
        return Workspace.open(self.job_dir.parent.parent)

    def cancelled(self) -> bool:
        return self._is_cancelled()

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if the user asked to stop (call at safe points)."""
        if self._is_cancelled():
            raise JobCancelled("The job was cancelled.")


TAIL_BYTES = 64 * 1024


def last_progress_event(job_dir: Path) -> ProgressEvent | None:
    """The job's latest progress event, read from the end of its events file: a list of
    jobs shows one per job, and a long training run writes thousands of events (reading
    them all, for every job, on the app's GUI thread took longer as the workspace aged).
    The whole file is read only when its last 64 KiB hold no progress event."""
    path = Path(job_dir) / EVENTS_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    start = max(0, size - TAIL_BYTES)
    while True:
        with open(path, "rb") as handle:
            handle.seek(start)
            lines = handle.read(size - start).split(b"\n")
        complete = lines[1:-1] if start else lines[:-1]  # a cut first line; a partial last
        for raw in reversed(complete):
            try:
                event = ProgressEvent.from_line(raw.decode("utf-8"))
            except (ValueError, TypeError):
                continue
            if event.type == "progress":
                return event
        if start == 0:
            return None
        start = 0


def read_events(job_dir: Path, offset: int = 0) -> tuple[list[ProgressEvent], int]:
    """Events appended since byte ``offset``; returns them and the new offset.

    A partly written last line (a crash mid-write) is left for the next call.
    """
    path = Path(job_dir) / EVENTS_FILE
    if not path.exists():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    events = []
    consumed = 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        consumed += len(raw)
        try:
            events.append(ProgressEvent.from_line(raw.decode("utf-8")))
        except (ValueError, TypeError):
            continue
    return events, offset + consumed
