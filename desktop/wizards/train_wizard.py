"""Training wizard: model, stage and dataset → preset, hardware and estimate → advanced
settings → live run (loss curve, eval points, ETA, pause/resume) → results (perplexity
before/after and the same prompts answered by the base and the tuned model).

The wizard only builds a TrainConfig; the run is a ``train`` job.
"""

from __future__ import annotations

import html
from pathlib import Path

from core.datasets.model import built_note
from core.datasets.store import DatasetStore
from core.errors import ScriptoriumError
from core.formatting import format_duration as duration
from core.jobs import JobStatus
from core.jobs.progress import ProgressEvent
from core.jobs.results import TrainResult, result_of
from core.system.hardware import Hardware, detect_hardware
from core.training.config import DATASET_KIND, PRESETS, RECIPES, TrainConfig, build_config
from core.training.distributed import describe_plan
from core.training.estimate import estimate, model_shape
from core.training.lengths import planned_steps, resolve_max_length
from core.training.probe import Probe
from core.workspace.registry import ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from desktop.state import AppState
from desktop.widgets.curve import CurveWidget
from desktop.widgets.job_progress import JobProgress, time_left
from desktop.wizards.train_form import TrainForm
from desktop.wizards.train_labels import label
from desktop.wizards.train_results import ResultsPage

STAGE_NAMES = {
    "cpt": "Continued pre-training (raw domain text)",
    "sft": "Instruction tuning (requirement → response pairs)",
    "dpo": "Preference alignment, DPO (analysts' feedback)",
    "orpo": "Preference alignment, ORPO (analysts' feedback)",
}


class SetupPage(QWizardPage):
    """Base model (registry, adapter to continue from, or a local folder/GGUF), stage, data."""

    def __init__(self, state: AppState, monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("What to train")
        self.state, self.monitor = state, monitor
        self.model = QComboBox()
        self.model.setObjectName("baseModel")
        browse = QPushButton("Folder or GGUF…")
        browse.clicked.connect(self._browse)
        self.stage = QComboBox()
        self.stage.setObjectName("stage")
        for recipe in RECIPES:
            self.stage.addItem(STAGE_NAMES[recipe], recipe)
        self.dataset = QComboBox()
        self.dataset.setObjectName("dataset")
        self.build = QPushButton("Build dataset")
        self.build.setObjectName("buildDataset")
        self.build.clicked.connect(self._build_dataset)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.support = QLabel()  # what the chosen base's family cannot go through
        self.support.setObjectName("baseSupport")
        self.support.setWordWrap(True)
        self.support.setStyleSheet("color: #9a3412")
        model_row, data_row = QHBoxLayout(), QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        data_row.addWidget(self.dataset, 1)
        data_row.addWidget(self.build)
        form = QFormLayout(self)
        form.addRow("Start from", model_row)
        form.addRow("", self.support)
        form.addRow("Stage", self.stage)
        form.addRow("Dataset", data_row)
        form.addRow("", self.note)
        self.stage.currentIndexChanged.connect(lambda _: self._fill_datasets())
        self.model.currentIndexChanged.connect(lambda _: self._show_support())
        self.dataset.currentIndexChanged.connect(lambda _: self.completeChanged.emit())
        monitor.finished.connect(self._on_job_finished)
        self._build_job: str | None = None
        self.choices: dict[str, tuple[str, str | None]] = {}

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        self.model.clear()
        self.choices.clear()
        for record in registry.list():
            if record.kind in ("base", "merged"):
                self._add_choice(f"{record.name} [{record.kind}]", record.id, None)
            elif record.kind == "adapter" and record.parents:
                label = f"continue from {record.id} [{record.config.get('recipe', 'adapter')}]"
                self._add_choice(label, record.parents[0], record.id)
        self._fill_datasets()

    def _add_choice(self, label: str, base: str, init_adapter: str | None) -> None:
        """Items carry a string key (the adapter id, or the base); choices map it back."""
        key = init_adapter or base
        self.choices[key] = (base, init_adapter)
        self.model.addItem(label, key)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model folder's config.json or a GGUF file",
                                              "", "Models (config.json *.gguf)")
        if path:
            target = str(Path(path).parent) if path.endswith("config.json") else path
            self._add_choice(target, target, None)
            self.model.setCurrentIndex(self.model.count() - 1)

    def recipe(self) -> str:
        return str(self.stage.currentData())

    def _show_support(self) -> None:
        """Said before training starts: a stage the base's family was refused at import."""
        from core.models.support import refusal

        base = self.choice()[0]
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        reasons = [why for stage in ("export", "merge")
                   if base and (why := refusal(registry, base, stage)) is not None]  # type: ignore[arg-type]
        self.support.setText(" ".join(reasons))

    def choice(self) -> tuple[str, str | None]:
        return self.choices.get(self.model.currentData() or "", ("", None))

    def _fill_datasets(self) -> None:
        store = DatasetStore(self.state.workspace)  # type: ignore[arg-type]
        kind = DATASET_KIND[self.recipe()]
        self.dataset.clear()
        for record in reversed(store.list(kind)):
            self.dataset.addItem(record.describe(), record.id)
        self.note.setText("" if self.dataset.count() else
                          f"No {kind} dataset yet: build one from the workspace's documents.")
        self.completeChanged.emit()

    def _build_dataset(self) -> None:
        base, _ = self.choice()
        config = {"kind": DATASET_KIND[self.recipe()]}
        if base:
            config["model"] = base
        self._build_job = self.monitor.submit("build-dataset", config)
        self.build.setEnabled(False)
        self.note.setText("Building the dataset…")

    def _on_job_finished(self, job_id: str, status: JobStatus) -> None:
        if job_id != self._build_job:
            return
        self.build.setEnabled(True)
        self._fill_datasets()
        if status.state != "succeeded":
            self.note.setText(f"Building the dataset failed: {status.error}")
        elif (record := DatasetStore(self.state.workspace).latest(  # type: ignore[arg-type]
                DATASET_KIND[self.recipe()])) is not None:
            self.note.setText(f"Built {record.id}. {built_note(record.kind, record.summary)}"
                              .strip())

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return bool(self.choice()[0]) and self.dataset.currentData() is not None


