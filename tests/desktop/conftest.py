"""Desktop test fixtures: a main window on a fresh workspace, and a leak check."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop.jobs_monitor import JobMonitor  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.ops import wait_for_ops  # noqa: E402
from desktop.qt import QDialog, QMessageBox, QThreadPool  # noqa: E402
from desktop.state import AppState  # noqa: E402

# Started once per process by a library and kept for its lifetime (not a leak).
PROCESS_THREADS = {"LanceDBBackgroundEventLoop"}


@pytest.fixture(autouse=True)
def no_dangling_threads(qapp) -> Iterator[None]:  # noqa: ANN001
    """Fail a test that leaves a worker thread or a Python thread running."""
    before = {t.ident for t in threading.enumerate()}
    yield
    assert wait_for_ops(10_000), "an operation's worker thread is still running"
    # Collect this test's garbage now, on the GUI thread: left to chance, Python's cyclic
    # collector may run on an operation's worker thread in a later test and destroy Qt
    # objects there, which crashes (seen in CI as a segfault inside a worker's pathlib call).
    gc.collect()
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    # A thread Python did not start (a Qt pool thread that ran Python code) stays listed
    # as a _DummyThread for as long as the pool keeps it; the pool check above covers it.
    left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()
            and t.name not in PROCESS_THREADS
            and not isinstance(t, threading._DummyThread)]  # type: ignore[attr-defined]
    assert not left, f"threads left running: {left}"


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch) -> Iterator[None]:  # noqa: ANN001
    """A modal dialog would wait forever with no one to click it: answer it and fail.

    A test that expects a question replaces the pane's asking method instead.
    """
    opened: list[str] = []

    def refuse(dialog) -> int:  # noqa: ANN001
        opened.append(f"{type(dialog).__name__} {dialog.windowTitle()!r}")
        return int(QDialog.DialogCode.Rejected.value)

    monkeypatch.setattr(QDialog, "exec", refuse)
    monkeypatch.setattr(QMessageBox, "exec", refuse)
    yield
    assert not opened, f"a modal dialog opened during the test: {opened}"


@pytest.fixture
def app_state(workspace) -> AppState:  # noqa: ANN001
    return AppState()


@pytest.fixture
def window(qtbot, app_state: AppState, workspace) -> Iterator[MainWindow]:  # noqa: ANN001
    monitor = JobMonitor()
    win = MainWindow(app_state, monitor)
    qtbot.addWidget(win)
    app_state.set_workspace(workspace)
    win.show()
    yield win
    monitor.cancel_all()
    for handle in list(monitor.handles.values()):
        handle.wait(30)
