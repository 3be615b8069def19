"""Training pane: datasets (build, summary) and training runs; the wizard starts a run."""

from __future__ import annotations

from core.datasets.store import DatasetStore
from core.jobs import JobStatus, JobStore
from core.jobs.results import TrainResult, result_of
from core.workspace.registry import ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.dates import local_time

DATASET_COLUMNS = ["Dataset", "Kind", "Version", "Train", "Held-out", "Tokens", "Documents",
                   "Created"]
RUN_COLUMNS = ["Run", "State", "Recipe", "Model", "Perplexity before → after", "Started"]


def _table(columns: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


class TrainingPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-training")
        self.state, self.monitor = state, monitor
        self.datasets = _table(DATASET_COLUMNS, "datasetsTable")
        self.runs = _table(RUN_COLUMNS, "runsTable")
        self.build_buttons: dict[str, QPushButton] = {}
        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Training</h2>"))
        header.addStretch(1)
        self.train_button = QPushButton("New training run…")
        self.train_button.setObjectName("newTraining")
        self.train_button.clicked.connect(self.open_wizard)
        header.addWidget(self.train_button)
        self.bundle_button = QPushButton("Export for a cluster…")
        self.bundle_button.setObjectName("exportClusterBundle")
        self.bundle_button.setToolTip("Write the selected run as a folder IT can run on a GPU "
                                      "cluster (torchrun or Slurm); import the result in Models.")
        self.bundle_button.clicked.connect(self.export_bundle)
        header.addWidget(self.bundle_button)
        builds = QHBoxLayout()
        builds.addWidget(QLabel("<b>Datasets</b>"))
        builds.addStretch(1)
        self.pair_button = QPushButton("Write an instruction pair…")
        self.pair_button.setObjectName("addUserPair")
        self.pair_button.setToolTip("Add your own instruction → response example to the next "
                                    "SFT dataset.")
        self.pair_button.clicked.connect(self.add_pair)
        builds.addWidget(self.pair_button)
        self.synth_button = QPushButton("Generate pairs…")
        self.synth_button.setObjectName("generatePairs")
        self.synth_button.setToolTip("A model you have writes instruction pairs from your "
                                     "documents; you review them before any is used.")
        self.synth_button.clicked.connect(self.generate_pairs)
        builds.addWidget(self.synth_button)
        self.review_button = QPushButton("Review pairs…")
        self.review_button.setObjectName("reviewPairs")
        self.review_button.setToolTip("Accept, edit or reject generated pairs; accepted ones "
                                      "join the next SFT dataset.")
        self.review_button.clicked.connect(self.review_pairs)
        builds.addWidget(self.review_button)
        for kind, label in (("cpt", "Build CPT dataset"), ("sft", "Build SFT dataset"),
                            ("prefs", "Build preference dataset")):
            button = QPushButton(label)
            button.setObjectName(f"build-{kind}")
            button.clicked.connect(lambda _=False, k=kind: self.build_dataset(k))
            self.build_buttons[kind] = button
            builds.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(builds)
        layout.addWidget(self.datasets, 1)
        layout.addWidget(QLabel("<b>Runs</b>"))
        layout.addWidget(self.runs, 1)
        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self.refresh)
        monitor.changed.connect(self.refresh)
        self.runs.itemSelectionChanged.connect(self._selection_changed)
        self.refresh()

    def build_dataset(self, kind: str) -> str:
        return self.monitor.submit("build-dataset", {"kind": kind})

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        workspace = self.state.workspace
        enabled = workspace is not None
        self.train_button.setEnabled(enabled)
        self.pair_button.setEnabled(enabled)
        self.synth_button.setEnabled(enabled)
        self.review_button.setEnabled(enabled)
        for button in self.build_buttons.values():
            button.setEnabled(enabled)
        self.bundle_button.setEnabled(False)
        if workspace is None:
            self.datasets.setRowCount(0)
            self.runs.setRowCount(0)
            return
        records = list(reversed(DatasetStore(workspace).list()))
        self.datasets.setRowCount(len(records))
        for row, record in enumerate(records):
            summary = record.summary
            values = [record.id, record.kind, str(record.version), str(summary.get("train", "")),
                      str(summary.get("heldout", "")), f"{summary.get('tokens', 0):,}",
                      str(len(record.documents)), local_time(record.created)]
            for column, value in enumerate(values):
                self.datasets.setItem(row, column, QTableWidgetItem(value))
        registry = ModelRegistry(workspace)
        runs = [job for job in JobStore(workspace).list() if job.kind == "train"]
        self.runs.setRowCount(len(runs))
        for row, job in enumerate(runs):
            for column, value in enumerate(self._run_row(job, registry)):
                self.runs.setItem(row, column, QTableWidgetItem(value))

    @staticmethod
    def _run_row(job: JobStatus, registry: ModelRegistry) -> list[str]:
        result = result_of(job, TrainResult)
        metrics = result.metrics if result else {}
        ppl = ""
        before, after = metrics.get("heldout_ppl_before"), metrics.get("heldout_ppl_after")
        if before and after:
            ppl = f"{before:.2f} → {after:.2f}"
        model = result.model_id if result else ""
        recipe = ""
        if model and registry.exists(model):
            recipe = str(registry.get(model).config.get("recipe", ""))
        return [job.id, job.state, recipe, model, ppl, local_time(job.started or job.created)]

    def selected_run(self) -> str | None:
        items = self.runs.selectedItems()
        if not items:
            return None
        first = self.runs.item(items[0].row(), 0)
        return first.text() if first else None

    def _selection_changed(self) -> None:
        self.bundle_button.setEnabled(self.selected_run() is not None)

    def export_bundle(self) -> None:
        from desktop.dialogs.cluster_bundle import ClusterBundleDialog

        run = self.selected_run()
        if self.state.workspace is not None and run:
            ClusterBundleDialog(self.state.workspace, run, self).open()

    def add_pair(self) -> None:
        from desktop.dialogs.user_pair import UserPairDialog

        if self.state.workspace is not None:
            UserPairDialog(self.state.workspace, self).open()

    def generate_pairs(self) -> None:
        from desktop.dialogs.synth_generate import SynthDialog

        if self.state.workspace is not None:
            SynthDialog(self.state.workspace, self.monitor, self).open()

    def review_pairs(self) -> None:
        from desktop.dialogs.synth_review import SynthReviewDialog

        if self.state.workspace is not None:
            dialog = SynthReviewDialog(self.state.workspace, self)
            # the Overview counts the pairs still to review
            dialog.finished.connect(lambda _: self.state.notify({"datasets"}))
            dialog.open()

    def open_wizard(self) -> None:
        from desktop.wizards.train_wizard import TrainWizard

        if self.state.workspace is not None:
            wizard = TrainWizard(self.state, self.monitor, self)
            wizard.open()
