"""Killed jobs: a job process that dies with SIGKILL (power cut, OOM killer, ``kill -9``)
is reported as failed, and the workspace it leaves behind is usable.

- training: killed at pseudo-random steps and while a checkpoint is being written; the
  status turns ``failed``, ``resume=true`` finishes the run and registers exactly one
  adapter, and no half-written model folder is ever listed;
- registration: a crash inside ``ModelRegistry.create`` leaves a staging folder that is
  neither listed nor mistaken for a model, even when its record was already written;
- indexing: killed mid-update, the index stays readable and searchable at its last
  commit, and a re-run completes with nothing out of date.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.workspaces import TINY_BASE, add_text_document, tiny_training_workspace

from core.jobs import JobRunner
from core.jobs.progress import ProgressEvent
from core.jobs.runner import JobHandle
from core.jobs.store import JobStatus, JobStore
from core.training.callbacks import STEP_DELAY_ENV
from core.training.checkpoints import checkpoints, is_complete, latest_complete
from core.training.config import TrainConfig, build_config
from core.training.job import CHECKPOINTS
from core.workspace import Workspace
from core.workspace.registry import RECORD, ModelRecord, ModelRegistry

MAX_STEPS = 8
TRAIN_OVERRIDES = [
    f"max_steps={MAX_STEPS}", "save_every=2", "keep_checkpoints=2", "eval_every=0",
    "learning_rate=0.01", "batch_size=4", "max_length=64", "warmup_ratio=0", "seed=7",
    "deterministic=true",
]
STEP_DELAY_S = "0.25"  # slows the killed run down so that each kill lands mid-run
JOB_TIMEOUT_S = 240.0


# -- helpers ---------------------------------------------------------------------------
def _train_config(dataset: str, *extra: str) -> TrainConfig:
    return build_config("sft", base=TINY_BASE, dataset=dataset,
                        overrides=[*TRAIN_OVERRIDES, *extra])


def _sigkill(handle: JobHandle) -> None:
    """SIGKILL the job's process group (the child runs in a session of its own)."""
    pid = handle.status.pid
    assert pid, "the job never recorded its pid"
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def _wait_until(handle: JobHandle, condition: Callable[[list[ProgressEvent]], bool],
                timeout_s: float = JOB_TIMEOUT_S, interval_s: float = 0.05) -> None:
    """Poll the running job until ``condition(all events so far)``; fail if it ends first."""
    seen: list[ProgressEvent] = []
    deadline = time.monotonic() + timeout_s
    while True:
        events, final = handle.poll()
        seen.extend(events)
        if condition(seen):
            return
        assert final is None, f"the job ended before it could be killed: {final}"
        assert time.monotonic() < deadline, "the job made no progress in time"
        time.sleep(interval_s)


def _last_step(events: list[ProgressEvent]) -> int:
    return max((e.step for e in events if e.type == "progress"), default=0)


def _assert_reported_failed(workspace: Workspace, handle: JobHandle) -> JobStatus:
    """The killed job reads as failed, from a fresh store (another window, the CLI)
    as well as from the handle that started it; it does not stay 'running'."""
    store = JobStore(workspace)
    deadline = time.monotonic() + 30
    status = store.get(handle.job_id)
    while status.state == "running":
        assert time.monotonic() < deadline, "a killed job is still reported as running"
        time.sleep(0.1)
        status = store.get(handle.job_id)
    assert status.state == "failed", status
    assert status.error and "ended unexpectedly" in status.error
    assert handle.wait(30).state == "failed"
    assert [j.id for j in store.list() if j.state == "running"] == []
    return status


def _assert_registry_clean(workspace: Workspace, adapters: int) -> list[ModelRecord]:
    registry = ModelRegistry(workspace)
    records = registry.list()
    assert [r.id for r in records if r.kind == "base"] == [TINY_BASE]
    found = [r for r in records if r.kind == "adapter"]
    assert len(found) == adapters, [r.id for r in found]
    folders = sorted(p.name for p in registry.root.iterdir())
    assert folders == sorted(r.id for r in records), "a staging or orphan folder was left"
    assert registry.orphans() == []
    for record in records:
        assert registry.verify(record.id) == []
    return found


