"""The walk-through: Import → Train → Merge → Export → Draft in the real windows, driven
like a user would, on the tiny model."""

from __future__ import annotations

import pytest
from helpers.workspaces import TINY_BASE, tiny_training_workspace

from core.datasets.store import DatasetStore
from core.workspace.registry import ModelRegistry
from desktop.main_window import MainWindow
from desktop.qt import Qt, QWizard
from desktop.wizards.import_wizard import ImportWizard
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


def _import(qtbot, window: MainWindow, folder) -> None:  # noqa: ANN001
    folder.mkdir()
    (folder / "rfp-harbour.md").write_text(
        "# Request for Proposal: Harbour Data Platform\n\n## 3. Requirements\n\n"
        "3.1 The contractor shall migrate 40 databases to the cloud.\n")
    (folder / "proposal-harbour.md").write_text(
        "# Proposal: Harbour Data Platform\n\n## Response to 3.1\n\n"
        "We propose a phased migration of the 40 databases over nine months.\n")
    wizard = ImportWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.files.add_paths([folder])
    wizard.next()
    qtbot.waitUntil(lambda: len(wizard.review.previews) == 2, timeout=120_000)
    with qtbot.waitSignal(window.monitor.finished, timeout=180_000) as finished:
        wizard.next()
    assert finished.args[1].state == "succeeded", finished.args[1].error
    qtbot.waitUntil(wizard.run_page.isComplete, timeout=10_000)
    wizard.next()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    window.show_section("Documents")
    qtbot.waitUntil(lambda: window.panes["Documents"].table.rowCount() == 2, timeout=10_000)


def _export(qtbot, window: MainWindow, model_id: str) -> str:  # noqa: ANN001
    window.show_section("Export")
    pane = window.panes["Export"]
    pane.model.setCurrentIndex(pane.model.findData(model_id))
    for quant, box in pane.quants.items():
        box.setChecked(quant == "q8_0")
    pane.pre_tokenizer.setCurrentText("gpt-2")  # the tiny tokenizer is unknown to llama.cpp
    with qtbot.waitSignal(window.monitor.finished, timeout=300_000) as finished:
        pane.export_button.click()
    status = finished.args[1]
    assert status.state == "succeeded", status.error
    assert "Q8_0: verified" in pane.message.text()
    assert pane.table.rowCount() == 1
    [output] = status.result["outputs"]
    return str(output["model_id"])


def _draft(qtbot, window: MainWindow, gguf_id: str) -> None:  # noqa: ANN001
    window.show_section("Draft")
    pane = window.panes["Draft"]
    qtbot.waitUntil(lambda: pane.models.main.findData(gguf_id) >= 0, timeout=10_000)
    pane.models.main.setCurrentIndex(pane.models.main.findData(gguf_id))
    pane.options.retrieval.setChecked(False)
    pane.options.temperature.setValue(0.0)
    pane.options.max_tokens.setValue(4)
    pane.prompt.setPlainText("The contractor shall")
    pane.actions.send_button.click()
    qtbot.waitUntil(lambda: not pane._busy() and pane.actions.send_button.isEnabled(),
                    timeout=120_000)
    roles = [turn.role for turn in pane.session.conversation.turns]
    assert roles == ["user", "assistant"], pane.stats.text()
    assert "tokens/s" in pane.stats.text()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_walkthrough_import_train_merge_export_draft(qtbot, tiny_window,  # noqa: ANN001
                                                      tmp_path) -> None:
    window, _ = tiny_window
    _import(qtbot, window, tmp_path / "inbox")
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
    qtbot.waitUntil(method.isComplete, timeout=60_000)  # the plan is checked off-thread
    assert f"base_model: {TINY_BASE}" in method.preview.toPlainText()
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
    qtbot.waitUntil(lambda: not any(p.running for p in compare.progress.values()),
                    timeout=300_000)
    assert compare.answers.columnCount() == 3
    assert compare.ppl.rowCount() == 3
    wizard.button(QWizard.WizardButton.FinishButton).click()
    window.show_section("Merge")
    assert window.panes["Merge"].table.rowCount() == 1

    gguf = _export(qtbot, window, merged)
    assert registry.get(gguf).parents == (merged,)
    _draft(qtbot, window, gguf)


