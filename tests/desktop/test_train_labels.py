"""The training settings in plain words (issue 17: the Advanced page showed raw keys such as
"lora.r" and "oom retry", and its Next silently started training)."""

from __future__ import annotations

from core.training.config import LoraSettings, TrainConfig
from desktop.jobs_monitor import JobMonitor
from desktop.qt import QLabel, QWizard
from desktop.wizards.train_form import LORA_FIELDS, SKIPPED, TrainForm
from desktop.wizards.train_labels import LABELS
from desktop.wizards.train_wizard import TrainWizard


def test_every_setting_has_a_name_and_an_explanation() -> None:
    keys = [f"lora.{n}" for n in LORA_FIELDS if n in LoraSettings.model_fields]
    keys += [n for n in TrainConfig.model_fields if n not in SKIPPED]
    missing = [k for k in keys if k not in LABELS]
    assert not missing, f"add a name and a line to train_labels.LABELS for: {missing}"
    for key in keys:
        name, line = LABELS[key]
        assert "_" not in name and "." not in name, key
        assert line or key == "log_every", key


def test_the_form_shows_names_not_keys_and_start_is_explicit(qtbot, app_state,  # noqa: ANN001
                                                             ) -> None:
    form = TrainForm()
    qtbot.addWidget(form)
    form.load(TrainConfig(recipe="sft", base="b", dataset="d"))
    labels = {w.text() for w in form.findChildren(QLabel)}
    assert "Adapter size (rank)" in labels and "Retry when memory runs out" in labels
    assert not {"lora.r", "oom retry", "lora r"} & labels
    assert "--set lora.r=" in form.editors["lora.r"].toolTip()
    wizard = TrainWizard(app_state, JobMonitor())
    qtbot.addWidget(wizard)
    assert wizard.advanced.buttonText(QWizard.WizardButton.NextButton) == "Start training"
