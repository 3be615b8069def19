"""Compare drafts: the dialog's eval-drafts config, its progress, a saved report rendered,
the missing-dataset message, and the merge wizard's way in. No job runs: the monitor's
signals are fed directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.drafting.eval_job import EvalDraftsConfig
from core.drafting.eval_report import FIGURES
from core.generation.runtime import FALLBACK_MODEL
from core.jobs import JobStatus
from core.jobs.progress import ProgressEvent
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.dialogs.compare_drafts import NO_DATASET, CompareDraftsDialog
from desktop.jobs_monitor import JobMonitor
from desktop.qt import QListWidgetItem, Qt
from desktop.state import AppState

NEWEST = "proposals-sft-q4km"


def _register(workspace: Workspace, model_id: str, created: str, kind: str = "gguf",
              parents: tuple[str, ...] = ()) -> None:
    record = ModelRecord(id=model_id, name=model_id, kind=kind, architecture="gemma3",
                         format="gguf" if kind == "gguf" else "safetensors", created=created,
                         parents=parents)
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        (folder / ("model.gguf" if kind == "gguf" else "model.safetensors")).write_bytes(b"x")


def _report(path: Path) -> dict[str, Any]:
    def row(status: str, text: str, problems: list[str]) -> dict[str, Any]:
        return {"pair": "p", "status": status, "format": "document", "rouge_l": 0.1,
                "problems": problems, "text": text}

    report = {
        "created": "2025-12-02T00:27:00+00:00", "similarity": None,
        "pairs": [{"id": "sft#0", "request": "Write the staffing plan.",
                   "reference": "Four shift teams of three cleared analysts."},
                  {"id": "sft#1", "request": "Write the past performance section.",
                   "reference": "We maintained 42 radar sites."}],
        "models": [
            {"model": FALLBACK_MODEL, "format": ["document"], "echo_rate": 0.5,
             "failed_rate": 0.5, "citation_validity": None, "rouge_l": 0.08,
             "per_pair": [row("failed", "Write the staffing plan section of our",
                              ["it repeats the prompt"]),
                          row("ok", "Our radar team kept 42 sites running.", [])]},
            {"model": NEWEST, "format": ["chat"], "echo_rate": 0.0, "failed_rate": 0.0,
             "citation_validity": 0.8, "rouge_l": 0.31,
             "per_pair": [row("ok", "Four shifts of three analysts.", []),
                          row("ok", "We kept 42 radar sites since 2017 for "
                              "[unverified: $35] a day.", [])]}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), encoding="utf-8")
    return report


@pytest.fixture
def models(workspace: Workspace) -> Workspace:
    _register(workspace, FALLBACK_MODEL, "2025-01-01T00:00:00")
    _register(workspace, "older-q4km", "2025-03-01T00:00:00")
    _register(workspace, NEWEST, "2025-06-01T00:00:00")
    return workspace


@pytest.fixture
def dialog(qtbot, app_state: AppState, models: Workspace) -> Iterator[CompareDraftsDialog]:  # noqa: ANN001
    app_state.set_workspace(models)
    monitor = JobMonitor()
    monitor.set_workspace(models)
    widget = CompareDraftsDialog(app_state, monitor)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.loaded, timeout=10_000)  # read off the GUI thread
    assert not widget.has_dataset  # this workspace has no SFT dataset
    yield widget


def test_the_dialog_builds_the_eval_drafts_config(qtbot, dialog: CompareDraftsDialog,  # noqa: ANN001
                                                 tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    assert dialog.checked() == [FALLBACK_MODEL, NEWEST]  # the base and the newest by default
    assert dialog.limit.value() == 6
    assert not dialog.run_button.isEnabled()  # no SFT dataset and no pairs file
    assert "no instruction (SFT) dataset" in dialog.message.text()

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"request": "r", "reference": "s"}\n', encoding="utf-8")
    dialog.pairs_file.setText(str(pairs))
    dialog.limit.setValue(3)
    dialog.format.setCurrentIndex(dialog.format.findData("document"))
    assert dialog.run_button.isEnabled() and dialog.message.text() == ""
    expected = EvalDraftsConfig(models=(FALLBACK_MODEL, NEWEST), limit=3,
                                pairs_file=str(pairs), format="document")
    assert dialog.config() == expected

    submitted: list[tuple[str, Any]] = []
    monkeypatch.setattr(dialog.monitor, "submit",
                        lambda kind, config, title="": submitted.append((kind, config)) or "j1")
    dialog.run_button.click()
    assert submitted == [("eval-drafts", expected)]
    assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
    dialog.job.on_event("j1", ProgressEvent(type="progress", time=0.0, step=3, total=6,
                                         message="drafted 3 of 3", eta_s=150.0))
    assert dialog.bar.value() == 500
    assert "Drafts written: 3 of 6" in dialog.progress.text()
    assert "about 2 min left" in dialog.progress.text()
    cancelled: list[str] = []
    monkeypatch.setattr(dialog.monitor, "cancel", cancelled.append)
    dialog.cancel_button.click()
    assert cancelled == ["j1"]
    dialog.job.on_finished("j1", JobStatus(id="j1", kind="eval-drafts", title="",
                                           state="cancelled"))
    assert "Cancelled" in dialog.progress.text() and dialog.run_button.isEnabled()


def test_at_most_four_models_can_be_ticked(dialog: CompareDraftsDialog) -> None:
    for name in ("extra-1", "extra-2"):  # more models than the workspace holds
        item = QListWidgetItem(name)
        item.setData(Qt.ItemDataRole.UserRole, name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        dialog.models.addItem(item)
    for row in range(dialog.models.count()):
        dialog.models.item(row).setCheckState(Qt.CheckState.Checked)
    assert len(dialog.checked()) == 4
    assert dialog.models.item(4).checkState() == Qt.CheckState.Unchecked
    assert "at most 4" in dialog.message.text()


def test_a_finished_job_shows_its_report(qtbot, dialog: CompareDraftsDialog,  # noqa: ANN001
                                         models: Workspace) -> None:
    path = models.root / "evaluations" / "drafts-20251202-002700.json"
    _report(path)
    dialog.job_id = "j2"
    dialog.job.on_finished("j2", JobStatus(id="j2", kind="eval-drafts", title="",
                                        state="succeeded", result={"report": str(path)}))
    view = dialog.view
    qtbot.waitUntil(lambda: view.report is not None, timeout=10_000)
    assert dialog.earlier.currentText() == "2025-12-02 00:27 UTC"
    table = view.table
    assert table.columnCount() == 2 and table.rowCount() == len(FIGURES) + 1
    assert [table.horizontalHeaderItem(c).text() for c in range(2)] == [FALLBACK_MODEL, NEWEST]
    assert all(table.verticalHeaderItem(r).toolTip() for r in range(table.rowCount()))
    assert table.item(0, 1).text() == "chat"  # the prompt format row
    assert table.item(1, 0).text() == "50 %"  # echo rate of the base
    assert view.pair_choice.count() == 2 and "1 failed" in view.pair_choice.itemText(0)
    shown = view.drafts.toPlainText()
    assert "Four shift teams of three cleared analysts." in shown  # the reference
    assert "Failed the quality checks: it repeats the prompt" in shown
    assert "Four shifts of three analysts." in shown
    view.pair_choice.setCurrentIndex(1)
    assert "42 radar sites" in view.drafts.toPlainText()
    assert "background-color:#ffe98a" in view.drafts.toHtml()  # the marked figure stands out


def test_a_saved_report_renders_without_a_job(qtbot, dialog: CompareDraftsDialog,  # noqa: ANN001
                                              tmp_path: Path) -> None:
    report = _report(tmp_path / "r.json")
    dialog.show_report(report)
    assert dialog.view.table.item(3, 1).text() == "0 %"  # failed share of the newest
    assert "no embedding model" in dialog.view.summary.text()


def test_a_failed_job_explains_the_missing_dataset(dialog: CompareDraftsDialog) -> None:
    dialog.has_dataset = True  # as if a dataset existed when the dialog opened
    dialog.job_id = "j3"
    error = ("This workspace has no held-out request/reference pairs to evaluate drafts on. "
             "(pair RFPs with the proposals that answered them or import instruction pairs, "
             "or give --pairs FILE.jsonl)")
    dialog.job.on_finished("j3", JobStatus(id="j3", kind="eval-drafts", title="", state="failed",
                                        error=error))
    assert "Pair them in Documents" in dialog.message.text()
    assert "--pairs" not in dialog.message.text()
    assert NO_DATASET.split(",")[0] in dialog.message.text()


def test_merge_wizard_opens_it_for_the_exported_merge(qtbot, app_state: AppState,  # noqa: ANN001
                                                      models: Workspace, monkeypatch) -> None:  # noqa: ANN001
    from desktop.wizards.merge_wizard import MergeWizard

    _register(models, "merged-1", "2025-07-01T00:00:00", kind="merged")
    app_state.set_workspace(models)
    monitor = JobMonitor()
    monitor.set_workspace(models)
    wizard = MergeWizard(app_state, monitor)
    qtbot.addWidget(wizard)
    page = wizard.compare
    monkeypatch.setattr(page, "merged", lambda: "merged-1")
    assert page.compare_drafts() is None
    assert "export the merged model to GGUF first" in page.note.text()

    _register(models, "merged-1-q4km", "2025-07-02T00:00:00", parents=("merged-1",))
    dialog = page.compare_drafts()
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    assert dialog.checked() == [FALLBACK_MODEL, "merged-1-q4km"]


def test_models_pane_opens_it_with_the_selected_model(qtbot, app_state: AppState,  # noqa: ANN001
                                                      models: Workspace) -> None:
    from desktop.panes.models import ModelsPane

    app_state.set_workspace(models)
    monitor = JobMonitor()
    monitor.set_workspace(models)
    pane = ModelsPane(app_state, monitor)
    qtbot.addWidget(pane)
    item = pane.tree.findItems("older-q4km", Qt.MatchFlag.MatchExactly, 0)[0]
    pane.tree.setCurrentItem(item)
    dialog = pane.compare_drafts()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    assert dialog.checked() == [FALLBACK_MODEL, "older-q4km"] and not dialog.isModal()
    assert pane.compare_drafts() is dialog  # still open: shown again, not a second one


def test_a_rerun_can_read_the_same_prompts_as_the_results_shown(
        dialog: CompareDraftsDialog, tmp_path: Path) -> None:
    """The prompts' size follows the machine's reading speed; ticking "same prompts" sizes
    the next run's prompts at the rate the shown run used, so their figures compare."""
    assert not dialog.same_prompts.isEnabled()  # nothing shown yet
    old = _report(tmp_path / "old.json")  # a report from before the rate was recorded
    dialog.show_report(old)
    assert not dialog.same_prompts.isEnabled()
    assert "each model's own reading speed" in dialog.view.summary.text()
    report = {**old, "prompt_budget": {"first_token_s": 1.5, "prefill_rate": 612.5,
                                       "measured": True}}
    dialog.show_report(report)
    assert dialog.same_prompts.isEnabled() and "612.5 tokens" in dialog.same_prompts.toolTip()
    assert "reads in 1.5 s at 612.5 tokens/s (measured once), the same size for every model" in \
        dialog.view.summary.text()
    assert dialog.config().prefill_rate is None  # unticked: measured afresh
    dialog.same_prompts.setChecked(True)
    assert dialog.config().prefill_rate == 612.5
    dialog.show_report(old)
    assert not dialog.same_prompts.isChecked() and dialog.config().prefill_rate is None
