"""Releases pane: what changed, promote through the gate (its verdict stubbed: the gate
itself is tested in core), override a blocked gate, roll back, and the update job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.workspaces import add_text_document as _add

from core.generation.runtime import default_model_id
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from core.workspace.releases import read_releases
from desktop.jobs_monitor import JobMonitor
from desktop.panes import releases as releases_module
from desktop.panes.releases import ReleasesPane, gate_html
from desktop.qt import QMessageBox
from desktop.state import AppState

pytestmark = pytest.mark.timeout(300)


def _gguf(workspace: Workspace, model_id: str) -> None:
    record = ModelRecord(id=model_id, name=model_id, kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        (folder / "model.gguf").write_bytes(b"GGUF" + model_id.encode())


def _verdict(passed: bool) -> dict[str, Any]:
    return {"compared": True, "passed": passed, "reason": "perplexity on held-out old data "
            f"{'9.0' if passed else '15.0'} vs 10.0", "candidate": "x", "deployed": "y",
            "perplexity": {"old": {"deployed": 10.0, "candidate": 9.0 if passed else 15.0},
                           "new": {"deployed": 12.0, "candidate": 8.0}},
            "prompts": [{"prompt": "Rates?", "deployed": "old answer", "candidate": "new <b>"}]}


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace,  # noqa: ANN001
         monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleasesPane]:
    for model_id in ("first", "second", "worse"):
        _gguf(workspace, model_id)
    verdicts = {"second": _verdict(True), "worse": _verdict(False)}
    monkeypatch.setattr(releases_module, "run_gate",
                        lambda workspace, model_id: verdicts.get(model_id, {
                            "compared": False, "passed": True, "reason": "no release yet"}))
    monitor = JobMonitor()
    app_state.workspace_changed.connect(monitor.set_workspace)
    app_state.set_workspace(workspace)
    widget = ReleasesPane(app_state, monitor)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    monitor.cancel_all()
    for handle in list(monitor.handles.values()):
        handle.wait(30)


def _promote(qtbot, pane: ReleasesPane, model_id: str) -> None:  # noqa: ANN001
    pane.candidate.setCurrentIndex(pane.candidate.findData(model_id))
    pane.promote_button.click()


def test_promote_override_and_roll_back(qtbot, pane: ReleasesPane,  # noqa: ANN001
                                        workspace: Workspace) -> None:
    assert "No release deployed" in pane.deployed.text()
    pane.ask = lambda box: QMessageBox.StandardButton.Yes  # type: ignore[method-assign]
    _promote(qtbot, pane, "first")
    qtbot.waitUntil(lambda: "Release 1 deployed" in pane.message.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "release 1" in pane.deployed.text(), timeout=5_000)
    assert pane.candidate.findData("first") == -1  # the deployed one is not a candidate

    _promote(qtbot, pane, "second")
    qtbot.waitUntil(lambda: "Release 2 deployed" in pane.message.text(), timeout=10_000)
    assert read_releases(workspace).current.gate["passed"] is True

    pane.ask_override = lambda gate: ("", False)  # type: ignore[method-assign]
    _promote(qtbot, pane, "worse")
    qtbot.waitUntil(lambda: "gate blocked" in pane.message.text(), timeout=10_000)
    assert read_releases(workspace).deployed == 2
    pane.ask_override = lambda gate: ("rates changed today", True)  # type: ignore[method-assign]
    _promote(qtbot, pane, "worse")
    qtbot.waitUntil(lambda: "Release 3 deployed" in pane.message.text(), timeout=10_000)
    # the state follows the promotion at once (it used to keep the check from before)
    qtbot.waitUntil(lambda: "Release 3 is current" in pane.proposal.text(), timeout=10_000)
    assert read_releases(workspace).current.override == "rates changed today"
    qtbot.waitUntil(lambda: pane.table.rowCount() == 3, timeout=5_000)
    assert "overridden" in pane.table.item(0, 4).text()

    pane.table.selectRow(2)  # release 1 (newest first)
    assert "first (gguf)" in pane.notes.toPlainText()
    pane.table.selectRow(0)
    assert "Gate overridden: rates changed today" in pane.notes.toPlainText()
    pane.table.selectRow(2)
    assert pane.rollback_button.isEnabled()
    pane.rollback_button.click()
    qtbot.waitUntil(lambda: "release 1" in pane.message.text(), timeout=10_000)
    assert default_model_id(workspace) == "first"


def test_what_changed_and_the_update_job(qtbot, pane: ReleasesPane,  # noqa: ANN001
                                         workspace: Workspace, tmp_path: Path) -> None:
    qtbot.waitUntil(lambda: "no text documents to train one on" in pane.proposal.text(),
                    timeout=10_000)
    assert not pane.update_button.isEnabled()
    _add(workspace, tmp_path / "d", "new.md", "A new past performance record.\n" * 5)
    pane.check_button.click()
    qtbot.waitUntil(lambda: "ready to train the first one" in pane.proposal.text(),
                    timeout=10_000)
    assert pane.changes.rowCount() == 1 and pane.changes.item(0, 0).text() == "added"
    assert pane.update_button.isEnabled()
    assert pane.update_button.text() == "Train the first release"
    assert pane.start.currentData() == "base"  # no release: no adapter to continue from
    pane.start.setCurrentIndex(1)
    assert pane.replay.value() == 0.5  # the policy's default
    pane.replay.setValue(1.5)
    pane.update_button.click()
    job_id = next(iter(pane.monitor.handles))
    from core.fsutil import read_yaml

    job = read_yaml(workspace.root / "runs" / job_id / "job.yaml")
    assert job["kind"] == "adapt" and job["config"]["start"] == "base"
    assert job["config"]["replay_ratio"] == 1.5
    assert "follow it in Jobs" in pane.message.text()


def test_gate_html_escapes_and_shows_both_answers() -> None:
    text = gate_html(_verdict(False))
    assert "<b>blocked</b>" in text and "new &lt;b&gt;" in text and "old answer" in text
    assert "8.000 (candidate)" in text


def test_a_changed_reference_table_is_indexed_without_retraining(
        qtbot, pane: ReleasesPane, workspace: Workspace, tmp_path: Path) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: "No release yet" in pane.proposal.text(), timeout=10_000)
    submitted: list[str] = []
    submit = pane.monitor.submit
    pane.monitor.submit = lambda kind, *a, **k: (submitted.append(kind), submit(kind, *a, **k))[1]
    _add(workspace, tmp_path / "d", "rates.md", "Senior Engineer NAS-SE-03 $142.10\n",
         kind="reference")
    pane.check_button.click()
    qtbot.waitUntil(lambda: "being indexed" in pane.proposal.text(), timeout=10_000)
    assert submitted == ["index-documents"]
    assert not pane.update_button.isEnabled()  # a reference table needs no retraining
    pane.proposal.setText("")
    pane.check_button.click()  # checking again while it runs starts no second job
    qtbot.waitUntil(lambda: pane.proposal.text() != "", timeout=10_000)
    assert submitted == ["index-documents"]
