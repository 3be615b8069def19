"""A job that ends tells every pane what it changed, once (the job monitor reads its kind's
``changes``); no wizard or pane announces it by hand."""

from __future__ import annotations

from core.jobs.kinds import KINDS
from core.jobs.store import JobStatus
from desktop.jobs_monitor import JobMonitor
from desktop.state import AppState


class _Handle:
    def __init__(self, status: JobStatus) -> None:
        self.status = status

    def poll(self) -> tuple[list[object], JobStatus]:
        return [], self.status


def test_kinds_that_make_models_or_documents_say_so() -> None:
    for kind in ("import-base-model", "train", "merge", "export", "adapt", "demo"):
        assert "models" in KINDS[kind].changes, kind
    for kind in ("import-documents", "populate-sample"):
        assert "documents" in KINDS[kind].changes, kind
    assert KINDS["index-documents"].changes == ("index",)
    assert KINDS["compare-models"].changes == ()


def test_an_ended_job_reaches_the_panes_through_the_state(qtbot, app_state: AppState) -> None:  # noqa: ANN001
    monitor = JobMonitor()
    monitor.data_changed.connect(app_state.notify)
    heard: list[str] = []
    app_state.models_changed.connect(lambda: heard.append("models"))
    app_state.documents_changed.connect(lambda: heard.append("documents"))
    for kind, state in (("merge", "succeeded"), ("import-documents", "cancelled"),
                        ("compare-models", "succeeded")):
        monitor.handles[f"job-{kind}"] = _Handle(JobStatus(  # type: ignore[assignment]
            id=f"job-{kind}", kind=kind, title=kind, state=state))
    monitor.poll()
    assert sorted(heard) == ["documents", "models"]  # a cancelled import may have imported some
    app_state.notify({"index"})
    app_state.notify({"releases", "datasets"})
    assert heard[-2:] == ["documents", "models"]


def test_a_job_the_command_line_started_reaches_the_panes(qtbot, app_state: AppState,  # noqa: ANN001
                                                          workspace) -> None:  # noqa: ANN001
    """Issue 17: panes refresh when a job ends, whoever started it (here a second process's
    runner, as `scriptorium index` would), with no restart."""
    from core.jobs import JobRunner

    monitor = JobMonitor()
    monitor.data_changed.connect(app_state.notify)
    monitor.set_workspace(workspace)
    heard: list[str] = []
    app_state.documents_changed.connect(lambda: heard.append("documents"))
    handle = JobRunner(workspace).submit("index-documents", {})  # not through the monitor
    with qtbot.waitSignal(monitor.finished, timeout=120_000) as finished:
        pass
    assert finished.args[0] == handle.job_id
    assert heard == ["documents"]
    monitor.set_workspace(None)
