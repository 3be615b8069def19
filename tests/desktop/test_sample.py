"""Opening the sample workspace imports the bundled base model through a job."""

from __future__ import annotations

import pytest
from helpers.qt_jobs import settle_jobs

from core.models.bundled import BASE_GGUF_ID, BASE_MODEL_ID
from core.settings import Settings
from desktop.jobs_monitor import JobMonitor
from desktop.main_window import MainWindow
from desktop.qt import QPushButton, Qt
from desktop.state import AppState


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_open_sample_imports_the_base_model(qtbot, tmp_path) -> None:  # noqa: ANN001
    state = AppState()
    state.update_settings(Settings(workspaces_dir=str(tmp_path)))
    window = MainWindow(state, JobMonitor())
    qtbot.addWidget(window)
    window.show()
    try:
        _open_sample_and_check(qtbot, window, state, tmp_path)
    finally:  # no job may be left running behind the closing window
        settle_jobs(qtbot, window.monitor)


def _open_sample_and_check(qtbot, window: MainWindow, state: AppState, tmp_path) -> None:  # noqa: ANN001
    button = window.welcome.findChild(QPushButton, "sampleButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert state.workspace is not None and state.workspace.root == tmp_path / "sample"
    assert window.current_section() == "Jobs"
    started = {job_id: h.status.kind for job_id, h in window.monitor.handles.items()}
    assert sorted(started.values()) == ["import-base-model", "populate-sample"]
    # Other jobs may follow (the Releases pane indexes the imported documents): wait for these.
    finished: dict = {}
    window.monitor.finished.connect(lambda job_id, status: finished.setdefault(job_id, status))
    qtbot.waitUntil(lambda: set(started) <= set(finished), timeout=580_000)
    ours = [finished[job_id] for job_id in started]
    assert all(s.state == "succeeded" for s in ours), [s.error for s in ours]
    documents = window.panes["Documents"]
    assert documents.table.rowCount() >= 10
    assert "4 RFPs" in documents.summary.text() and "3 proposals" in documents.summary.text()
    window.show_section("Models")
    tree = window.panes["Models"].tree
    ids = {tree.topLevelItem(0).data(0, Qt.ItemDataRole.UserRole),
           tree.topLevelItem(0).child(0).data(0, Qt.ItemDataRole.UserRole)}
    assert ids == {BASE_MODEL_ID, BASE_GGUF_ID}
    # every pane heard of the new models from the job monitor: no restart needed
    assert window.panes["Draft"].models.main.findData(BASE_GGUF_ID) >= 0
    assert window.panes["Draft"].proposal_tab.rfp_choice.count() >= 4
    assert not window.panes["Models"].import_button.isEnabled()
