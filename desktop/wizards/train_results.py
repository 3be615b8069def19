"""The training wizard's last page: held-out perplexity before and after, and a few
prompts answered by the model trained from and the one just trained (a
``compare-models`` job, with its progress)."""

from __future__ import annotations

from collections.abc import Callable

from core.formatting import format_duration as duration
from core.jobs import JobStatus
from core.jobs.results import CompareResult, TrainResult, result_of
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)
from desktop.widgets.buttons import button
from desktop.widgets.job_progress import JobProgress

DEFAULT_PROMPTS = (
    "Summarise the staffing approach for a cloud migration task order.",
    "What is the labour category code for a Senior Systems Engineer?",
)


class ResultsPage(QWizardPage):
    """Held-out perplexity base vs tuned, and a few prompts answered by both."""

    def __init__(self, trained: Callable[[], TrainResult | None],
                 trained_from: Callable[[], str], monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("Results")
        self.trained, self.trained_from = trained, trained_from
        self.summary = QLabel()
        self.summary.setObjectName("trainSummary")
        self.summary.setWordWrap(True)
        self.compare = button("Compare on prompts", "comparePrompts", self._compare)
        self.prompts = QPlainTextEdit("\n".join(DEFAULT_PROMPTS))
        self.prompts.setMaximumHeight(70)
        self.progress = JobProgress(monitor, "compareProgress")
        self.progress.ended.connect(self._ended)
        self.progress.setVisible(False)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels(["Prompt", "Before", "After"])
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Prompts (one per line):"))
        layout.addWidget(self.prompts)
        layout.addWidget(self.compare)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        result = self.trained()
        if result is None:
            return
        metrics = result.metrics
        before, after = metrics.get("heldout_ppl_before"), metrics.get("heldout_ppl_after")
        text = f"Registered <b>{result.model_id}</b>."
        if before and after:
            change = (after - before) / before * 100
            text += (f" Held-out perplexity: {before:.2f} → {after:.2f} ({change:+.1f}%), "
                     f"{metrics.get('steps', 0):.0f} steps in {duration(metrics.get('seconds'))}.")
        self.summary.setText(text)

    def models(self) -> tuple[str, str]:
        result = self.trained()
        return self.trained_from(), result.model_id if result else ""

    def _compare(self) -> None:
        prompts = [p.strip() for p in self.prompts.toPlainText().splitlines() if p.strip()]
        if not prompts or self.trained() is None or self.progress.running:
            return
        self.progress.setVisible(True)
        self.progress.start("compare-models", {"models": list(self.models()),
                                               "prompts": prompts},
                            "Compare before and after", "Loading both models…")
        self.compare.setEnabled(False)

    def _ended(self, status: JobStatus) -> None:
        self.compare.setEnabled(True)
        compared = result_of(status, CompareResult)
        if compared is None:
            return  # the progress line says why
        before, after = self.models()
        outputs, prompts = compared.outputs, compared.prompts
        self.table.setRowCount(len(prompts))
        for row, prompt in enumerate(prompts):
            for column, text in enumerate((prompt, outputs[before][row], outputs[after][row])):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
