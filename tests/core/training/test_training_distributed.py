"""Multi-process training on this CPU machine: 2 ranks over gloo, DDP and FSDP.

Two processes with half the batch each follow the same loss curve as one process with the
whole batch; an FSDP run cancelled after a sharded checkpoint resumes to the same end; a
failure on one rank ends the job with that rank's message. Dropout is off so the curves
can be compared step by step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import JobCancelled
from core.training import distributed
from core.training.callbacks import STEP_DELAY_ENV
from core.training.checkpoints import latest_complete
from core.training.job import CHECKPOINTS
from core.workspace import Workspace

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
COMMON = ["max_steps=6", "save_every=3", "eval_every=0", "lora.dropout=0", "keep_checkpoints=3"]
ONE = [*COMMON, "batch_size=4", "nproc=1"]
TWO = [*COMMON, "batch_size=2", "nproc=2", "device=cpu"]


def _curve(recorder) -> list[tuple[int, float]]:  # noqa: ANN001
    return [(e.step, e.metrics["loss"]) for e in recorder.events if "loss" in e.metrics]


def _events_curve(job_dir: Path) -> list[tuple[int, float]]:
    curve = []
    for line in (job_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if "loss" in event.get("metrics", {}):
            curve.append((event["step"], event["metrics"]["loss"]))
    return curve


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple:
    """One process, batch 4: the curve the two-process runs must follow."""
    from helpers.tiny_model import training_lines
    from training_fixtures import Recorder, build_datasets, fast_config, register_tiny_base
    from transformers import AutoTokenizer

    from core.jobs.progress import JobContext
    from core.training.job import run_training

    workspace = Workspace.create(tmp_path_factory.mktemp("dist-ref") / "ws")
    register_tiny_base(workspace, tiny_model_dir)
    build_datasets(workspace, AutoTokenizer.from_pretrained(str(tiny_model_dir)),
                   training_lines(120))
    job_dir = workspace.root / "runs" / "run-one"
    job_dir.mkdir(parents=True)
    recorder = Recorder()
    result = run_training(fast_config("cpt", "cpt-v1", *ONE), JobContext(job_dir, sink=recorder))
    return result, _curve(recorder)


def _assert_same_curve(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [s for s, _ in got] == [s for s, _ in want]
    for (step, loss), (_, expected) in zip(got, want, strict=True):
        assert loss == pytest.approx(expected, rel=2e-3), f"step {step}"


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_follow_the_one_process_curve(train_workspace: Workspace, train_run,
                                                    reference, strategy: str) -> None:  # noqa: ANN001
    result, recorder = train_run(train_workspace, "cpt", *TWO, f"strategy={strategy}",
                                 run_id=f"run-{strategy}")
    # rank 0 reports into the job's event stream, which the app and the CLI follow
    _assert_same_curve(_events_curve(train_workspace.root / "runs" / f"run-{strategy}"),
                       reference[1])
    metrics = result["metrics"]
    assert metrics["processes"] == 2 and metrics["steps"] == 6
    assert metrics["heldout_ppl_after"] == pytest.approx(
        reference[0]["metrics"]["heldout_ppl_after"], rel=2e-3)
    assert metrics["heldout_ppl_after"] < metrics["heldout_ppl_before"]
    logs = [e.message for e in recorder.events if e.type == "log"]
    assert any(f"2 training processes ({strategy.upper()}" in m for m in logs)


def test_fsdp_resumes_from_its_sharded_checkpoint(train_workspace: Workspace, train_run,
                                                  reference, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:  # noqa: ANN001
    monkeypatch.setenv(STEP_DELAY_ENV, "0.5")
    run = "run-fsdp-cancelled"
    checkpoints = train_workspace.root / "runs" / run / CHECKPOINTS

    def cancel_after_first_checkpoint() -> bool:
        return (checkpoints / "checkpoint-3" / ".complete").exists()

    with pytest.raises(JobCancelled, match="resume it with"):
        train_run(train_workspace, "cpt", *TWO, "strategy=fsdp", run_id=run,
                  cancelled=cancel_after_first_checkpoint)
    saved = latest_complete(checkpoints)
    assert saved is not None and int(saved.name.split("-")[1]) < 6
    shards = [p for p in saved.rglob("*.distcp")]
    assert len(shards) >= 2, "FSDP saves one shard per rank"
    monkeypatch.delenv(STEP_DELAY_ENV)

    result, recorder = train_run(train_workspace, "cpt", *TWO, "strategy=fsdp", f"resume={run}",
                                 run_id="run-fsdp-resumed")
    curve = _events_curve(train_workspace.root / "runs" / "run-fsdp-resumed")
    assert curve[0][0] == int(saved.name.split("-")[1]) + 1  # continued, not restarted
    _assert_same_curve(curve, [p for p in reference[1] if p[0] >= curve[0][0]])
    assert result["metrics"]["steps"] == 6


def test_a_failing_rank_ends_the_job_with_its_message(train_workspace: Workspace, train_run,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(distributed.FAIL_AT_ENV, "1:2")
    with pytest.raises(distributed.DistributedTrainingError,
                       match=r"failed on rank 1 of 2: RuntimeError: injected failure at step 2"):
        train_run(train_workspace, "cpt", *TWO, "strategy=ddp", run_id="run-fails")
    logs = train_workspace.root / "runs" / "run-fails" / distributed.FOLDER / distributed.LOGS
    assert list(logs.rglob("stderr.log")), "each rank's log is kept"


def test_killing_the_job_stops_every_rank(train_workspace: Workspace,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import time

    import psutil
    from training_fixtures import fast_config

    from core.jobs import JobRunner

    monkeypatch.setenv(STEP_DELAY_ENV, "1.0")
    handle = JobRunner(train_workspace).submit(
        "train", fast_config("cpt", "cpt-v1", *TWO, "max_steps=400", "save_every=1000"))
    events = train_workspace.root / "runs" / handle.job_id / "events.jsonl"
    deadline = time.monotonic() + 120
    while '"loss"' not in (events.read_text() if events.exists() else ""):
        assert time.monotonic() < deadline, "the ranks never reported a step"
        time.sleep(0.2)
    job = psutil.Process(handle.status.pid)
    ranks = job.children(recursive=True)
    assert len(ranks) >= 3  # torchrun and its two workers
    os.kill(job.pid, signal.SIGKILL)  # the job dies without a chance to clean up
    handle.wait(30)
    gone, alive = psutil.wait_procs(ranks, timeout=30)
    assert not alive, f"ranks left running: {[p.pid for p in alive]}"


@pytest.mark.parametrize(("recipe", "strategy"), [("sft", "fsdp"), ("dpo", "ddp")])
def test_the_other_recipes_run_on_two_processes(train_workspace: Workspace, train_run,
                                                recipe: str, strategy: str) -> None:  # noqa: ANN001
    result, _ = train_run(train_workspace, recipe, "max_steps=3", "save_every=3",
                          "eval_every=0", "batch_size=2", "nproc=2", "device=cpu",
                          f"strategy={strategy}", run_id=f"run-{recipe}-{strategy}")
    assert result["metrics"]["processes"] == 2 and result["metrics"]["steps"] == 3
    assert result["model_id"]


def test_a_full_disk_is_refused_before_the_ranks_start(train_workspace: Workspace, train_run,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from core import fsutil
    from core.errors import DiskSpaceError

    monkeypatch.setattr(fsutil, "free_bytes", lambda path: 1000)
    with pytest.raises(DiskSpaceError, match="training checkpoints"):
        train_run(train_workspace, "cpt", *TWO, run_id="run-full-disk")
    assert not (train_workspace.root / "runs" / "run-full-disk" / distributed.FOLDER).exists()
