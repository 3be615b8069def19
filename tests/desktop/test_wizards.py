"""The Training, Merge and Export screens driven like a user would, on the tiny model."""

from __future__ import annotations

import pytest
from helpers.workspaces import TINY_BASE, tiny_training_workspace

from core.workspace.registry import ModelRegistry
from desktop.main_window import MainWindow
from desktop.qt import Qt, QWizard
from desktop.wizards.merge_wizard import MergeWizard
from desktop.wizards.train_wizard import TrainWizard

FAST = {"max_steps": 4, "save_every": 2, "eval_every": 2, "max_length": 32, "batch_size": 2}


@pytest.fixture
def tiny_window(window: MainWindow, workspace, tiny_model_dir):  # noqa: ANN001, ANN201
    datasets = tiny_training_workspace(workspace, tiny_model_dir)
    window.state.models_changed.emit()
    return window, datasets


def _set_advanced(wizard: TrainWizard, values: dict[str, int]) -> None:
    for key, value in values.items():
        wizard.advanced.form.editors[key].setValue(value)  # type: ignore[attr-defined]


def _train(qtbot, window: MainWindow, stage: str) -> str:  # noqa: ANN001
    wizard = TrainWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    setup = wizard.setup
    setup.model.setCurrentIndex(setup.model.findData(TINY_BASE))
    setup.stage.setCurrentIndex(setup.stage.findData(stage))
    assert setup.isComplete(), setup.note.text()
    wizard.next()
    settings = wizard.settings
    qtbot.waitUntil(lambda: settings.hardware is not None, timeout=60_000)
    assert "GiB of memory" in settings.estimate_label.text()
    wizard.next()
    _set_advanced(wizard, FAST)
    with qtbot.waitSignal(window.monitor.finished, timeout=300_000) as finished:
        wizard.next()
    status = finished.args[1]
    assert status.state == "succeeded", status.error
    live = wizard.live
    assert live.curve.points("loss"), "no loss points reached the curve"
    assert live.bar.value() == live.bar.maximum()
    wizard.next()
    assert "Held-out perplexity" in wizard.results.summary.text()
    model_id = status.result["model_id"]
    wizard.button(QWizard.WizardButton.FinishButton).click()
    return model_id


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_then_merge_then_export_views(qtbot, tiny_window) -> None:  # noqa: ANN001
    window, _ = tiny_window
    first = _train(qtbot, window, "cpt")
    second = _train(qtbot, window, "sft")
    registry = ModelRegistry(window.state.workspace)
    assert registry.get(first).parents == (TINY_BASE,)
    runs = window.panes["Training"].runs
    assert runs.rowCount() == 2

    wizard = MergeWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    models = wizard.models
    for model_id in (first, second):
        models.item(model_id).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: "Checking" not in models.note.text(), timeout=60_000)
    assert models.isComplete()
    wizard.next()
    method = wizard.method
    method.methods["ties"].setChecked(True)
    assert "merge_method: ties" in method.preview.toPlainText()
    assert f"base_model: {'<common parent>'}" in method.preview.toPlainText() or \
        TINY_BASE in method.preview.toPlainText()
    method.weights[first].slider.setValue(70)
    assert "weight: 0.7" in method.preview.toPlainText()
    with qtbot.waitSignal(window.monitor.finished, timeout=300_000) as finished:
        wizard.next()
    assert finished.args[1].state == "succeeded", finished.args[1].error
    merged = wizard.run_page.merged_id()
    record = registry.get(merged)
    assert record.kind == "merged" and set(record.parents) >= {first, second}
    wizard.next()
    compare = wizard.compare
    compare.prompts.setPlainText("tender")
    compare.evaluate()
    qtbot.waitUntil(lambda: not compare.jobs, timeout=300_000)
    assert compare.answers.columnCount() == 3
    assert compare.ppl.rowCount() == 3
    wizard.button(QWizard.WizardButton.FinishButton).click()
    window.show_section("Merge")
    assert window.panes["Merge"].table.rowCount() == 1
