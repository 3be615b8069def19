"""The cluster bundle from the app: the training wizard's advanced page exports the
configured run; the Models pane refuses a bundle that has not been run yet."""

from __future__ import annotations

import json

from helpers.workspaces import TINY_BASE, tiny_training_workspace

from desktop.dialogs.cluster_bundle import ClusterBundleDialog
from desktop.main_window import MainWindow
from desktop.panes.models import ModelsPane
from desktop.qt import QWidget
from desktop.wizards.train_wizard import TrainWizard


def test_wizard_exports_a_bundle_and_models_pane_checks_it(qtbot, window: MainWindow, workspace,
                                                         tiny_model_dir, tmp_path) -> None:  # noqa: ANN001
    tiny_training_workspace(workspace, tiny_model_dir)
    window.state.models_changed.emit()
    wizard = TrainWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    setup = wizard.setup
    setup.model.setCurrentIndex(setup.model.findData(TINY_BASE))
    setup.stage.setCurrentIndex(setup.stage.findData("cpt"))
    wizard.next()
    qtbot.waitUntil(lambda: wizard.settings.hardware is not None, timeout=60_000)
    wizard.next()
    nproc = wizard.advanced.form.editors["nproc"]
    assert nproc.specialValueText() == "auto"  # type: ignore[attr-defined]
    nproc.setValue(2)  # type: ignore[attr-defined]
    wizard.advanced.form.editors["strategy"].setCurrentText("fsdp")  # type: ignore[attr-defined]
    wizard.advanced.export_bundle()
    dialog = wizard.advanced.findChild(ClusterBundleDialog)
    assert dialog is not None and dialog.nproc.value() == 2
    out = tmp_path / "bundle"
    dialog.out.setText(str(out))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "written" in dialog.status.text(), timeout=60_000)
    assert "NPROC=2 bash" in dialog.status.text()
    info = json.loads((out / "bundle.json").read_text())
    assert info["nproc"] == 2 and info["strategy"] == "fsdp"
    assert info["run"] == "(configured in the app)" and info["base"]["id"] == TINY_BASE

    dialog.export_button.click()  # the folder is taken now: a clear error, nothing lost
    qtbot.waitUntil(lambda: "not empty" in dialog.status.text(), timeout=30_000)
    assert (out / "MANIFEST.sha256").is_file()
    dialog.close()
    wizard.close()

    pane = window.findChild(QWidget, "pane-models")
    assert isinstance(pane, ModelsPane)
    pane.import_cluster_run(out)
    qtbot.waitUntil(lambda: "Not imported" in pane.status.text(), timeout=30_000)
    assert "no finished result" in pane.status.text()



def test_training_pane_exports_the_selected_run(qtbot, window: MainWindow, workspace,
                                                tiny_model_dir, tmp_path) -> None:  # noqa: ANN001
    from core.jobs.store import JobStore
    from core.training.config import build_config
    from desktop.panes.training import TrainingPane

    datasets = tiny_training_workspace(workspace, tiny_model_dir)
    config = build_config("cpt", base=TINY_BASE, dataset=datasets["cpt"],
                          overrides=["max_steps=2", "nproc=2"])
    run = JobStore(workspace).create("train", config).id  # set up, never started here
    pane = window.findChild(QWidget, "pane-training")
    assert isinstance(pane, TrainingPane)
    pane.refresh()
    assert not pane.bundle_button.isEnabled()
    pane.runs.selectRow(0)
    assert pane.selected_run() == run and pane.bundle_button.isEnabled()
    pane.export_bundle()
    dialog = pane.findChild(ClusterBundleDialog)
    assert dialog is not None
    dialog.out.setText(str(tmp_path / "from-pane"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "written" in dialog.status.text(), timeout=60_000)
    info = json.loads((tmp_path / "from-pane" / "bundle.json").read_text())
    assert info["run"] == run and info["nproc"] == 2
    dialog.close()
