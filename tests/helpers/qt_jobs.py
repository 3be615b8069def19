"""Desktop test helper: leave no job running behind a closing window."""

from __future__ import annotations

from desktop.jobs_monitor import JobMonitor
from desktop.ops import wait_for_ops


def settle_jobs(qtbot, monitor: JobMonitor, rounds: int = 5) -> None:  # noqa: ANN001
    """Cancel the monitor's jobs until none is left, letting background operations finish
    first: a pane may start a job when another ends (e.g. indexing after an import)."""
    for _ in range(rounds):
        assert wait_for_ops(30_000), "an operation's worker thread is still running"
        qtbot.wait(100)  # their callbacks run on the GUI thread
        if not monitor.handles:
            return
        monitor.cancel_all()
        for handle in list(monitor.handles.values()):
            handle.wait(30)
        qtbot.waitUntil(lambda: not monitor.handles, timeout=30_000)
    raise AssertionError(f"jobs keep starting: {list(monitor.handles)}")
