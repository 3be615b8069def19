"""Compare drafts: 1–4 GGUF models draft the same held-out requests (job ``eval-drafts``);
the figures per model and the drafts side by side with the reference section.

The dialog builds an ``EvalDraftsConfig``; the job runs in a child process (progress,
time left and Cancel through the ``JobMonitor``) and writes its report under
``W/evaluations``, which the dialog reads back. Not modal: the app stays usable.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.drafting.eval_job import EvalDraftsConfig, default_models, report_paths
from core.drafting.eval_report import read_report, report_rate
from core.drafting.evaluate import DEFAULT_PAIRS, has_eval_pairs
from core.errors import ScriptoriumError
from core.generation.runtime import FALLBACK_MODEL, gguf_models
from core.jobs import JobStatus
from core.jobs.progress import ProgressEvent
from core.jobs.results import EvalDraftsResult, result_of
from core.workspace import Workspace
from core.workspace.registry import ModelRecord
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.draft_eval_view import EvalReportView
from desktop.widgets.draft_outcome import FAILED_COLOUR
from desktop.widgets.draft_settings import format_picker
from desktop.widgets.job_progress import JobProgress, time_left

MAX_MODELS = 4
NO_DATASET = ("This workspace has no requests with known good answers to draft yet: no "
              "instruction (SFT) dataset and no RFP paired with the proposal that answered it. "
              "Pair them in Documents, or choose a file of request/reference pairs above.")


def _report_label(path: Path) -> str:
    """"2025-12-02 00:27 UTC" from ``drafts-20251202-002700.json`` (the job names it in UTC)."""
    try:
        return datetime.strptime(path.stem, "drafts-%Y%m%d-%H%M%S").strftime(
            "%Y-%m-%d %H:%M UTC")
    except ValueError:
        return path.name


@dataclass(frozen=True)
class Choices:
    """What the dialog offers, read from the workspace (off the GUI thread)."""

    models: list[ModelRecord]  # GGUF models, the bundled base first, then newest first
    wanted: list[str]  # the ones ticked at first
    has_sft: bool
    reports: list[Path]


def gather_choices(workspace: Workspace, preselect: Sequence[str] = ()) -> Choices:
    records = gguf_models(workspace)  # newest first
    records.sort(key=lambda r: r.id != FALLBACK_MODEL)
    if preselect:  # compared with the bundled base
        ids = {r.id for r in records}
        wanted = [m for m in (FALLBACK_MODEL, *preselect) if m in ids]
    else:  # the base and the model drafting uses (core's default)
        wanted = list(default_models(workspace))
    return Choices(models=records, wanted=list(dict.fromkeys(wanted))[-MAX_MODELS:],
                   has_sft=has_eval_pairs(workspace),
                   reports=report_paths(workspace))


class CompareDraftsDialog(QDialog):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None,
                 models: Sequence[str] = ()) -> None:
        super().__init__(parent)
        self.setObjectName("compareDrafts")
        self.setWindowTitle("Compare drafts")
        self.state, self.monitor = state, monitor
        self.has_dataset = True
        self.models = QListWidget()
        self.models.setObjectName("evalModels")
        self.models.itemChanged.connect(self._on_item)
        self.limit = QSpinBox()
        self.limit.setObjectName("evalLimit")
        self.limit.setRange(1, 200)
        self.limit.setValue(DEFAULT_PAIRS)
        self.limit.setToolTip("How many requests each model drafts. The requests were kept "
                              "out of training, so the models have not seen the answers.")
        self.limit.valueChanged.connect(self._update)
        self.pairs_file = QLineEdit()
        self.pairs_file.setObjectName("evalPairsFile")
        self.pairs_file.setPlaceholderText("optional .jsonl file")
        self.pairs_file.setToolTip("By default the requests are the held-out ones of the newest "
                                   'SFT dataset. Instead: a .jsonl file, one {"request": …, '
                                   '"reference": …} per line.')
        self.pairs_file.textChanged.connect(self._update)
        browse = button("Choose…", "evalChoosePairs", self._choose_pairs)
        self.format = format_picker("evalFormat")
        self.same_prompts = QCheckBox("Same prompts as the results below")
        self.same_prompts.setObjectName("evalSamePrompts")
        self.same_prompts.setEnabled(False)
        self.same_prompts.setToolTip(
            "Size every prompt as the run shown below did, so the new figures compare with "
            "its figures whatever this computer is doing. Unticked, the reading speed is "
            "measured once when the first model loads, and kept for every model.")
        self.run_button = button("Run", "evalRun", self.run)
        self.cancel_button = button("Cancel", "evalCancel", self.cancel)
        self.job = JobProgress(monitor, "evalProgress")
        self.job.progress.connect(self._on_progress)
        self.job.ended.connect(self._ended)
        self.bar, self.progress = self.job.bar, self.job.label
        self.progress.setObjectName("evalProgressText")
        self.message = QLabel()
        self.message.setObjectName("evalMessage")
        self.message.setWordWrap(True)
        self.earlier = QComboBox()
        self.earlier.setObjectName("evalEarlier")
        self.earlier.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.earlier.activated.connect(lambda _: self._open_earlier())
        self.view = EvalReportView()

        files = QHBoxLayout()
        files.addWidget(self.pairs_file, 1)
        files.addWidget(browse)
        form = QFormLayout()
        form.addRow("Requests per model:", self.limit)
        form.addRow("Requests from a file:", files)
        form.addRow("Prompt format:", self.format)
        form.addRow("", self.same_prompts)
        setup = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(QLabel(f"Models (tick 1 to {MAX_MODELS}):"))
        left.addWidget(self.models)
        setup.addLayout(left, 1)
        setup.addLayout(form, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.job, 1)
        results_row = QHBoxLayout()
        results_row.addWidget(QLabel("<b>Results</b>"))
        results_row.addStretch(1)
        results_row.addWidget(QLabel("Earlier runs:"))
        results_row.addWidget(self.earlier)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each model drafts the same requests, which were kept out of "
                                "training, and the drafts are scored against the sections "
                                "your team wrote for them."))
        layout.addLayout(setup)
        layout.addLayout(run_row)
        layout.addWidget(self.message)
        layout.addLayout(results_row)
        layout.addWidget(self.view, 1)
        self.models.setMaximumHeight(100)
        self.resize(1040, 860)

        self.loaded = False  # the choices are read off the GUI thread
        self._list_reports([])
        self._load(models)
        self._update()

    # -- choices --------------------------------------------------------------------------
    def _load(self, preselect: Sequence[str]) -> None:
        workspace = self.state.workspace
        if workspace is not None:
            CoreOp(self, lambda: gather_choices(workspace, preselect)).success(self._fill).run()

    def _fill(self, choices: Choices) -> None:
        self.loaded, self.has_dataset = True, choices.has_sft
        self.models.blockSignals(True)
        for record in choices.models:
            label = record.id if record.name in ("", record.id) else f"{record.name} — {record.id}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if record.id in choices.wanted
                               else Qt.CheckState.Unchecked)
            self.models.addItem(item)
        self.models.blockSignals(False)
        self._list_reports(choices.reports)
        self._update()
        if not choices.models:
            self._error("No GGUF model in this workspace: import the bundled base model "
                        "(Models) or export a trained one (Export) first.")

    def checked(self) -> list[str]:
        return [self.models.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.models.count())
                if self.models.item(i).checkState() == Qt.CheckState.Checked]

    def _choose_pairs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Request/reference pairs", "",
                                              "JSON lines (*.jsonl);;All files (*)")
        if path:
            self.pairs_file.setText(path)

    def config(self) -> EvalDraftsConfig:
        pairs = self.pairs_file.text().strip()
        return EvalDraftsConfig(
            models=tuple(self.checked()), limit=self.limit.value(),
            pairs_file=str(Path(pairs).expanduser().absolute()) if pairs else None,
            format=str(self.format.currentData()),
            prefill_rate=self._shown_rate() if self.same_prompts.isChecked() else None)

    def _shown_rate(self) -> float | None:
        return report_rate(self.view.report) if self.view.report else None

    def _on_item(self, item: QListWidgetItem) -> None:
        over = len(self.checked()) > MAX_MODELS
        if over:
            self.models.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.models.blockSignals(False)
        self._update()
        if over:
            self.message.setText(f"Compare at most {MAX_MODELS} models at a time.")

    def _update(self, *_: Any) -> None:
        checked = self.checked()
        running = self.job_id is not None
        has_pairs = self.has_dataset or bool(self.pairs_file.text().strip())
        if not self.has_dataset:  # the note goes once a file stands in for the dataset
            self._error("" if has_pairs else NO_DATASET)
        self.run_button.setEnabled(self.loaded and bool(checked) and has_pairs and not running)
        self.cancel_button.setEnabled(running)
        if not running:
            drafts = len(checked) * self.limit.value()
            self.progress.setText(f"{drafts} drafts to write." if drafts else
                                  "Tick the models to compare.")

    # -- the job ----------------------------------------------------------------------------
    @property
    def job_id(self) -> str | None:
        return self.job.job_id

    @job_id.setter
    def job_id(self, value: str | None) -> None:
        self.job.job_id = value

    def run(self) -> None:
        try:
            self.job.start("eval-drafts", self.config(), "Compare drafts")
        except ScriptoriumError as error:  # refused before it started (e.g. a bad config)
            self._error(str(error))
            return
        self.message.clear()
        self._update()

    def cancel(self) -> None:
        self.job.cancel()

    def _on_progress(self, event: ProgressEvent) -> None:
        done = f"Drafts written: {event.step} of {event.total}" if event.total else "Drafting"
        self.progress.setText(f"{done} ({event.message}){time_left(event.eta_s)}")

    def _ended(self, status: JobStatus) -> None:
        self._update()
        finished = result_of(status, EvalDraftsResult)
        if finished is not None:
            self.progress.setText("Finished.")
            self._list_reports(report_paths(self.state.workspace))
            self.load_report(Path(finished.report))
        elif status.state == "cancelled":
            self.bar.setValue(0)
            self.progress.setText("Cancelled; no results were saved.")
        else:
            self.bar.setValue(0)
            self.progress.setText("")
            error = status.error or "The comparison failed; see its log in Jobs."
            self._error(NO_DATASET if "no held-out request/reference pairs" in error
                        else error)

    def _error(self, text: str) -> None:
        self.message.setText(f"<span style='color:{FAILED_COLOUR}'><b>{html.escape(text)}"
                             "</b></span>" if text else "")

    # -- reports ------------------------------------------------------------------------------
    def _list_reports(self, paths: Sequence[Path]) -> None:
        shown = self.earlier.currentData()
        self.earlier.clear()
        for path in paths:
            self.earlier.addItem(_report_label(path), str(path))
        self.earlier.setEnabled(bool(paths))
        self.earlier.setPlaceholderText("choose…" if paths else "none yet")
        self.earlier.setCurrentIndex(self.earlier.findData(shown) if shown else -1)
        if self.view.report is None:
            self.view.clear("No results shown yet: press Run" + (
                ", or choose one of the earlier runs." if paths else "."))

    def _open_earlier(self) -> None:
        path = self.earlier.currentData()
        if path:
            self.load_report(Path(path))

    def load_report(self, path: Path) -> None:
        """Read a saved report off the GUI thread and show it."""
        index = self.earlier.findData(str(path))
        if index >= 0:
            self.earlier.setCurrentIndex(index)
        CoreOp(self, lambda: read_report(path)).success(self.show_report).failure(
            lambda error: self._error(str(error))).run()

    def show_report(self, report: dict[str, Any]) -> None:
        self.view.show_report(report)
        self._offer_same_prompts()

    def _offer_same_prompts(self) -> None:
        rate = self._shown_rate()
        self.same_prompts.setEnabled(rate is not None)
        if rate is None:
            self.same_prompts.setChecked(False)
        self.same_prompts.setToolTip(
            "Size every prompt as the run shown below did" + (
                f" (the sources a model reads at {rate:g} tokens a second)" if rate else "")
            + ", so the new figures compare with its figures whatever this computer is "
            "doing. Unticked, the reading speed is measured once when the first model loads, "
            "and kept for every model.")
