"""Releases pane: what changed, promote through the gate (its verdict stubbed: the gate
itself is tested in core), override a blocked gate, roll back, and the update job; reached
through the pane's parts (``pane.releases``: the list, promote, roll back; ``pane.updates``:
"Is an update needed?")."""

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
from desktop.panes.releases import ReleasesPane
from desktop.qt import QMessageBox
from desktop.state import AppState
from desktop.widgets import release_list
from desktop.widgets.release_gate import gate_html

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
    monkeypatch.setattr(release_list, "run_gate",
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
    pane.releases.candidate.setCurrentIndex(pane.releases.candidate.findData(model_id))
    pane.releases.promote_button.click()


def test_promote_override_and_roll_back(qtbot, pane: ReleasesPane,  # noqa: ANN001
                                        workspace: Workspace) -> None:
    releases = pane.releases
    assert "No release deployed" in releases.deployed.text()
    releases.ask = lambda box: QMessageBox.StandardButton.Yes  # type: ignore[method-assign]
    _promote(qtbot, pane, "first")
    qtbot.waitUntil(lambda: "Release 1 deployed" in releases.message.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "release 1" in releases.deployed.text(), timeout=5_000)
    assert releases.candidate.findData("first") == -1  # the deployed one is not a candidate
    assert releases.listing.isVisible() and releases.selected_version() == 1
    assert "Release 1, promoted" in releases.notes.toPlainText()  # the deployed one, shown

    _promote(qtbot, pane, "second")
    qtbot.waitUntil(lambda: "Release 2 deployed" in releases.message.text(), timeout=10_000)
    assert read_releases(workspace).current.gate["passed"] is True

    releases.ask_override = lambda gate: ("", False)  # type: ignore[method-assign]
    _promote(qtbot, pane, "worse")
    qtbot.waitUntil(lambda: "gate blocked" in releases.message.text(), timeout=10_000)
    assert read_releases(workspace).deployed == 2
    releases.ask_override = lambda gate: ("rates changed today", True)  # type: ignore[method-assign]
    _promote(qtbot, pane, "worse")
    qtbot.waitUntil(lambda: "Release 3 deployed" in releases.message.text(), timeout=10_000)
    # the state follows the promotion at once (it used to keep the check from before)
    qtbot.waitUntil(lambda: "Release 3 is current" in pane.updates.proposal.text(), timeout=10_000)
    assert read_releases(workspace).current.override == "rates changed today"
    qtbot.waitUntil(lambda: releases.table.rowCount() == 3, timeout=5_000)
    assert "overridden" in releases.table.item(0, 4).text()

    releases.table.selectRow(2)  # release 1 (newest first)
    assert "first (gguf)" in releases.notes.toPlainText()
    releases.table.selectRow(0)
    assert "Gate overridden: rates changed today" in releases.notes.toPlainText()
    releases.table.selectRow(2)
    assert releases.rollback_button.isEnabled()
    releases.rollback_button.click()
    qtbot.waitUntil(lambda: "release 1" in releases.message.text(), timeout=10_000)
    assert default_model_id(workspace) == "first"


def test_with_no_release_the_pane_says_how_to_make_one(qtbot, pane: ReleasesPane) -> None:  # noqa: ANN001
    releases = pane.releases
    assert not releases.listing.isVisible() and not releases.rollback_button.isVisible()
    assert "Compare and promote" in releases.deployed.text()  # there are models to promote
    assert "Is an update needed?" in releases.deployed.text()  # or train the first one
    qtbot.waitUntil(lambda: pane.updates.proposal.text() != "", timeout=10_000)
    assert not pane.updates.changes.isVisible() and not pane.updates.training.isVisible()
    pane.resize(1100, 660)
    pane.column.activate()
    for box in (releases, pane.updates, pane.publish):  # no list: no blank band in a box
        assert box.height() <= box.sizeHint().height(), box.objectName()


def test_what_changed_and_the_update_job(qtbot, pane: ReleasesPane,  # noqa: ANN001
                                         workspace: Workspace, tmp_path: Path) -> None:
    updates = pane.updates
    qtbot.waitUntil(lambda: "no text documents to train one on" in updates.proposal.text(),
                    timeout=10_000)
    assert not updates.update_button.isEnabled()
    _add(workspace, tmp_path / "d", "new.md", "A new past performance record.\n" * 5)
    updates.check_button.click()
    qtbot.waitUntil(lambda: "ready to train the first one" in updates.proposal.text(),
                    timeout=10_000)
    assert updates.changes.rowCount() == 1 and updates.changes.item(0, 0).text() == "added"
    assert updates.update_button.isEnabled()
    assert updates.update_button.text() == "Train the first release"
    assert updates.start.currentData() == "base"  # no release: no adapter to continue from
    updates.start.setCurrentIndex(1)
    assert updates.replay.value() == 0.5  # the policy's default
    updates.replay.setValue(1.5)
    updates.update_button.click()
    job_id = next(iter(pane.monitor.handles))
    from core.fsutil import read_yaml

    job = read_yaml(workspace.root / "runs" / job_id / "job.yaml")
    assert job["kind"] == "adapt" and job["config"]["start"] == "base"
    assert job["config"]["replay_ratio"] == 1.5
    assert "follow it in Jobs" in updates.message.text()


def test_gate_html_escapes_and_shows_both_answers() -> None:
    text = gate_html(_verdict(False))
    assert "<b>blocked</b>" in text and "new &lt;b&gt;" in text and "old answer" in text
    assert "8.000 (candidate)" in text


def test_a_changed_reference_table_is_indexed_without_retraining(
        qtbot, pane: ReleasesPane, workspace: Workspace, tmp_path: Path) -> None:  # noqa: ANN001
    updates = pane.updates
    qtbot.waitUntil(lambda: "No release yet" in updates.proposal.text(), timeout=10_000)
    submitted: list[str] = []
    submit = pane.monitor.submit
    pane.monitor.submit = lambda kind, *a, **k: (submitted.append(kind), submit(kind, *a, **k))[1]
    _add(workspace, tmp_path / "d", "rates.md", "Senior Engineer NAS-SE-03 $142.10\n",
         kind="reference")
    updates.check_button.click()
    qtbot.waitUntil(lambda: "being indexed" in updates.proposal.text(), timeout=10_000)
    assert submitted == ["index-documents"]
    assert not updates.update_button.isEnabled()  # a reference table needs no retraining
    updates.proposal.setText("")
    updates.check_button.click()  # checking again while it runs starts no second job
    qtbot.waitUntil(lambda: updates.proposal.text() != "", timeout=10_000)
    assert submitted == ["index-documents"]