class SettingsPage(QWizardPage):
    """Preset, hardware panel and the memory/time estimate for the chosen settings."""

    def __init__(self, setup: SetupPage) -> None:
        super().__init__()
        self.setTitle("How hard to train")
        self.setup = setup
        self.presets = {name: QRadioButton(name.capitalize()) for name in PRESETS}
        self.presets["quick"].setChecked(True)
        row = QHBoxLayout()
        for name, button in self.presets.items():
            button.setObjectName(f"preset-{name}")
            button.toggled.connect(lambda _=False: self.refresh())
            row.addWidget(button)
        row.addStretch(1)
        self.hardware_label = QLabel("Detecting hardware…")
        self.hardware_label.setObjectName("hardware")
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimate")
        self.estimate_label.setWordWrap(True)
        self.measure_button = QPushButton("Measure on this computer")
        self.measure_button.setObjectName("measureTraining")
        self.measure_button.setToolTip("Run a few real training steps with these settings "
                                       "(a minute or two) to time them and measure the "
                                       "memory; nothing is trained or kept.")
        self.measure_button.clicked.connect(self.measure)
        self.probe = JobProgress(setup.monitor, "probeProgress")
        self.probe.ended.connect(self._measured)
        self.probe.setVisible(False)
        form = QFormLayout(self)
        form.addRow("Preset", row)
        form.addRow("Hardware", self.hardware_label)
        form.addRow("Estimate", self.estimate_label)
        measure = QHBoxLayout()
        measure.addWidget(self.measure_button)
        measure.addStretch(1)
        form.addRow("", measure)
        form.addRow("", self.probe)
        self.hardware: Hardware | None = None
        self.config: TrainConfig | None = None
        self.extra_overrides: list[str] = []
        self.measurement: tuple[dict, Probe] | None = None  # (config measured, result)
        self.measuring: dict = {}

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        if self.hardware is None:
            CoreOp(self, detect_hardware).success(self._on_hardware).run()
        self.refresh()

    def preset(self) -> str:
        return next(name for name, button in self.presets.items() if button.isChecked())

    def _on_hardware(self, hardware: Hardware) -> None:
        self.hardware = hardware
        self.hardware_label.setText(hardware.describe())
        self.refresh()

    def build(self) -> TrainConfig:
        base, init_adapter = self.setup.choice()
        extra = {"init_adapter": init_adapter} if init_adapter else {}
        return build_config(self.setup.recipe(), preset=self.preset(), base=base,
                            dataset=str(self.setup.dataset.currentData()), extra=extra,
                            overrides=self.extra_overrides)

    def refresh(self) -> None:
        try:
            self.config = self.build()
        except ScriptoriumError as error:
            self.config = None
            self.estimate_label.setText(f"<span style='color:#b00'>{error}</span>")
            self.completeChanged.emit()
            return
        if self.hardware is not None:
            workspace = self.setup.state.workspace
            shape = model_shape(workspace, self.config.base)
            try:  # the dataset's record only: quick enough here
                sized, length_note = resolve_max_length(
                    self.config, workspace, read_rows=False,
                    named=label("max_length")[0].split(" (")[0])
                steps = planned_steps(sized, workspace, read_rows=False)
            except ScriptoriumError as error:
                sized, length_note, steps = self.config, str(error), None
            guess = estimate(sized, self.hardware, shape, total_steps=steps)
            colour = "#b00" if not guess.fits else "#333"
            text = (f"{guess.plan()} of memory; {guess.steps} steps ≈ "
                    f"{duration(guess.seconds)}")
            if length_note:
                text += f"<br>{html.escape(length_note)}"
            gpus = len(self.hardware.gpus)
            if gpus > 1 or self.config.nproc > 1:
                text += f"<br>{describe_plan(self.config, gpus)}"
            if guess.warning:
                text += f"<br><b>{guess.warning}</b>"
            if self.measurement and self.measurement[0] == self.config.to_yaml_dict():
                text += f"<br><b>Measured here:</b> {self.measurement[1].describe(guess.steps)}"
            self.estimate_label.setText(f"<span style='color:{colour}'>{text}</span>")
        self.measure_button.setEnabled(self.config is not None and not self.probe.running)
        self.completeChanged.emit()

    def measure(self) -> None:
        if self.config is None:
            return
        self.probe.setVisible(True)
        self.measuring = self.config.to_yaml_dict()
        self.probe.start("probe-training", {"train": self.measuring},
                         f"measure {self.config.recipe} training")
        self.measure_button.setEnabled(False)

    def _measured(self, status: JobStatus) -> None:
        self.probe.setVisible(status.state != "succeeded")
        if status.state == "succeeded" and status.result:
            fields = {k: status.result[k] for k in Probe.__dataclass_fields__}
            self.measurement = (self.measuring, Probe(**fields))
        self.refresh()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.config is not None


