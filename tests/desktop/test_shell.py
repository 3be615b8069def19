"""The desktop shell: window, sections, jobs with progress and cancel, models, settings."""

from __future__ import annotations

import json

import pytest

from core.errors import WorkspaceError
from core.jobs import JobStore
from core.settings import load_settings
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.errors import error_text, show_error
from desktop.main_window import SECTIONS, MainWindow
from desktop.qt import QMessageBox, QProgressBar, Qt


def test_window_opens_on_workspace_and_sections_switch(window: MainWindow, workspace) -> None:
    assert workspace.name in window.windowTitle()
    assert window.current_section() == "Overview"
    for name in SECTIONS:
        window.show_section(name)
        assert window.stack.currentWidget() is window.panes[name]
        assert window.current_section() == name
    assert str(workspace.root) in window.statusBar().currentMessage()


def test_without_workspace_shows_welcome(qtbot, app_state) -> None:  # noqa: ANN001
    from desktop.jobs_monitor import JobMonitor

    win = MainWindow(app_state, JobMonitor())
    qtbot.addWidget(win)
    assert win.stack.currentWidget() is win.welcome
    assert not win.sidebar.isEnabled()
    assert win.current_section() is None


def _job_row(window: MainWindow, job_id: str) -> int:
    return window.panes["Jobs"].rows[job_id]


