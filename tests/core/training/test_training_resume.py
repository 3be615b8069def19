"""Checkpoints and resume: a killed run continues from its last complete checkpoint and
ends where an uninterrupted run ends; incomplete checkpoints are discarded; cancel saves."""

from __future__ import annotations

import os
import signal
import time

import pytest
from training_fixtures import fast_config

from core.jobs import JobRunner
from core.training.callbacks import STEP_DELAY_ENV
from core.training.checkpoints import is_complete, latest_complete
from core.training.job import CHECKPOINTS
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(400)
STEPS = ["max_steps=12", "save_every=4", "eval_every=0", "keep_checkpoints=3"]


def _last_loss(recorder) -> float:  # noqa: ANN001
    return recorder.losses()[-1]


def test_killed_run_resumes_from_last_complete_checkpoint(
        train_workspace: Workspace, train_run, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    # the reference: the same config, uninterrupted
    reference, ref_events = train_run(train_workspace, "sft", *STEPS, run_id="run-reference")

    # the same run as a real job, killed with SIGKILL once checkpoint-4 is complete
    monkeypatch.setenv(STEP_DELAY_ENV, "0.3")
    runner = JobRunner(train_workspace)
    handle = runner.submit("train", fast_config("sft", "sft-v1", *STEPS))
    checkpoints = train_workspace.root / "runs" / handle.job_id / CHECKPOINTS
    deadline = time.monotonic() + 180
    while not (checkpoints / "checkpoint-4" / ".complete").exists():
        _, final = handle.poll()
        assert final is None, f"the job ended before it could be killed: {final}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = handle.status.pid
    assert pid
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    status = handle.wait(30)
    assert status.state == "failed"
    assert not (checkpoints / "checkpoint-12").exists()
    # a save interrupted mid-way leaves a folder without a marker: it must be ignored
    torn = checkpoints / "checkpoint-8"
    torn.mkdir(exist_ok=True)
    (torn / "adapter_model.safetensors").write_bytes(b"half a file")
    assert latest_complete(checkpoints).name == "checkpoint-4"
    monkeypatch.delenv(STEP_DELAY_ENV)

    resumed, events = train_run(train_workspace, "sft", *STEPS, f"resume={handle.job_id}",
                                run_id="run-resumed")
    assert not torn.exists()  # discarded, not resumed from
    logged_steps = [e.step for e in events.events if "loss" in e.metrics]
    assert logged_steps[0] == 5  # continued after checkpoint-4, not from scratch
    assert any("resuming from" in e.message for e in events.events if e.type == "log")
    assert resumed["metrics"]["steps"] == 12
    assert _last_loss(events) == pytest.approx(_last_loss(ref_events), rel=1e-3)
    assert resumed["metrics"]["heldout_ppl_after"] == pytest.approx(
        reference["metrics"]["heldout_ppl_after"], rel=1e-3)


def test_cancel_saves_a_checkpoint_that_resume_true_finds(train_workspace: Workspace,
                                                          train_run) -> None:  # noqa: ANN001
    from core.errors import JobCancelled
    from core.jobs.store import JobStore

    store = JobStore(train_workspace)
    config = fast_config("cpt", "cpt-v1", *STEPS)
    cancelled_job = store.create("train", config).id  # a run record, as the runner makes
    polls = {"n": 0}

    def cancel_after_a_while() -> bool:
        polls["n"] += 1
        return polls["n"] > 6

    with pytest.raises(JobCancelled, match="resume it with"):
        train_run(train_workspace, "cpt", *STEPS, run_id=cancelled_job,
                  cancelled=cancel_after_a_while)
    folder = train_workspace.root / "runs" / cancelled_job / CHECKPOINTS
    saved = latest_complete(folder)
    assert saved is not None and is_complete(saved)
    stopped_at = int(saved.name.split("-")[1])
    assert 0 < stopped_at < 12 and stopped_at % 4 != 0  # saved at the cancel, not a schedule
    store.update_status(cancelled_job, state="cancelled")

    result, events = train_run(train_workspace, "cpt", *STEPS, "resume=true", run_id="run-2")
    first = min(e.step for e in events.events if "loss" in e.metrics)
    assert first == stopped_at + 1 and result["metrics"]["steps"] == 12


def test_resume_from_a_run_without_checkpoints_is_a_clear_error(
        train_workspace: Workspace, train_run) -> None:  # noqa: ANN001
    from core.errors import ConfigError

    (train_workspace.root / "runs" / "empty-run").mkdir()
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        train_run(train_workspace, "cpt", "resume=empty-run")
    with pytest.raises(ConfigError, match="no run 'ghost'"):
        train_run(train_workspace, "cpt", "resume=ghost")
