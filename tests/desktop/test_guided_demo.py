"""The guided demo from the app: the welcome button starts the demo job on the sample
workspace; its results open beside the app and lead to the drafted proposal."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.qt_jobs import settle_jobs
from helpers.workspaces import add_text_document

from core.drafting.proposal import ProposalStore, new_proposal
from core.jobs import JobStore
from core.settings import Settings
from desktop.jobs_monitor import JobMonitor
from desktop.main_window import MainWindow
from desktop.qt import QPushButton, Qt
from desktop.state import AppState

pytestmark = pytest.mark.timeout(120)

RFP = """Request for Proposal: Records Archive
Section C: Statement of Work
C.1 The contractor shall migrate 2 million scanned records.
C.2 The contractor shall provide a staffing plan with labour categories.
"""


@pytest.fixture
def bare_window(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201
    state = AppState()
    state.update_settings(Settings(workspaces_dir=str(tmp_path)))
    window = MainWindow(state, JobMonitor())
    qtbot.addWidget(window)
    window.show()
    yield window
    settle_jobs(qtbot, window.monitor)


def test_demo_button_starts_the_demo_job_on_the_sample(qtbot, bare_window: MainWindow,  # noqa: ANN001
                                                        tmp_path: Path) -> None:
    button = bare_window.welcome.findChild(QPushButton, "demoButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    state = bare_window.state
    assert state.workspace is not None and state.workspace.root == tmp_path / "sample"
    assert bare_window.current_section() == "Jobs"
    [job_id] = bare_window.monitor.handles
    assert job_id in bare_window.demo_jobs
    assert JobStore(state.workspace).get(job_id).kind == "demo"
    # a second click while it runs starts nothing more
    bare_window.run_demo()
    assert list(bare_window.monitor.handles) == [job_id]
    assert "Jobs are running" in bare_window.statusBar().currentMessage()
    bare_window.monitor.cancel(job_id)
    qtbot.waitUntil(lambda: not bare_window.monitor.handles, timeout=60_000)
    assert JobStore(state.workspace).get(job_id).state == "cancelled"
    assert bare_window.demo_results is None  # nothing to show for a cancelled demo


def test_results_show_stages_and_open_the_drafted_proposal(qtbot, window: MainWindow,  # noqa: ANN001
                                                           workspace, tmp_path: Path) -> None:
    rfp = add_text_document(workspace, tmp_path / "d", "rfp.md", RFP, kind="rfp")
    proposal = ProposalStore(workspace).save(new_proposal(workspace, rfp.id))
    summary = {
        "workspace": str(workspace.root), "seconds": 300.0,
        "metrics": {"heldout_ppl_base": 30.0, "heldout_ppl_tuned": 20.0,
                    "heldout_ppl_ratio": 0.667},
        "stages": [
            {"stage": "import", "seconds": 2.0, "documents": 11},
            {"stage": "draft", "seconds": 9.0, "section": "Staffing plan", "tokens": 80,
             "citations": ["[1] Labour categories"], "rfp": "Records Archive",
             "proposal": proposal.id, "excerpt": "We staff the archive with NAS-SE-03."},
        ]}
    window.show_demo_results(summary)
    dialog = window.demo_results
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert dialog.table.rowCount() == 2 and dialog.table.item(0, 2).text() == "11 documents"
    assert "base 30.00 → tuned 20.00" in dialog.headline.text()
    assert "NAS-SE-03" in dialog.excerpt.toPlainText()
    assert "[1] Labour categories" in dialog.excerpt.toPlainText()
    dialog.findChild(QPushButton, "demoOpenDraft").click()
    assert window.current_section() == "Draft"
    tab = window.panes["Draft"].proposal_tab
    qtbot.waitUntil(lambda: tab.proposal is not None and tab.proposal.id == proposal.id,
                    timeout=10_000)