class AdvancedPage(QWizardPage):
    """Every hyper-parameter, starting from the preset's values."""

    def __init__(self, settings: SettingsPage) -> None:
        super().__init__()
        self.setTitle("Advanced settings")
        self.setSubTitle("Change only what you need; unchanged values keep the preset's. "
                         "Start training begins the run.")
        self.setButtonText(QWizard.WizardButton.NextButton, "Start training")
        self.settings = settings
        self.form = TrainForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.bundle_button = QPushButton("Export for a cluster…")
        self.bundle_button.setObjectName("wizardClusterBundle")
        self.bundle_button.setToolTip("Instead of training here: write these settings, the "
                                      "model and the dataset as a folder for a GPU cluster.")
        self.bundle_button.clicked.connect(self.export_bundle)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(self.error)
        layout.addWidget(self.bundle_button)

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        self.settings.extra_overrides = []
        self.settings.refresh()
        if self.settings.config is not None:
            self.form.load(self.settings.config)

    def export_bundle(self) -> None:
        from desktop.dialogs.cluster_bundle import ClusterBundleDialog

        self.settings.extra_overrides = self.form.overrides()
        self.settings.refresh()
        workspace = self.settings.setup.state.workspace
        if self.settings.config is None or workspace is None:
            self.error.setText(self.settings.estimate_label.text())
            return
        ClusterBundleDialog(workspace, self.settings.config, self).open()

    def validatePage(self) -> bool:  # noqa: N802 - Qt name
        self.settings.extra_overrides = self.form.overrides()
        self.settings.refresh()
        if self.settings.config is None:
            self.error.setText(self.settings.estimate_label.text())
            return False
        return True


