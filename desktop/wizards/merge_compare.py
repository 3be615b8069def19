"""The merge wizard's last page: did the merge keep both skills? Held-out perplexity of
each source model and the merge on each source's dataset, a few prompts answered side by
side (``evaluate-models`` and ``compare-models`` jobs, each with its progress), and the
Compare drafts dialog once the merge is exported to GGUF."""

from __future__ import annotations

from collections.abc import Callable

from core.jobs import JobStatus
from core.jobs.results import CompareResult, EvaluateResult, result_of
from core.models.resolve import exported_gguf
from core.workspace.registry import ModelRegistry
from desktop.dialogs.compare_drafts import CompareDraftsDialog
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.job_progress import JobProgress


class ComparePage(QWizardPage):
    """Held-out perplexity per source domain, and prompts answered side by side."""

    def __init__(self, state: AppState, sources: Callable[[], list[str]],
                 merged: Callable[[], str | None], monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("Did the merge keep both skills?")
        self.state, self.sources, self.merged, self.monitor = state, sources, merged, monitor
        self.ppl = QTableWidget(0, 0)
        self.ppl.setObjectName("mergePerplexity")
        self.prompts = QPlainTextEdit("Describe our approach to a static hot-fire test campaign.\n"
                                      "Summarise a staffing plan for a SOC support contract.")
        self.prompts.setMaximumHeight(60)
        self.compare = button("Evaluate", "evaluateMerge", self.evaluate)
        self.drafts = button("Compare drafts…", "mergeCompareDrafts", self.compare_drafts,
                             "Let the merged model draft held-out requests beside the base "
                             "model (it must be exported to GGUF first).")
        self.progress = {kind: JobProgress(monitor, f"merge{kind.title()}Progress")
                         for kind in ("evaluate", "compare")}
        self.answers = QTableWidget(0, 0)
        self.answers.setObjectName("mergeAnswers")
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Held-out perplexity (lower is better), per source dataset:"))
        layout.addWidget(self.ppl, 1)
        layout.addWidget(QLabel("Prompts (one per line):"))
        layout.addWidget(self.prompts)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare)
        buttons.addWidget(self.drafts)
        layout.addLayout(buttons)
        for kind, progress in self.progress.items():
            progress.setVisible(False)
            progress.ended.connect(lambda status, kind=kind: self._ended(kind, status))
            layout.addWidget(progress)
        layout.addWidget(self.answers, 1)
        layout.addWidget(self.note)

    def models(self) -> list[str]:
        merged = self.merged()
        return [*self.sources(), *([merged] if merged else [])]

    def datasets(self) -> list[str]:
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        found: list[str] = []
        for model_id in self.sources():
            for dataset in registry.get(model_id).datasets:
                if dataset not in found:
                    found.append(dataset)
        return found

    def evaluate(self) -> None:
        prompts = [p.strip() for p in self.prompts.toPlainText().splitlines() if p.strip()]
        models = self.models()
        if any(p.running for p in self.progress.values()):
            return
        if prompts:
            self._start("compare", {"models": models, "prompts": prompts},
                        "Answer the prompts with each model")
        datasets = self.datasets()
        if datasets:
            self._start("evaluate", {"models": models, "datasets": datasets},
                        "Held-out perplexity of each model")
        else:
            self.note.setText("The source models record no training datasets, so there is no "
                              "held-out text per domain to score.")
        self.compare.setEnabled(not any(p.running for p in self.progress.values()))

    def _start(self, kind: str, config: dict[str, object], title: str) -> None:
        self.progress[kind].setVisible(True)
        self.progress[kind].start(f"{kind}-models", config, title, "Loading the models…")

    def compare_drafts(self) -> CompareDraftsDialog | None:
        """The Compare drafts dialog with the merged model's GGUF ticked, once exported."""
        merged = self.merged()
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        gguf = exported_gguf(registry, merged) if merged else None
        if gguf is None:
            self.note.setText("Drafts are written by GGUF models: export the merged model "
                              "to GGUF first (in Export), then press Compare drafts again.")
            return None
        dialog = CompareDraftsDialog(self.state, self.monitor, self, (gguf,))
        dialog.show()
        return dialog

    def _ended(self, kind: str, status: JobStatus) -> None:
        self.compare.setEnabled(not any(p.running for p in self.progress.values()))
        if kind == "evaluate":
            evaluated = result_of(status, EvaluateResult)
            if evaluated is not None:
                self._fill_perplexity(evaluated.perplexity)
        else:
            compared = result_of(status, CompareResult)
            if compared is not None:
                self._fill_answers(compared.prompts, compared.outputs)

    def _fill_perplexity(self, table: dict[str, dict[str, float]]) -> None:
        models = list(table)
        datasets = sorted({d for row in table.values() for d in row})
        self.ppl.setRowCount(len(models))
        self.ppl.setColumnCount(len(datasets))
        self.ppl.setHorizontalHeaderLabels(datasets)
        self.ppl.setVerticalHeaderLabels(models)
        for r, model in enumerate(models):
            for c, dataset in enumerate(datasets):
                self.ppl.setItem(r, c, QTableWidgetItem(f"{table[model].get(dataset, 0):.2f}"))

    def _fill_answers(self, prompts: list[str], outputs: dict[str, list[str]]) -> None:
        models = list(outputs)
        self.answers.setRowCount(len(prompts))
        self.answers.setColumnCount(len(models))
        self.answers.setHorizontalHeaderLabels(models)
        self.answers.setVerticalHeaderLabels([p[:40] for p in prompts])
        for r in range(len(prompts)):
            for c, model in enumerate(models):
                self.answers.setItem(r, c, QTableWidgetItem(outputs[model][r]))
        self.answers.resizeRowsToContents()
