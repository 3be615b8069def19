"""Jobs in real child processes (the ``selftest`` kind): results, progress, failures, cancel.

Plus the pieces a job function sees (``JobContext``, ``EtaEstimator``) with fakes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.errors import ConfigError, JobCancelled, JobError
from core.jobs import JobContext, JobHandle, JobRunner, JobStore, ProgressEvent
from core.jobs.progress import EVENTS_FILE, EtaEstimator, read_events
from core.jobs.selftest import SelfTestConfig, run_selftest
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(120)


def collect(handle: JobHandle, timeout_s: float = 60) -> tuple[list[ProgressEvent], object]:
    """Poll ``handle`` to the end; returns every event and the final status."""
    deadline = time.monotonic() + timeout_s
    events: list[ProgressEvent] = []
    while time.monotonic() < deadline:
        new, final = handle.poll()
        events.extend(new)
        if final is not None:
            return events, final
        time.sleep(0.02)
    handle.cancel(grace_s=0)
    raise AssertionError(f"job {handle.job_id} did not finish in {timeout_s} s")


def wait_until(predicate, timeout_s: float = 30, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def runner(workspace: Workspace) -> Iterator[JobRunner]:
    """A runner; the test fails if it leaves a job process running."""
    yield JobRunner(workspace)
    deadline = time.monotonic() + 10
    while True:
        alive = [p for p in psutil.Process().children(recursive=True)
                 if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for process in alive:
        process.kill()
    assert not alive, f"job processes left running: {alive}"


def progress_of(events: list[ProgressEvent]) -> list[ProgressEvent]:
    return [e for e in events if e.type == "progress"]


# -- real child processes ----------------------------------------------------------------

def test_a_job_succeeds_with_its_result(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 5, "delay_s": 0})
    events, final = collect(handle)
    assert final.state == "succeeded" and final.error is None
    assert final.result == {"counted": 5}
    assert final.started and final.ended and final.pid == handle._process.pid
    assert handle._process.returncode == 0

    stored = JobStore(runner.workspace).get(handle.job_id)
    assert stored == final
    kind, config = runner.store.config(handle.job_id)
    assert (kind, config) == ("selftest", SelfTestConfig(steps=5, delay_s=0).model_dump())
    states = [e.state for e in events if e.type == "state"]
    assert states == ["running", "succeeded"]
    assert [e.message for e in events if e.type == "log"] == ["counting to 5"]
    actions = [e.action for e in runner.workspace.audit.entries()]
    assert actions[-3:] == ["job.create", "job.start", "job.succeeded"]
    assert runner.workspace.audit.verify().ok


def test_progress_streams_while_the_job_runs(runner: JobRunner) -> None:
    steps = 8
    handle = runner.submit("selftest", {"steps": steps, "delay_s": 0.15})
    seen_before_end = 0
    events: list[ProgressEvent] = []
    while True:
        new, final = handle.poll()
        events.extend(new)
        if final is not None:
            break
        seen_before_end = len(progress_of(events))
        time.sleep(0.02)
    assert final.state == "succeeded"
    assert seen_before_end >= steps // 2, "progress only arrived at the end"

    progress = progress_of(events)
    assert [e.step for e in progress] == list(range(1, steps + 1))
    assert {e.total for e in progress} == {steps}
    assert progress[-1].fraction == 1.0
    assert progress[0].eta_s is None and progress[0].tokens_per_s is None
    for event in progress[1:]:
        assert event.eta_s is not None and event.eta_s >= 0
        # 100 tokens a step, at most one step per 0.15 s
        assert 0 < event.tokens_per_s <= 100 / 0.15 * 1.05
    assert (steps - 2) * 0.15 * 0.9 <= progress[1].eta_s <= (steps - 2) * 0.15 * 5
    assert progress[-1].eta_s == 0.0
    assert [e.metrics for e in progress] == [{"score": float(s)} for s in range(1, steps + 1)]
    elapsed = [e.elapsed_s for e in progress]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= (steps - 1) * 0.15
    assert runner.store.last_progress(handle.job_id) == progress[-1]


def test_a_user_error_fails_the_job_with_its_message(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 5, "delay_s": 0, "fail_at_step": 2})
    events, final = collect(handle)
    assert final.state == "failed"
    assert final.error == "Self-test failed on purpose at step 2."
    assert final.result == {}
    assert handle._process.returncode == 1
    assert [e.step for e in progress_of(events)] == [1]
    assert "Traceback" not in runner.store.log_tail(handle.job_id)
    assert runner.workspace.audit.entries()[-1].action == "job.failed"


def test_a_crashing_process_is_failed_with_the_log_tail(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 5, "delay_s": 0, "crash_at_step": 3})
    _, final = collect(handle)
    assert final.state == "failed"
    assert "ended unexpectedly" in final.error and "exit code 3" in final.error
    assert "simulating a crash at step 3" in final.error  # the last line of its log
    assert runner.store.last_progress(handle.job_id).step == 2
    assert JobStore(runner.workspace).get(handle.job_id).state == "failed"


def test_cancel_stops_a_long_job_cleanly(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 1000, "delay_s": 0.05})  # ~50 s
    wait_until(lambda: runner.store.last_progress(handle.job_id) is not None,
               what="first progress")
    started = time.monotonic()
    handle.cancel()
    events, final = collect(handle, timeout_s=20)
    assert time.monotonic() - started < 5
    assert final.state == "cancelled" and final.error is None
    assert final.cancel_requested
    assert handle._process.returncode == 130  # the child ended itself, it was not killed
    assert [e.state for e in events if e.type == "state"][-1] == "cancelled"
    assert runner.store.last_progress(handle.job_id).step < 100
    assert "Traceback" not in runner.store.log_tail(handle.job_id)
    handle.cancel()  # cancelling a finished job is a no-op
    assert runner.store.read_status(handle.job_id).state == "cancelled"


def test_a_job_deaf_to_cancel_is_killed_after_the_grace_period(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 3, "delay_s": 30})  # sleeps through SIGTERM
    wait_until(lambda: runner.store.read_status(handle.job_id).state == "running",
               what="the job to start")
    time.sleep(0.3)
    started = time.monotonic()
    handle.cancel(grace_s=0.5)
    _, final = collect(handle, timeout_s=20)
    assert time.monotonic() - started < 10
    assert handle._process.returncode == -signal.SIGKILL
    assert final.state == "cancelled"
    assert "stopped before it finished" in final.error


def test_a_job_killed_from_outside_is_reconciled_as_failed(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 1000, "delay_s": 0.05})
    wait_until(lambda: runner.store.last_progress(handle.job_id) is not None,
               what="first progress")
    pid = runner.store.read_status(handle.job_id).pid
    assert pid == handle._process.pid
    os.kill(pid, signal.SIGKILL)

    # Another window (or a restarted app) looks at the job: no handle, only the store.
    other = JobStore(Workspace.open(runner.workspace.root))
    wait_until(lambda: other.get(handle.job_id).state != "running", timeout_s=10,
               what="reconciliation")
    status = other.get(handle.job_id)
    assert status.state == "failed"
    assert "ended unexpectedly" in status.error
    assert other.read_status(handle.job_id).state == "failed"  # written, not just reported
    handle._process.wait(timeout=10)
    assert [j.state for j in other.list()] == ["failed"]


def test_attaching_to_a_running_job_follows_it_to_the_end(runner: JobRunner) -> None:
    handle = runner.submit("selftest", {"steps": 6, "delay_s": 0.1})
    attached = JobRunner(Workspace.open(runner.workspace.root)).attach(handle.job_id)
    events, final = collect(attached)
    assert final.state == "succeeded" and final.result == {"counted": 6}
    assert [e.step for e in progress_of(events)][-1] == 6
    assert [h.job_id for h in runner.running()] == []
    handle.wait(30)


def test_an_invalid_config_is_refused_at_submit_with_every_problem(runner: JobRunner) -> None:
    with pytest.raises(ConfigError) as caught:
        runner.submit("selftest", {"steps": 0, "delay_s": -1, "colour": "red"})
    message = str(caught.value)
    for problem in ("steps", "delay_s", "colour"):
        assert problem in message
    assert message.count(";") == 2
    assert list(runner.workspace.runs_dir.iterdir()) == []  # no job folder was made

    with pytest.raises(JobError, match="Unknown job kind 'train-the-world'") as unknown:
        runner.submit("train-the-world", {})
    assert "selftest" in str(unknown.value)


def test_unknown_job_ids_are_refused(runner: JobRunner) -> None:
    for job_id in ("nope", "../../etc", ".hidden"):
        with pytest.raises(JobError, match="No job"):
            runner.store.get(job_id)


def test_rerun_starts_a_new_job_from_the_saved_config(runner: JobRunner) -> None:
    first = runner.submit("selftest", {"steps": 2, "delay_s": 0})
    assert first.wait(60).state == "succeeded"
    with pytest.raises(JobError, match="only a queued job can start"):
        runner.start(first.job_id)
    again = runner.rerun(first.job_id)
    assert again.job_id != first.job_id
    assert again.wait(60).result == {"counted": 2}
    assert runner.store.config(again.job_id) == runner.store.config(first.job_id)


# -- reading the event stream --------------------------------------------------------------

def test_read_events_leaves_a_partial_last_line_for_later(tmp_path: Path) -> None:
    lines = [ProgressEvent(type="progress", time=1.0, step=s, total=3).to_line()
             for s in (1, 2, 3)]
    path = tmp_path / EVENTS_FILE
    complete = (lines[0] + "\n" + "garbage that is not json\n" + lines[1] + "\n").encode()
    path.write_bytes(complete + lines[2][:10].encode())

    events, offset = read_events(tmp_path)
    assert [e.step for e in events] == [1, 2]
    assert offset == len(complete)

    with open(path, "ab") as handle:
        handle.write(lines[2][10:].encode() + b"\n")
    more, offset2 = read_events(tmp_path, offset)
    assert [e.step for e in more] == [3]
    assert offset2 == path.stat().st_size
    assert read_events(tmp_path, offset2) == ([], offset2)
    assert read_events(tmp_path / "missing", 0) == ([], 0)


def test_progress_event_round_trip() -> None:
    event = ProgressEvent(type="progress", time=12.5, step=3, total=4, message="m",
                          eta_s=1.5, tokens_per_s=10.0, metrics={"loss": 0.5})
    assert ProgressEvent.from_line(event.to_line()) == event
    assert ProgressEvent.from_line('{"type": "log", "time": 1, "new_field": 2}').type == "log"
    assert event.fraction == 0.75
    assert ProgressEvent(type="progress", time=0, step=5, total=0).fraction is None


# -- what a job function sees ----------------------------------------------------------------

def test_check_cancelled_raises_when_asked_to_stop(tmp_path: Path) -> None:
    stop = {"now": False}
    ctx = JobContext(tmp_path, lambda: stop["now"])
    ctx.check_cancelled()
    assert not ctx.cancelled()
    stop["now"] = True
    assert ctx.cancelled()
    with pytest.raises(JobCancelled):
        ctx.check_cancelled()


def test_a_job_function_stops_at_its_next_cancel_point(tmp_path: Path) -> None:
    seen: list[ProgressEvent] = []
    ctx = JobContext(tmp_path, lambda: len([e for e in seen if e.type == "progress"]) >= 3,
                     sink=seen.append)
    with pytest.raises(JobCancelled):
        run_selftest(SelfTestConfig(steps=10, delay_s=0), ctx)
    assert [e.step for e in seen if e.type == "progress"] == [1, 2, 3]
    on_disk, _ = read_events(tmp_path)
    assert on_disk == seen


def test_report_is_throttled_unless_it_matters(tmp_path: Path) -> None:
    ctx = JobContext(tmp_path, min_interval_s=60)
    for step in range(0, 11):
        ctx.report(step, 10)
    ctx.report(5, 10, loss=1.0)  # metrics are always written
    ctx.report(6, 10, force=True)
    events, _ = read_events(tmp_path)
    assert [(e.step, e.metrics) for e in events] == [
        (0, {}), (10, {}), (5, {"loss": 1.0}), (6, {})]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_estimator_with_a_fake_clock() -> None:
    clock = FakeClock()
    eta = EtaEstimator(clock)
    clock.now = 101.0
    assert eta.eta(1, 11) is None  # the first step only starts the measurement
    clock.now = 103.0
    assert eta.eta(3, 11) == pytest.approx(8.0)  # 1 step/s, 8 steps left
    clock.now = 105.0
    assert eta.eta(3, 11) == pytest.approx(16.0)  # stalled: the average rate halves
    clock.now = 106.0
    assert eta.eta(11, 11) == 0.0
    assert eta.eta(1, 11) is None  # no step beyond the first
    assert eta.eta(5, 0) is None  # unknown total
    assert eta.elapsed == pytest.approx(6.0)


def test_a_new_phase_has_its_own_rate() -> None:
    """A 95 s model load, then 2 s training steps: at step 3 the ETA is the steps' (issue 16
    saw the load averaged into it)."""
    clock = FakeClock()
    eta = EtaEstimator(clock)
    assert eta.eta(0, 1) is None  # "loading the model"
    clock.now += 95
    assert eta.eta(0, 100) is None  # training starts: a new phase
    clock.now += 6
    assert eta.eta(3, 100) == pytest.approx(97 * 2.0)


def test_tokens_per_second_with_a_fake_clock() -> None:
    clock = FakeClock()
    eta = EtaEstimator(clock)
    assert eta.tokens_per_s(1000) is None
    clock.now = 102.0
    assert eta.tokens_per_s(3000) == pytest.approx(1000.0)
    clock.now = 104.0
    assert eta.tokens_per_s(3000) == pytest.approx(500.0)
    assert eta.tokens_per_s(500) is None  # a counter that went back gives no rate


def test_every_kind_declares_a_result_model_and_wrong_shapes_are_refused() -> None:
    from core.errors import JobError
    from core.jobs import results
    from core.jobs.kinds import KINDS, check_result
    from core.jobs.results import MergeResult, result_of
    from core.jobs.store import JobStatus

    for kind in KINDS.values():
        assert issubclass(getattr(results, kind.result), results.JobResult), kind.name
    check_result("merge", {"model_id": "m", "tensors": 3, "more": "kept"})
    with pytest.raises(JobError, match="Invalid merge result: model_id"):
        check_result("merge", {"tensors": 3})
    done = JobStatus(id="j", kind="merge", title="", state="succeeded",
                     result={"model_id": "m"})
    assert result_of(done, MergeResult).model_id == "m"  # type: ignore[union-attr]
    assert result_of(done.model_copy(update={"state": "failed"}), MergeResult) is None
    assert result_of(done.model_copy(update={"result": {}}), MergeResult) is None


def test_the_last_progress_is_read_from_the_end_of_a_long_events_file(tmp_path: Path) -> None:
    """A job list reads each job's latest progress; a long run's thousands of events are
    not all parsed for it, and a cut or partial line at either end is no event."""
    from core.jobs.progress import TAIL_BYTES, last_progress_event

    assert last_progress_event(tmp_path) is None  # no events file yet
    lines = [ProgressEvent(type="progress", time=float(i), step=i, total=5000).to_line() + "\n"
             for i in range(5000)]
    logs = [ProgressEvent(type="log", time=0.0, message="x" * 200).to_line() + "\n"
            for _ in range(2 * TAIL_BYTES // 200)]  # the tail: only log lines
    (tmp_path / EVENTS_FILE).write_text("".join(lines + logs) + '{"type": "progress", "st')
    event = last_progress_event(tmp_path)
    assert event is not None and event.step == 4999  # found past the tail, in the whole file
    (tmp_path / EVENTS_FILE).write_text("".join(lines))
    assert last_progress_event(tmp_path).step == 4999
