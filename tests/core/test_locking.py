"""The workspace's inter-process file lock: exclusive across processes and threads,
private, kept after use, and a thread that takes a lock it holds is told so."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.workspace.locking import file_lock

HOLD = """
import sys, time
from core.workspace.locking import file_lock
with file_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_another_process_waits_for_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "sub" / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "0.6"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with file_lock(lock):
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=10)
    assert waited > 0.3, "the lock was taken while another process held it"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and lock.exists()


def test_another_thread_waits_and_nesting_raises(tmp_path: Path) -> None:
    lock = tmp_path / "y.lock"
    order: list[str] = []

    def other() -> None:
        with file_lock(lock):
            order.append("other")

    with file_lock(lock):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)
        order.append("first")
        with pytest.raises(RuntimeError, match="already holds"):
            with file_lock(lock):
                pass
    thread.join(timeout=10)
    assert order == ["first", "other"]
    with file_lock(lock):  # released after an error inside, and free again
        pass
