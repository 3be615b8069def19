"""Heavy jobs take turns (issue 17): a heavy job waits, reported as queued, while another
holds the workspace's slot; it can be cancelled while it waits; more slots let more run."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

import psutil
import pytest
from test_jobs import collect, wait_until

from core.jobs import JobRunner, JobStore
from core.jobs.slots import heavy_slot, is_heavy
from core.settings import Settings, save_settings
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(180)


def _hold_slot(stack: ExitStack, store: JobStore) -> None:
    """This test process takes the slot, as a running training job would."""
    holder = store.create("index-documents", {}, title="Fine-tune")
    store.update_status(holder.id, state="running", pid=os.getpid(),
                        pid_started=psutil.Process().create_time())
    stack.enter_context(heavy_slot(store, store.read_status(holder.id), 1, lambda: False,
                                   lambda _: None))


def _queued_messages(store: JobStore, job_id: str) -> list[str]:
    events, _ = store.events(job_id)
    return [e.message for e in events if e.message.startswith("Waiting for")]


def test_which_kinds_wait_for_their_turn() -> None:
    assert is_heavy("train") and is_heavy("index-documents") and is_heavy("export")
    assert not is_heavy("draft-proposal") and not is_heavy("selftest")
    assert not is_heavy("no-such-kind")


def test_a_heavy_job_waits_for_the_running_one_then_runs(workspace: Workspace) -> None:
    store, runner = JobStore(workspace), JobRunner(workspace)
    with ExitStack() as stack:
        _hold_slot(stack, store)
        handle = runner.submit("index-documents", {})
        wait_until(lambda: _queued_messages(store, handle.job_id), what="the queued message")
        assert "Waiting for “Fine-tune” to finish" == _queued_messages(store, handle.job_id)[0]
        time.sleep(1.0)
        assert handle.status.state == "queued" and handle.poll()[1] is None
        light = runner.submit("selftest", {"steps": 2, "delay_s": 0.01})
        assert collect(light)[1].state == "succeeded"  # light jobs never wait
    _, final = collect(handle)  # the slot is free: it runs
    assert final.state == "succeeded", final.error


def test_a_queued_job_can_be_cancelled_while_it_waits(workspace: Workspace) -> None:
    store, runner = JobStore(workspace), JobRunner(workspace)
    with ExitStack() as stack:
        _hold_slot(stack, store)
        handle = runner.submit("index-documents", {})
        wait_until(lambda: _queued_messages(store, handle.job_id), what="the queued message")
        asked = time.monotonic()
        handle.cancel()
        _, final = collect(handle, timeout_s=20)
        assert final.state == "cancelled" and time.monotonic() - asked < 5


def test_two_slots_let_a_second_heavy_job_run(workspace: Workspace) -> None:
    save_settings(Settings(heavy_jobs=2))
    store, runner = JobStore(workspace), JobRunner(workspace)
    with ExitStack() as stack:
        _hold_slot(stack, store)
        handle = runner.submit("index-documents", {})
        _, final = collect(handle)
        assert final.state == "succeeded" and not _queued_messages(store, handle.job_id)


def test_queued_jobs_start_in_the_order_they_were_queued(workspace: Workspace) -> None:
    store, runner = JobStore(workspace), JobRunner(workspace)
    with ExitStack() as stack:
        _hold_slot(stack, store)
        first = runner.submit("index-documents", {})
        wait_until(lambda: _queued_messages(store, first.job_id), what="the first to queue")
        second = runner.submit("index-documents", {})
        wait_until(lambda: _queued_messages(store, second.job_id), what="the second to queue")
        assert _queued_messages(store, second.job_id)[-1].endswith(
            "; 1 more job is ahead of this one")
    finals = [collect(handle)[1] for handle in (first, second)]
    assert all(f.state == "succeeded" for f in finals)
    assert finals[0].started < finals[1].started and finals[0].ended <= finals[1].started