def test_the_estimate_is_measured_on_this_computer(qtbot, tiny_window) -> None:  # noqa: ANN001
    window, _ = tiny_window
    wizard = TrainWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.setup.model.setCurrentIndex(wizard.setup.model.findData(TINY_BASE))
    wizard.setup.stage.setCurrentIndex(wizard.setup.stage.findData("cpt"))
    wizard.next()
    settings = wizard.settings
    qtbot.waitUntil(lambda: settings.hardware is not None, timeout=60_000)
    assert "Measured here" not in settings.estimate_label.text()
    settings.measure_button.click()
    assert not settings.measure_button.isEnabled()  # one measurement at a time
    qtbot.waitUntil(lambda: "Measured here" in settings.estimate_label.text(), timeout=120_000)
    assert "a step on cpu (float32)" in settings.estimate_label.text()
    settings.presets["balanced"].setChecked(True)  # other settings: that measurement is stale
    assert "Measured here" not in settings.estimate_label.text()
    assert settings.measure_button.isEnabled()


def test_the_wizard_says_what_a_base_cannot_go_through(qtbot, window, workspace,  # noqa: ANN001
                                                      tiny_model_dir) -> None:  # noqa: ANN001
    import shutil

    from core.workspace.registry import ModelRecord

    record = ModelRecord(id="from-gguf", name="From a GGUF", kind="base",
                         architecture="LlamaForCausalLM", config={"support": {"export": {
                             "ok": False, "detail": "the converter cannot write its tokenizer"}}})
    with ModelRegistry(workspace).create("from-gguf", lambda _: record) as folder:
        for path in tiny_model_dir.iterdir():
            shutil.copy2(path, folder / path.name)
    wizard = TrainWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.setup.model.setCurrentIndex(wizard.setup.model.findData("from-gguf"))
    text = wizard.setup.support.text()
    assert "from-gguf cannot be exported to GGUF" in text and "tokenizer" in text


def test_building_an_sft_dataset_says_how_its_prompts_were_written(  # noqa: ANN001
        qtbot, tiny_window, tmp_path) -> None:
    from core.datasets import add_user_pair

    window, _ = tiny_window
    add_user_pair(window.state.workspace, "Name our quality manager.",
                  "Dana Ruiz leads quality assurance for every contract.")
    wizard = TrainWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    setup = wizard.setup
    setup.model.setCurrentIndex(setup.model.findData(TINY_BASE))
    setup.stage.setCurrentIndex(setup.stage.findData("sft"))
    with qtbot.waitSignal(window.monitor.finished, timeout=120_000) as finished:
        setup.build.click()
    assert finished.args[1].state == "succeeded", finished.args[1].error
    qtbot.waitUntil(lambda: "Built sft-" in setup.note.text(), timeout=10_000)
    # no index in this workspace: the prompts are the bare requests, and the note says why
    assert "bare requests" in setup.note.text() and "no knowledge base" in setup.note.text()
    qtbot.wait(100)  # the layout takes the wrapped note on the next event-loop turn
    wizard.grab().save(str(tmp_path / "train-setup-sft.png"))
    wizard.next()  # the settings page sizes the run to the examples just built
    settings = wizard.settings
    qtbot.waitUntil(lambda: settings.hardware is not None, timeout=60_000)
    built = DatasetStore(window.state.workspace).latest("sft")
    assert built is not None
    longest = built.summary["lengths"]["longest"]
    count = built.summary["examples"]
    assert (f"Longest passage {-(-longest // 64) * 64} tokens (automatic): holds the "
            f"longest of its {count} example{'s' if count > 1 else ''}, {longest} tokens."
            ) in settings.estimate_label.text()
    qtbot.wait(100)
    wizard.grab().save(str(tmp_path / "train-settings-sft.png"))
    wizard.next()  # the advanced page names it "automatic", not 0
    editor = wizard.advanced.form.editors["max_length"]
    assert editor.value() == 0 and editor.text() == "auto"  # type: ignore[attr-defined]
    qtbot.wait(100)
    wizard.grab().save(str(tmp_path / "train-advanced-sft.png"))
