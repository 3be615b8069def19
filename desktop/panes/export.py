"""Export pane: a model → GGUF (f16, Q8_0, Q6_K, Q5_K_M, Q4_K_M), verified; the GGUF files
with size and quality against f16."""

from __future__ import annotations

from core.export.config import QUANTS, default_quants
from core.formatting import format_size
from core.jobs import JobStatus
from core.jobs.results import ExportResult, result_of
from core.workspace.registry import ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
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
from desktop.widgets.job_progress import JobProgress

COLUMNS = ["GGUF model", "Quantization", "Source", "Size", "Perplexity", "vs f16", "Tokens/s"]
DEFAULT_QUANTS = ("q8_0",)  # until a model is chosen: then ``default_quants`` by its size
QUANT_TIP = ("Q8_0 is preselected for a model under a billion parameters: at 4 bits a model "
             "that small loses too much of its tuning. Larger models get Q4_K_M.")
PRE_TOKENIZERS = ("auto", "gpt-2", "llama-bpe")


class ExportPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-export")
        self.state, self.monitor = state, monitor
        self.model = QComboBox()
        self.model.setObjectName("exportModel")
        self.quants = {q: QCheckBox(q.upper()) for q in QUANTS}
        for quant, box in self.quants.items():
            box.setObjectName(f"quant-{quant}")
            box.setChecked(quant in DEFAULT_QUANTS)
            box.setToolTip(QUANT_TIP)
            box.toggled.connect(lambda _=False: self._update_button())
        self._sizes: dict[str, int | None] = {}  # model id -> parameters
        self._preselected_for: str | None = None
        self.model.currentIndexChanged.connect(lambda _: self._preselect())
        # Only for a tokenizer llama.cpp does not recognise (the export then says so).
        self.pre_tokenizer = QComboBox()
        self.pre_tokenizer.setObjectName("preTokenizer")
        self.pre_tokenizer.setEditable(True)
        self.pre_tokenizer.addItems(PRE_TOKENIZERS)
        self.pre_tokenizer.setToolTip(
            "llama.cpp's name for the model's BPE pre-tokenizer. Leave it on auto unless the "
            "export reports that it does not recognise the tokenizer.")
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportButton")
        self.export_button.clicked.connect(self.start_export)
        self.job = JobProgress(monitor, "exportProgress")
        self.job.ended.connect(self._ended)
        self.bar, self.message = self.job.bar, self.job.label
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("ggufTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

        row = QHBoxLayout()
        row.addWidget(QLabel("Model"))
        row.addWidget(self.model, 1)
        for box in self.quants.values():
            row.addWidget(box)
        # only needed for a tokenizer llama.cpp does not know: shown when an export asks
        self.tokenizer_label = QLabel("Tokenizer type")
        self.tokenizer_label.setToolTip(self.pre_tokenizer.toolTip())
        row.addWidget(self.tokenizer_label)
        row.addWidget(self.pre_tokenizer)
        self.show_tokenizer(False)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Export to GGUF</h2>"))
        layout.addLayout(row)
        layout.addWidget(self.job)
        layout.addWidget(self.table, 1)
        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self.refresh)
        self.refresh()

    def _preselect(self) -> None:
        """The types the export makes by default for the chosen model's size."""
        model_id = self.model.currentData()
        if model_id is None or model_id == self._preselected_for:
            return  # (a refresh of the same choice keeps what the user ticked)
        self._preselected_for = model_id
        wanted = default_quants(self._sizes.get(model_id))
        for quant, box in self.quants.items():
            box.setChecked(quant in wanted)

    def selected_quants(self) -> list[str]:
        return [q for q, box in self.quants.items() if box.isChecked()]

    def _update_button(self) -> None:
        self.export_button.setEnabled(
            self.model.count() > 0 and bool(self.selected_quants()) and not self.job.running)

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        workspace = self.state.workspace
        records = ModelRegistry(workspace).list() if workspace else []
        current = self.model.currentData()
        self.model.blockSignals(True)  # refilling passes through other models: no preselect
        self.model.clear()
        self._sizes = {r.id: r.parameters for r in records}
        for record in records:
            if record.kind != "gguf":
                self.model.addItem(f"{record.name} [{record.kind}]", record.id)
        if current is not None and self.model.findData(current) >= 0:
            self.model.setCurrentIndex(self.model.findData(current))
        self.model.blockSignals(False)
        self._preselect()
        ggufs = [r for r in records if r.kind == "gguf"]
        self.table.setRowCount(len(ggufs))
        for row, record in enumerate(ggufs):
            m = record.metrics
            values = [record.id, str(record.config.get("quantization", "")),
                      ", ".join(record.parents), format_size(record.size_bytes),
                      f"{m['perplexity']:.2f}" if "perplexity" in m else "-",
                      f"{m['perplexity_ratio_vs_f16']:.3f}×" if "perplexity_ratio_vs_f16" in m
                      else "-",
                      f"{m['tokens_per_s']:.0f}" if "tokens_per_s" in m else "-"]
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self._update_button()

    def start_export(self) -> str | None:
        model_id = self.model.currentData()
        if not model_id or not self.selected_quants():
            return None
        config: dict[str, object] = {"model": model_id, "quants": self.selected_quants()}
        pre_tokenizer = self.pre_tokenizer.currentText().strip()
        if pre_tokenizer and pre_tokenizer != PRE_TOKENIZERS[0]:
            config["pre_tokenizer"] = pre_tokenizer
        job_id = self.job.start("export", config, f"Export {model_id}", "Exporting…")
        self._update_button()
        return job_id

    def show_tokenizer(self, shown: bool) -> None:
        self.tokenizer_label.setVisible(shown)
        self.pre_tokenizer.setVisible(shown)

    def _ended(self, status: JobStatus) -> None:
        if status.state == "succeeded":
            self.message.setText(export_summary(result_of(status, ExportResult)))
        elif "does not recognise this model's tokenizer" in (status.error or ""):
            self.show_tokenizer(True)  # the one case that needs it: let the user pick one
            self.message.setText(f"{status.error} Pick its tokenizer type next to Export "
                                 "(gpt-2 suits most) and export again.")
        self.refresh()  # the other panes hear of the new models from the job monitor


def export_summary(result: ExportResult | None) -> str:
    """What an export produced, in words: each file, whether it keeps the fine-tune's
    gain (verified), and which file to use when one lost it."""
    if result is None:
        return "Exported."
    lines = []
    for o in result.outputs:
        kept = o.get("gain_kept")
        gain = f", keeps {kept:.0%} of the fine-tune's gain" if kept is not None else ""
        state = "verified" if o.get("verified", True) else "NOT verified"
        lines.append(f"{o.get('label')}: {state} ({format_size(o.get('size_bytes', 0))}, "
                     f"perplexity ×{o.get('perplexity_ratio', 0):.3f} vs f16{gain})")
    for quant, model_id in result.recommended.items():
        if not any(o.get("model_id") == model_id and o.get("quant") == quant
                   for o in result.outputs):
            lines.append(f"Use {model_id} instead of the {quant.upper()} file: it keeps "
                         "the adaptation.")
    lines.extend(result.warnings)
    return "\n".join(lines) or "Exported."