class LivePage(QWizardPage):
    """The running job: loss curve, eval points, progress with ETA, pause and resume."""

    def __init__(self, settings: SettingsPage, monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("Training")
        self.settings, self.monitor = settings, monitor
        self.curve = CurveWidget()
        self.curve.setObjectName("lossCurve")
        self.job = JobProgress(monitor, "trainProgress")
        self.job.progress.connect(self._on_progress)
        self.job.ended.connect(self._ended)
        self.bar, self.status = self.job.bar, self.job.label
        self.status.setObjectName("trainStatus")
        self.status.setText("Starting…")
        self.pause = QPushButton("Pause")
        self.pause.setObjectName("pauseTraining")
        self.pause.setToolTip("Stop after saving a checkpoint; Resume continues from it.")
        self.pause.clicked.connect(self._pause)
        self.resume = QPushButton("Resume")
        self.resume.setObjectName("resumeTraining")
        self.resume.clicked.connect(self._resume)
        self.resume.setEnabled(False)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(90)
        self.job.log_line.connect(self.log.appendPlainText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.job, 1)
        buttons.addWidget(self.pause)
        buttons.addWidget(self.resume)
        layout = QVBoxLayout(self)
        layout.addWidget(self.curve, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.log)
        self.last_job: str | None = None  # the run Resume continues
        self.first_job: str | None = None
        self.result: TrainResult | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        if self.last_job is None and self.settings.config is not None:
            self._start(self.settings.config)

    def _start(self, config: TrainConfig) -> None:
        self.last_job = self.job.start("train", config, f"Train ({config.recipe})", "Starting…")
        self.first_job = self.first_job or self.last_job
        self.pause.setEnabled(True)
        self.resume.setEnabled(False)

    def _on_progress(self, event: ProgressEvent) -> None:
        if "loss" in event.metrics:
            self.curve.add_point("loss", event.step, event.metrics["loss"])
        if "eval_loss" in event.metrics:
            self.curve.add_point("eval loss", event.step, event.metrics["eval_loss"])
        speed = f", {event.tokens_per_s:,.0f} tokens/s" if event.tokens_per_s else ""
        lr = f", learning rate {event.metrics['lr']:.2e}" if "lr" in event.metrics else ""
        self.status.setText(f"{event.message}{time_left(event.eta_s)}{speed}{lr}")

    def _pause(self) -> None:
        if self.job.running:
            self.job.cancel()
            self.pause.setEnabled(False)
            self.status.setText("Saving a checkpoint and stopping…")

    def _resume(self) -> None:
        if self.settings.config is not None and self.last_job:
            config = self.settings.config.model_copy(update={"resume": self.last_job})
            self._start(config)

    def _ended(self, status: JobStatus) -> None:
        self.pause.setEnabled(False)
        if status.state == "succeeded":
            self.result = result_of(status, TrainResult)
        elif status.state == "cancelled":
            self.resume.setEnabled(True)
            self.status.setText("Paused: Resume continues from the last checkpoint.")
        else:
            self.resume.setEnabled(True)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.result is not None


class TrainWizard(QWizard):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainWizard")
        self.setWindowTitle("Train a model")
        self.resize(900, 680)
        self.setup = SetupPage(state, monitor)
        self.settings = SettingsPage(self.setup)
        self.advanced = AdvancedPage(self.settings)
        self.live = LivePage(self.settings, monitor)
        self.results = ResultsPage(lambda: self.live.result, self._trained_from, monitor)
        for page in (self.setup, self.settings, self.advanced, self.live, self.results):
            self.addPage(page)

    def _trained_from(self) -> str:
        """The model the run started from: its adapter if it continued one, else its base."""
        base, adapter = self.setup.choice()
        return adapter or base
