"""Models → Import a base model…: the checks shown before anything is copied, the import
as a job, a refused model that cannot be started."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers.heartbeat import heartbeat

from core.workspace.registry import ModelRegistry
from desktop.dialogs.import_model import ImportModelDialog
from desktop.main_window import MainWindow


@pytest.fixture(autouse=True)
def model_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTORIUM_MODEL_STORE", str(tmp_path / "store"))


def test_check_then_import_a_folder(qtbot, window: MainWindow, workspace, tiny_model_dir: Path,  # noqa: ANN001
                                    tmp_path: Path) -> None:
    folder = tmp_path / "usb" / "Team-Model"
    shutil.copytree(tiny_model_dir, folder)
    window.show_section("Models")
    dialog = window.panes["Models"].import_model()
    assert isinstance(dialog, ImportModelDialog) and dialog.isVisible()
    assert not dialog.import_button.isEnabled()  # nothing chosen yet
    with heartbeat() as beat:  # the checks import torch & co. in a child, not in the app
        dialog.choose(folder)
        qtbot.waitUntil(lambda: dialog.check is not None, timeout=60_000)
    assert beat.worst_ms < 250, beat.where()
    report = dialog.report.toPlainText()
    assert "Ready to import." in report and "GGUF export" in report
    assert "training memory, LoRA on CPU RAM" in report
    dialog.name.setText("Our team model")
    assert dialog.import_button.isEnabled()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Imported as team-model" in dialog.result.text(), timeout=120_000)
    record = ModelRegistry(workspace).get("team-model")
    assert record.name == "Our team model" and record.kind == "base"
    qtbot.waitUntil(lambda: any(
        window.panes["Models"].tree.topLevelItem(i).text(0) == "Our team model"
        for i in range(window.panes["Models"].tree.topLevelItemCount())), timeout=10_000)


def test_a_refused_model_cannot_be_started(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama",
                                                    "architectures": ["LlamaForCausalLM"]}))
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    dialog = window.panes["Models"].import_model()
    dialog.choose(folder)
    qtbot.waitUntil(lambda: dialog.check is not None, timeout=60_000)
    assert "cannot be imported" in dialog.report.toPlainText()
    assert "pickle" in dialog.report.toPlainText()
    assert not dialog.import_button.isEnabled()
    dialog.choose(tmp_path / "nowhere")
    qtbot.waitUntil(lambda: "does not exist" in dialog.report.toPlainText(), timeout=10_000)
    assert not dialog.import_button.isEnabled()