# -- training --------------------------------------------------------------------------
@pytest.fixture
def killable_training(workspace: Workspace, tiny_model_dir: Path) -> dict[str, str]:
    """The tiny base registered and its datasets committed; returns the dataset ids."""
    return tiny_training_workspace(workspace, tiny_model_dir)


def _kill_after_random_steps(seed: int) -> Callable[[JobHandle, Path], str]:
    steps = random.Random(seed).randint(1, MAX_STEPS - 1)

    def kill(handle: JobHandle, _checkpoints: Path) -> str:
        _wait_until(handle, lambda events: _last_step(events) >= steps)
        _sigkill(handle)
        return f"after step {steps}"

    return kill


def _kill_while_checkpointing(handle: JobHandle, folder: Path) -> str:
    """Kill as soon as a checkpoint folder exists without its completion marker.

    The window is short (a tiny adapter saves in milliseconds), so the folder is polled
    tightly; if every save slips through, the job is killed right after the last one and
    the test still checks that resume copes (the description says which happened)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        found = checkpoints(folder)
        torn = [p for p in found if not is_complete(p)]
        if torn:
            _sigkill(handle)
            return f"while writing {torn[-1].name}"
        if any(p.name == f"checkpoint-{MAX_STEPS - 2}" for p in found):
            _sigkill(handle)
            return "after the last scheduled checkpoint (the save window was missed)"
        _, final = handle.poll()
        assert final is None, f"the job ended before it could be killed: {final}"
        assert time.monotonic() < deadline, "the job wrote no checkpoint in time"
        time.sleep(0.002)


KILLS: dict[str, Callable[[JobHandle, Path], str]] = {
    "seed-1": _kill_after_random_steps(1),
    "seed-2": _kill_after_random_steps(2),
    "mid-checkpoint": _kill_while_checkpointing,
}


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("when", list(KILLS))
def test_sigkilled_training_is_reported_and_resumes(
        workspace: Workspace, killable_training: dict[str, str], when: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = killable_training["sft"]
    runner = JobRunner(workspace, threads=1)
    monkeypatch.setenv(STEP_DELAY_ENV, STEP_DELAY_S)
    killed = runner.submit("train", _train_config(dataset))
    folder = workspace.root / "runs" / killed.job_id / CHECKPOINTS
    how = KILLS[when](killed, folder)
    print(f"killed {how}")  # shown with -s, or on failure
    _assert_reported_failed(workspace, killed)
    monkeypatch.delenv(STEP_DELAY_ENV)

    left = checkpoints(folder)
    torn = [p for p in left if not is_complete(p)]
    resume_from = latest_complete(folder)
    _assert_registry_clean(workspace, adapters=0)  # nothing was registered

    resumed = runner.submit("train", _train_config(dataset, "resume=true"))
    status = resumed.wait(JOB_TIMEOUT_S)
    assert status.state == "succeeded", (how, status.error, JobStore(workspace).log_tail(
        resumed.job_id))
    assert status.result["metrics"]["steps"] == MAX_STEPS

    events, _ = JobStore(workspace).events(resumed.job_id)
    loss_steps = [e.step for e in events if "loss" in e.metrics]
    logs = [e.message for e in events if e.type == "log"]
    if resume_from is not None:
        assert f"resuming from {killed.job_id}/{resume_from.name}" in logs, (how, logs)
        assert loss_steps[0] == int(resume_from.name.split("-")[1]) + 1, how
    else:  # killed before the first complete checkpoint: a fresh start
        assert loss_steps[0] == 1, how
    assert all(not p.exists() for p in torn), "an incomplete checkpoint was kept"
    assert all(is_complete(p) for p in checkpoints(folder))

    adapter = _assert_registry_clean(workspace, adapters=1)[0]
    assert adapter.id == status.result["model_id"]
    assert adapter.config["run"] == resumed.job_id
    assert adapter.parents == (TINY_BASE,)


# -- registration ----------------------------------------------------------------------
def test_a_crash_inside_registry_create_leaves_no_listed_model(
        workspace: Workspace) -> None:
    """``create`` stages into ``models/.<id>.*.partial`` and renames it into place last; a
    kill before the rename leaves the staging folder, whose record (written just before
    the rename) must not make it a model."""
    registry = ModelRegistry(workspace)
    record = ModelRecord(id="half", name="Half", kind="adapter", architecture="Tiny")

    class Killed(BaseException):
        """Stands in for SIGKILL: nothing in ``create`` may catch it."""

    with pytest.raises(Killed), registry.create("half", lambda _folder: record) as folder:
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
        raise Killed
    assert not registry.exists("half") and list(registry.root.iterdir()) == []

    # what a real SIGKILL leaves (no cleanup runs): a staging folder, with and without
    # the record that ``create`` writes just before the rename
    for name, with_record in ((".half.k1l2.partial", True), (".torn.z9y8.partial", False)):
        staging = registry.root / name
        staging.mkdir()
        (staging / "adapter_model.safetensors").write_bytes(b"half a file")
        if with_record:
            (staging / RECORD).write_text(record.model_dump_json(), encoding="utf-8")
    assert registry.list() == []
    assert not registry.exists("half")
    assert sorted(p.name for p in registry.orphans()) == [".half.k1l2.partial",
                                                          ".torn.z9y8.partial"]
    with registry.create("half", lambda _folder: record) as folder:  # the id is still free
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    assert [r.id for r in registry.list()] == ["half"]


# -- indexing --------------------------------------------------------------------------
WORDS = ("proposal staffing transition security hosting migration helpdesk audit "
         "schedule pricing warranty training acceptance reporting continuity backup "
         "network database analytics licensing compliance onboarding escalation").split()


def _add_documents(workspace: Workspace, folder: Path, first: int, count: int) -> None:
    rng = random.Random(first)
    for number in range(first, first + count):
        paragraphs = [
            f"Document {number} section {p}: " + " ".join(rng.choice(WORDS) for _ in range(50))
            for p in range(4)
        ]
        add_text_document(workspace, folder, f"doc-{number:03d}.md", "\n".join(paragraphs))


def _chunk_ids(workspace: Workspace) -> Counter[str]:
    from core.retrieval.store import CHUNKS, connect, open_pinned, require_active

    table = open_pinned(connect(workspace), require_active(workspace), CHUNKS)
    rows = table.search().select(["chunk_id"]).limit(max(1, table.count_rows())).to_list()
    return Counter(row["chunk_id"] for row in rows)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkilled_index_update_keeps_the_last_commit_and_reruns(
        workspace: Workspace, tmp_path: Path) -> None:
    from core.retrieval.index import BATCH_DOCUMENTS, index_status, update_index
    from core.retrieval.search import search

    sources = tmp_path / "sources"
    _add_documents(workspace, sources, 0, 4)
    update_index(workspace)  # the previous generation: four documents
    before = index_status(workspace)
    assert before["documents"] == 4 and before["out_of_date"] == []
    assert search(workspace, "Document 2 section 3 staffing", k=3)

    total = 2 * BATCH_DOCUMENTS + 8
    _add_documents(workspace, sources, 4, total)
    runner = JobRunner(workspace, threads=1)
    killed = runner.submit("index-documents", {})
    # past the first batch (committed), well before the last
    _wait_until(killed, lambda events: _last_step(events) > BATCH_DOCUMENTS, interval_s=0.02)
    _sigkill(killed)
    _assert_reported_failed(workspace, killed)

    status = index_status(workspace)  # readable, at the last commit
    assert status["built"] and not status["rebuild_in_progress"]
    assert 4 + BATCH_DOCUMENTS <= status["documents"] < 4 + total
    assert status["out_of_date"], "the kill landed after the last document"
    hits = search(workspace, "Document 2 section 3 staffing", k=3)
    assert hits and len({h.chunk_id for h in hits}) == len(hits)
    counts = _chunk_ids(workspace)
    assert sum(counts.values()) == status["chunks"] and max(counts.values()) == 1

    rerun = runner.submit("index-documents", {})
    final = rerun.wait(JOB_TIMEOUT_S)
    assert final.state == "succeeded", (final.error, JobStore(workspace).log_tail(rerun.job_id))
    after = index_status(workspace)
    assert after["out_of_date"] == [] and not after["rebuild_in_progress"]
    assert after["documents"] == 4 + total
    counts = _chunk_ids(workspace)  # rows written after the last commit were rolled back
    assert sum(counts.values()) == after["chunks"] and max(counts.values()) == 1
    assert search(workspace, f"Document {total} section 1", k=3)
