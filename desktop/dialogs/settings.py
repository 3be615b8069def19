"""Settings: folders, compute device (with what was detected), CPU threads, how many
heavy jobs run at once and the embedding model's precision."""

from __future__ import annotations

import os

from core.cpu import cpu_has_bf16_matmul
from core.settings import Settings
from core.system.hardware import Hardware, detect_hardware
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DEVICES = [("auto", "Automatic (GPU when available)"), ("cpu", "CPU"),
           ("cuda", "NVIDIA GPU (CUDA)")]
PRECISIONS = [("auto", "Automatic (faster where the CPU supports it)"),
              ("float32", "Exact (float32)"), ("bfloat16", "Fast (bfloat16)")]


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.workspaces_dir = QLineEdit(settings.workspaces_dir)
        self.model_cache_dir = QLineEdit(settings.model_cache_dir)
        self.device = QComboBox()
        self.device.setObjectName("deviceCombo")
        for value, label in DEVICES:
            self.device.addItem(label, value)
        self.device.setCurrentIndex([v for v, _ in DEVICES].index(settings.device))
        self.threads = QSpinBox()
        self.threads.setObjectName("threadsSpin")
        self.threads.setRange(0, os.cpu_count() or 64)
        self.threads.setSpecialValueText("All cores")
        self.threads.setValue(settings.threads)
        self.heavy_jobs = QSpinBox()
        self.heavy_jobs.setObjectName("heavyJobsSpin")
        self.heavy_jobs.setRange(1, 16)
        self.heavy_jobs.setValue(settings.heavy_jobs)
        self.heavy_jobs.setToolTip(
            "Training, merging, exporting, indexing, evaluating and importing each use every "
            "core. With 1, they run one after the other (the others wait, shown as queued); "
            "raise it on a machine with many cores or a GPU.")
        self.precision = QComboBox()
        self.precision.setObjectName("embeddingPrecisionCombo")
        for value, label in PRECISIONS:
            self.precision.addItem(label, value)
        self.precision.setCurrentIndex(
            [v for v, _ in PRECISIONS].index(settings.embedding_precision))
        hardware_bf16 = cpu_has_bf16_matmul()
        self.precision.setToolTip(
            "How the knowledge base's embedding model computes while indexing documents. "
            "bfloat16 is about twice as fast on CPUs with bfloat16 units and finds the same "
            "passages (searches always compute exactly); "
            + ("this CPU has them, so Automatic uses it." if hardware_bf16 else
               "this CPU lacks them, so Automatic stays exact (bfloat16 would be slower)."))
        self.hardware = QLabel("Detecting hardware…")
        self.hardware.setObjectName("hardwareLabel")
        self.hardware.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Workspaces folder", self._with_browse(self.workspaces_dir))
        form.addRow("Model cache", self._with_browse(self.model_cache_dir))
        form.addRow("Compute device", self.device)
        form.addRow("CPU threads", self.threads)
        form.addRow("Heavy jobs at once", self.heavy_jobs)
        form.addRow("Embedding precision", self.precision)
        form.addRow("Detected", self.hardware)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._settings = settings
        CoreOp(self, detect_hardware).success(self._show_hardware).failure(
            lambda error: self.hardware.setText(f"Could not detect hardware: {error}")
        ).run()

    def _with_browse(self, field: QLineEdit) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(field))
        layout.addWidget(button)
        return row

    def _browse(self, field: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", field.text())
        if folder:
            field.setText(folder)

    def _show_hardware(self, hardware: Hardware) -> None:
        self.hardware.setText(hardware.describe())
        cuda_index = [v for v, _ in DEVICES].index("cuda")
        item = self.device.model().item(cuda_index)  # type: ignore[attr-defined]
        if item is not None and not hardware.has_cuda:
            item.setEnabled(False)
            item.setToolTip("No CUDA GPU was detected on this machine.")

    def result_settings(self) -> Settings:
        return self._settings.model_copy(update={
            "workspaces_dir": self.workspaces_dir.text().strip(),
            "model_cache_dir": self.model_cache_dir.text().strip(),
            "device": self.device.currentData(),
            "threads": self.threads.value(),
            "heavy_jobs": self.heavy_jobs.value(),
            "embedding_precision": self.precision.currentData(),
        })
