"""The merge wizard checks the whole plan before Next, off the GUI thread (issue 17): a base
ticked with its own fine-tunes for TIES is named, and one click makes it the base."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.heartbeat import heartbeat
from helpers.workspaces import register_tiny_base

from core.workspace import Workspace
from desktop.jobs_monitor import JobMonitor
from desktop.qt import Qt
from desktop.state import AppState
from desktop.wizards.merge_wizard import MergeWizard


@pytest.fixture
def wizard(qtbot, workspace: Workspace, tiny_model_dir: Path) -> MergeWizard:  # noqa: ANN001
    register_tiny_base(workspace, tiny_model_dir, "tiny")
    for child in ("ft-a", "ft-b"):
        register_tiny_base(workspace, tiny_model_dir, child, kind="merged", parents=("tiny",))
    state = AppState()
    state.set_workspace(workspace)
    wizard = MergeWizard(state, JobMonitor())
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _tick(qtbot, wizard: MergeWizard, *model_ids: str) -> None:  # noqa: ANN001
    for model_id in model_ids:
        wizard.models.item(model_id).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: "Checking" not in wizard.models.note.text(), timeout=30_000)


def test_a_base_ticked_with_its_fine_tune_is_named_and_made_the_base(
        qtbot, wizard: MergeWizard) -> None:  # noqa: ANN001
    with heartbeat() as beat:
        _tick(qtbot, wizard, "tiny", "ft-a", "ft-b")
        wizard.next()
        method = wizard.method
        method.methods["ties"].setChecked(True)
        qtbot.waitUntil(lambda: method.plan is not None, timeout=30_000)
        assert not method.isComplete()  # Next stays off: this merge cannot run
        assert "tiny is the model the others were trained from" in method.error.text()
        assert "--base" not in method.error.text()  # no command-line advice in the app
        assert method.use_parent.isVisibleTo(method)
        assert method.use_parent.text() == "Use tiny as the base"

        method.use_parent.click()
        qtbot.waitUntil(method.isComplete, timeout=30_000)
    assert wizard.models.checked() == ["ft-a", "ft-b"]
    assert method.base.currentData() == "tiny" and not method.use_parent.isVisibleTo(method)
    assert "base_model: tiny" in method.preview.toPlainText()
    assert beat.worst_ms < 250, beat.gaps_ms


def test_the_automatic_base_is_shown_and_linear_needs_none(qtbot,  # noqa: ANN001
                                                           wizard: MergeWizard) -> None:
    _tick(qtbot, wizard, "ft-a", "ft-b")
    wizard.next()
    method = wizard.method
    method.methods["ties"].setChecked(True)
    qtbot.waitUntil(method.isComplete, timeout=30_000)
    assert method.base.itemText(0) == "automatic: tiny"
    assert "base_model: tiny" in method.preview.toPlainText()
    method.methods["linear"].setChecked(True)
    qtbot.waitUntil(method.isComplete, timeout=30_000)
    assert method.plan is not None and method.plan.base is None
