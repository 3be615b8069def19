"""Generate instruction data and Review generated pairs, driven as an analyst would."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import synth_teacher as made
from helpers.workspaces import add_text_document

from core.datasets.synthetic import pairs
from core.jobs import JobStatus
from core.jobs.progress import JobContext
from core.synth.job import SynthConfig, run_synth
from core.workspace import Workspace
from desktop.dialogs.synth_generate import WEAK, SynthDialog
from desktop.dialogs.synth_review import SynthReviewDialog
from desktop.jobs_monitor import JobMonitor
from desktop.qt import Qt


@pytest.fixture
def generated(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, str]:
    add_text_document(workspace, tmp_path / "src", "archive.md",
                      made.PASSAGE + "\n" + made.SECOND)
    add_text_document(workspace, tmp_path / "src", "transition.md", made.THIRD, kind="rfp")
    ask, _ = made.scripted()
    result = run_synth(workspace, SynthConfig(tasks=("qa", "section"), passage_words=60),
                       JobContext(workspace.root / "runs" / "s"), teacher=made.Teacher(),
                       embedder=made.WordEmbedder(), ask=ask)
    return workspace, result["batch"]


def test_review_accept_edit_reject_and_accept_all_shown(qtbot, generated) -> None:  # noqa: ANN001
    workspace, batch = generated
    dialog = SynthReviewDialog(workspace, batch=batch)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=10_000)
    total = dialog.list.count()
    assert total == len(pairs(workspace, batch)) >= 3
    assert "to review" in dialog.summary.text()
    first = dialog.current()
    assert first is not None and dialog.source.toPlainText() == first.source
    dialog.accept_button.click()  # as it is
    qtbot.waitUntil(lambda: dialog.list.count() == total - 1, timeout=10_000)
    second = dialog.current()
    dialog.response.setPlainText("Our team moved 41 million records in 14 months.")
    dialog.accept_button.click()  # edited
    qtbot.waitUntil(lambda: dialog.list.count() == total - 2, timeout=10_000)
    third = dialog.current()
    dialog.reject_button.click()
    qtbot.waitUntil(lambda: dialog.list.count() == total - 3, timeout=10_000)
    states = {p.id: p for p in pairs(workspace, batch)}
    assert states[first.id].state == "accepted"
    assert states[second.id].state == "edited"
    assert states[second.id].response == "Our team moved 41 million records in 14 months."
    assert states[third.id].state == "rejected"
    dialog.task_filter.setCurrentIndex(dialog.task_filter.findData("qa"))
    if dialog.list.count():
        dialog.accept_all_button.click()
        qtbot.waitUntil(lambda: dialog.list.count() == 0, timeout=10_000)
    assert all(p.state != "pending" for p in pairs(workspace, batch) if p.task == "qa")
    dialog.state_filter.setCurrentText("Accepted")
    qtbot.waitUntil(lambda: dialog.list.count() >= 2, timeout=10_000)
    assert "accepted" in dialog.summary.text()


def test_generate_dialog_builds_the_job_config_and_reports_the_end(
        qtbot, generated, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import desktop.dialogs.synth_generate as module

    workspace, batch = generated
    real = module._choices
    monkeypatch.setattr(module, "_choices", lambda w: {
        **real(w), "teachers": [("gemma3-270m-q4km", "gemma3-270m-q4km (deployed)")]})
    dialog = SynthDialog(workspace, JobMonitor())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.documents.count() == 2, timeout=10_000)
    assert dialog.note.text() == WEAK  # the demo teacher is named for what it is
    assert dialog.start_button.isEnabled()
    assert dialog.config() == {"teacher": "gemma3-270m-q4km", "tasks": ["qa", "section"],
                               "per_chunk": 2, "documents": []}
    dialog.documents.item(1).setCheckState(Qt.CheckState.Unchecked)
    dialog.limit.setValue(5)
    config = dialog.config()
    assert len(config["documents"]) == 1 and config["limit"] == 5
    for box in dialog.tasks.values():
        box.setChecked(False)
    assert not dialog.start_button.isEnabled()  # nothing to make: nothing to start
    status = JobStatus(id="j1", kind="synthesize-pairs", title="t", state="succeeded",
                       result={"batch": batch, "kept": 4, "generated": 8, "items_left": 3,
                               "filtered": {"numbers": 3, "support": 1, "length": 0}})
    dialog._ended(status)
    assert dialog.batch == batch
    text = dialog.result.text()
    assert "4 of 8 pairs kept" in text and "3 numbers, 1 support" in text
    assert "3 passages are left" in text


def test_the_overview_counts_pairs_to_review_and_opens_the_queue(
        qtbot, window, generated) -> None:  # noqa: ANN001
    workspace, batch = generated
    waiting = len(pairs(workspace, batch))
    window.state.notify({"datasets"})  # what the generation job's end sends
    pane = window.panes["Overview"]
    qtbot.waitUntil(lambda: pane.stage("datasets") is not None
                    and pane.stage("datasets").action == "review", timeout=10_000)
    assert f"{waiting} generated pairs wait for your review" in pane.rows["datasets"][1].text()
    assert pane.rows["datasets"][2].text() == "Review pairs…"

    pane.rows["datasets"][2].click()
    assert window.current_section() == "Training"
    dialog = window.findChild(SynthReviewDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.list.count() == waiting, timeout=10_000)
    dialog.accept_all_button.click()
    qtbot.waitUntil(lambda: dialog.list.count() == 0, timeout=10_000)
    dialog.reject()  # closing the queue refreshes the Overview
    qtbot.waitUntil(lambda: pane.stage("datasets").action != "review", timeout=10_000)
