"""Export a training run as a cluster bundle (core.training.cluster), off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.training.config import TrainConfig
from core.workspace import Workspace
from desktop.ops import CoreOp
from desktop.qt import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
)


def _configured_nproc(workspace: Workspace, run: str | TrainConfig) -> int:
    """The run's own process count, the dialog's starting value (0 when unknown)."""
    from core.errors import ScriptoriumError
    from core.training.cluster import resolve_run

    try:
        return resolve_run(workspace, run).nproc
    except ScriptoriumError:
        return 0  # the export itself reports what is wrong with the run


class ClusterBundleDialog(QDialog):
    """Processes per node, nodes, Slurm partition and time, the folder → a bundle."""

    def __init__(self, workspace: Workspace, run: str | TrainConfig,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clusterBundleDialog")
        self.setWindowTitle("Export for a cluster")
        self.workspace, self.run = workspace, run
        config_nproc = _configured_nproc(workspace, run)
        self.nproc = QSpinBox()
        self.nproc.setObjectName("bundleNproc")
        self.nproc.setRange(1, 64)
        self.nproc.setValue(max(1, config_nproc))
        self.nodes = QSpinBox()
        self.nodes.setObjectName("bundleNodes")
        self.nodes.setRange(1, 128)
        self.partition = QLineEdit()
        self.partition.setPlaceholderText("(the cluster's default)")
        self.time_limit = QLineEdit("24:00:00")
        self.out = QLineEdit()
        self.out.setObjectName("bundleOut")
        self.out.setPlaceholderText("a new, empty folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        label = run if isinstance(run, str) else f"{run.recipe.upper()} on {run.dataset}"
        form.addRow("Run", QLabel(label))
        form.addRow("GPUs (processes) per node", self.nproc)
        form.addRow("Nodes (Slurm)", self.nodes)
        form.addRow("Slurm partition", self.partition)
        form.addRow("Time limit", self.time_limit)
        form.addRow("Folder", out_row)
        self.status = QLabel("The folder gets the model, the dataset, run.sh (torchrun), "
                             "slurm.sbatch and a checksum manifest.")
        self.status.setObjectName("bundleStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setObjectName("exportBundle")
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Parent folder for the bundle")
        if folder:
            self.out.setText(str(Path(folder) / "scriptorium-cluster-run"))

    def export(self) -> None:
        from core.training.cluster import export_bundle

        text = self.out.text().strip()
        if not text:
            self.status.setText("Choose a folder for the bundle first.")
            return
        out = Path(text).expanduser()
        options: dict[str, Any] = {"nproc": self.nproc.value(), "nodes": self.nodes.value(),
                                   "partition": self.partition.text().strip(),
                                   "time_limit": self.time_limit.text().strip() or "24:00:00"}
        self.export_button.setEnabled(False)
        self.status.setText(f"Writing {out} (copying the model and checksumming)…")
        CoreOp(self, lambda: export_bundle(self.workspace, self.run, out, **options)).success(
            lambda info: self._done(info, out)).failure(self._failed).run()

    def _done(self, info: dict[str, Any], out: Path) -> None:
        self.export_button.setEnabled(True)
        self.status.setText(
            f"<b>Bundle {info['id']} written.</b><br>On the cluster: "
            f"<code>NPROC={info['nproc']} bash {out}/run.sh</code> or "
            f"<code>sbatch {out}/slurm.sbatch</code><br>Back here: Models → "
            "Import a cluster run…")

    def _failed(self, error: BaseException) -> None:
        self.export_button.setEnabled(True)
        self.status.setText(f"<span style='color:#b00'>{error}</span>")