@pytest.mark.timeout(120)
def test_job_progress_reaches_the_progress_bar(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    window.show_section("Jobs")
    job_id = window.monitor.submit("selftest", {"steps": 15, "delay_s": 0.05})
    pane = window.panes["Jobs"]
    qtbot.waitUntil(lambda: job_id in pane.bars, timeout=10_000)
    seen: list[int] = []
    window.monitor.event.connect(lambda jid, ev: seen.append(pane.bars[jid].value()))
    with qtbot.waitSignal(window.monitor.finished, timeout=60_000):
        pass
    bar: QProgressBar = pane.bars[job_id]
    assert bar.value() == bar.maximum()
    assert any(0 < value < bar.maximum() for value in seen), "no intermediate progress shown"
    state = pane.table.item(_job_row(window, job_id), 1).text()
    assert state == "succeeded"


@pytest.mark.timeout(120)
def test_cancel_button_stops_a_running_job(qtbot, window: MainWindow, workspace) -> None:  # noqa: ANN001
    window.show_section("Jobs")
    pane = window.panes["Jobs"]
    job_id = window.monitor.submit("selftest", {"steps": 2000, "delay_s": 0.05})
    qtbot.waitUntil(lambda: job_id in window.monitor.latest, timeout=30_000)
    pane.select_job(job_id)
    assert pane.cancel_button.isEnabled()
    with qtbot.waitSignal(window.monitor.finished, timeout=30_000) as finished:
        qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[1].state == "cancelled"
    assert JobStore(workspace).get(job_id).state == "cancelled"
    assert pane.bars[job_id].value() < pane.bars[job_id].maximum()
    assert not pane.cancel_button.isEnabled()


@pytest.mark.timeout(120)
def test_a_crashing_job_shows_why_and_the_app_goes_on(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    pane = window.panes["Jobs"]
    with qtbot.waitSignal(window.monitor.finished, timeout=60_000) as finished:
        job_id = window.monitor.submit("selftest", {"steps": 5, "delay_s": 0, "crash_at_step": 2})
    status = finished.args[1]
    assert status.state == "failed" and "ended unexpectedly" in status.error
    details = pane.table.item(_job_row(window, job_id), 4).text()
    assert "ended unexpectedly" in details
    pane.select_job(job_id)
    assert "simulating a crash" in pane.log.toPlainText()
    assert window.isVisible()


def _register(registry: ModelRegistry, model_id: str, kind: str, parents: tuple[str, ...]) -> None:
    record = ModelRecord(id=model_id, name=model_id, kind=kind, architecture="TinyForCausalLM",
                         parameters=1000, parents=parents, config={"recipe": kind})
    with registry.create(model_id, lambda folder: record) as folder:
        (folder / "weights.safetensors").write_bytes(b"x" * 10)


def test_models_pane_shows_lineage_and_details(qtbot, window: MainWindow, workspace) -> None:  # noqa: ANN001
    registry = ModelRegistry(workspace)
    _register(registry, "base-a", "base", ())
    _register(registry, "adapter-a", "adapter", ("base-a",))
    _register(registry, "gguf-a", "gguf", ("adapter-a",))
    window.state.models_changed.emit()
    pane = window.panes["Models"]
    tree = pane.tree
    assert tree.topLevelItemCount() == 1
    root = tree.topLevelItem(0)
    assert root.data(0, Qt.ItemDataRole.UserRole) == "base-a"
    child = root.child(0)
    assert child.data(0, Qt.ItemDataRole.UserRole) == "adapter-a"
    assert child.child(0).data(0, Qt.ItemDataRole.UserRole) == "gguf-a"
    tree.setCurrentItem(child.child(0))
    html = pane.details.toPlainText()
    assert "gguf-a ← adapter-a ← base-a" in html
    assert '"recipe": "gguf"' in html
    assert pane.import_button.isEnabled()  # the bundled base model is not imported here


def test_models_pane_verify_reports_an_altered_file(qtbot, window: MainWindow, workspace) -> None:  # noqa: ANN001
    registry = ModelRegistry(workspace)
    _register(registry, "base-b", "base", ())
    (registry.root / "base-b" / "weights.safetensors").write_bytes(b"tampered")
    window.state.models_changed.emit()
    pane = window.panes["Models"]
    pane.tree.setCurrentItem(pane.tree.topLevelItem(0))
    qtbot.mouseClick(pane.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "weights.safetensors" in pane.status.text(), timeout=10_000)


def test_settings_dialog_saves_threads(qtbot, window: MainWindow, monkeypatch) -> None:  # noqa: ANN001
    from desktop.dialogs.settings import SettingsDialog

    dialog = SettingsDialog(window.state.settings, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "Detecting" not in dialog.hardware.text(), timeout=30_000)
    assert "CPU threads" in dialog.hardware.text()
    dialog.threads.setValue(1)
    dialog.device.setCurrentIndex(1)
    assert dialog.precision.currentData() == "auto"
    dialog.precision.setCurrentIndex(dialog.precision.findData("float32"))
    window.state.update_settings(dialog.result_settings())
    saved = load_settings()
    assert saved.threads == 1 and saved.device == "cpu"
    assert saved.embedding_precision == "float32"


def test_errors_are_shown_in_one_dialog(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    message, details = error_text(WorkspaceError("No workspace at /x.", hint="create one"))
    assert message == "No workspace at /x. (create one)" and details is None
    try:
        raise ValueError("boom")
    except ValueError as bug:
        message, details = error_text(bug)
    assert "ValueError: boom" in message and "Traceback" in details
    show_error(window, WorkspaceError("Broken workspace."))
    box = window.findChild(QMessageBox, "errorBox")
    assert box is not None and box.text() == "Broken workspace."
    box.close()


def test_opening_a_missing_workspace_shows_an_error(qtbot, window: MainWindow, tmp_path) -> None:  # noqa: ANN001
    window.open_path(tmp_path / "nowhere")
    box = window.findChild(QMessageBox, "errorBox")
    assert box is not None and "does not exist" in box.text()
    box.close()


def test_recent_workspaces_are_remembered(window: MainWindow, workspace) -> None:
    assert str(workspace.root) in load_settings().recent_workspaces
    actions = [a.text() for a in window.recent_menu.actions()]
    assert str(workspace.root) in actions
    assert json.loads(json.dumps(list(load_settings().recent_workspaces)))


def test_the_libraries_that_hold_the_gil_load_before_the_window() -> None:
    """Importing PyTorch on a worker thread froze the window for seconds (GIL); the app
    imports it, and the embedder's library, while its splash screen shows."""
    import sys

    from desktop.native import ML_LIBRARIES, preload_ml_libraries

    said: list[str] = []
    preload_ml_libraries(said.append)
    assert all(name in sys.modules for name, _ in ML_LIBRARIES)
    assert said == [message for _, message in ML_LIBRARIES]
    assert not any("_" in message or "torch" in message for message in said)  # plain words
