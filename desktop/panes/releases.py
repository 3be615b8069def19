"""Releases pane: the deployed model, what changed since, the update run, promote with the
regression gate, roll back.

Everything long runs elsewhere: the gate on a worker thread (``CoreOp``), the update as an
``adapt`` job followed in the Jobs pane.
"""

from __future__ import annotations

import html
from typing import Any

from core.adaptation.changes import (
    UpdateCheck,
    check_for_update,
    load_policy,
    unindexed_references,
)
from core.adaptation.gate import run_gate
from core.adaptation.lineage import lineage_tree
from core.generation.runtime import gguf_models
from core.workspace.releases import (
    ReleaseBook,
    promote,
    read_releases,
    rollback,
)
from desktop.jobs_monitor import JobMonitor
from desktop.native import preload_llama
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.dates import local_time
from desktop.widgets.publish import PublishBox

RELEASE_COLUMNS = ["", "Release", "Model", "Promoted", "Gate"]
CHANGE_COLUMNS = ["Change", "Document", "Kind", "Versions", "Tokens"]


def gate_html(gate: dict[str, Any]) -> str:
    """The gate's verdict and the side-by-side answers, for the confirmation dialog."""
    if not gate.get("compared"):
        return f"<p>No comparison: {html.escape(str(gate.get('reason', '')))}.</p>"
    verdict = "passed" if gate["passed"] else "<b>blocked</b>"
    parts = [f"<p>Regression gate {verdict}: {html.escape(gate['reason'])}.</p>"]
    new = gate["perplexity"]["new"]
    if new.get("candidate") is not None and new.get("deployed") is not None:
        parts.append(f"<p>Held-out new data: {new['candidate']:.3f} (candidate) vs "
                     f"{new['deployed']:.3f} (deployed).</p>")
    for item in gate.get("prompts", []):
        parts.append(
            f"<h4>{html.escape(item['prompt'])}</h4><table width=100%><tr>"
            f"<td width=50% valign=top><i>deployed</i><br>{html.escape(item['deployed'])}</td>"
            f"<td width=50% valign=top><i>candidate</i><br>{html.escape(item['candidate'])}</td>"
            "</tr></table>")
    return "".join(parts)


DOCUMENT_JOBS = frozenset({"import-documents", "populate-sample", "index-documents"})


class ReleasesPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        preload_llama()  # before any worker thread touches llama.cpp
        self.setObjectName("pane-releases")
        self.state = state
        self.monitor = monitor
        self.book = ReleaseBook()
        self.check: UpdateCheck | None = None
        self.last_gate: dict[str, Any] | None = None
        self._policy_of: object = None

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Releases</h2>"))
        layout.addWidget(self._releases_box(), 3)
        layout.addWidget(self._update_box(), 2)
        self.publish = PublishBox(state)
        layout.addWidget(self.publish)
        layout.addWidget(self.message)

        # bound methods, not lambdas: Qt drops them when this pane is destroyed
        state.workspace_changed.connect(self._refresh_and_check)
        state.models_changed.connect(self._refresh_and_check)  # a promotion changes the state
        monitor.finished.connect(self._refresh_and_check)
        self.refresh(check=True)

    def _releases_box(self) -> QGroupBox:
        self.deployed = QLabel()
        self.deployed.setObjectName("deployedRelease")
        self.table = QTableWidget(0, len(RELEASE_COLUMNS))
        self.table.setObjectName("releasesTable")
        self.table.setHorizontalHeaderLabels(RELEASE_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._show_notes)
        self.notes = QTextBrowser()
        self.notes.setObjectName("releaseNotes")
        self.candidate = QComboBox()
        self.candidate.setObjectName("promoteCandidate")
        self.candidate.setPlaceholderText("no other GGUF model yet: export one (Export)")
        self.promote_button = QPushButton("Compare and promote…")
        self.promote_button.setObjectName("promoteRelease")
        self.promote_button.clicked.connect(self.start_promotion)
        self.rollback_button = QPushButton("Roll back to selected")
        self.rollback_button.setObjectName("rollbackRelease")
        self.rollback_button.clicked.connect(self.rollback_selected)
        self.message = QLabel()
        self.message.setObjectName("releasesMessage")
        self.message.setWordWrap(True)

        releases_box = QGroupBox("Releases")
        releases_layout = QVBoxLayout(releases_box)
        releases_layout.addWidget(self.deployed)
        releases_layout.addWidget(self.table, 2)
        releases_layout.addWidget(QLabel("Lineage and notes of the selected release:"))
        releases_layout.addWidget(self.notes, 1)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("GGUF model:"))
        actions.addWidget(self.candidate, 1)
        actions.addWidget(self.promote_button)
        actions.addWidget(self.rollback_button)
        releases_layout.addLayout(actions)
        return releases_box

    def _update_box(self) -> QGroupBox:
        self.proposal = QLabel()
        self.proposal.setObjectName("updateProposal")
        self.proposal.setWordWrap(True)
        self.changes = QTableWidget(0, len(CHANGE_COLUMNS))
        self.changes.setObjectName("changesTable")
        self.changes.setHorizontalHeaderLabels(CHANGE_COLUMNS)
        self.changes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes.verticalHeader().hide()
        self.check_button = QPushButton("Check for changes")
        self.check_button.setObjectName("checkUpdates")
        self.check_button.clicked.connect(self.run_check)
        self.start = QComboBox()
        self.start.setObjectName("updateStart")
        self.start.addItem("continue from the release's adapter", "adapter")
        self.start.addItem("start again from the base model", "base")
        self.replay = QDoubleSpinBox()
        self.replay.setObjectName("updateReplay")
        self.replay.setRange(0.0, 4.0)
        self.replay.setSingleStep(0.25)
        self.replay.setPrefix("replay ")
        self.replay.setSuffix("× new tokens")
        self.replay.setToolTip("Earlier text mixed into the update, per token of new text, "
                               "so the model does not forget it")
        self.auto_promote = QCheckBox("promote if the gate passes")
        self.auto_promote.setObjectName("updatePromote")
        self.update_button = QPushButton("Run update")
        self.update_button.setObjectName("runUpdate")
        self.update_button.clicked.connect(self.run_update)

        update_box = QGroupBox("What's new since the deployed release")
        update_layout = QVBoxLayout(update_box)
        update_layout.addWidget(self.proposal)
        update_layout.addWidget(self.changes, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.check_button)
        run_row.addStretch(1)
        run_row.addWidget(self.start)
        run_row.addWidget(self.replay)
        run_row.addWidget(self.auto_promote)
        run_row.addWidget(self.update_button)
        update_layout.addLayout(run_row)
        return update_box

    def _refresh_and_check(self, *_: object) -> None:
        self.refresh(check=True)
        self.publish.refresh()

    # -- releases ---------------------------------------------------------------------
    def refresh(self, check: bool = False) -> None:
        workspace = self.state.workspace
        try:
            self.book = read_releases(workspace) if workspace else ReleaseBook()
        except Exception as error:  # noqa: BLE001 - a damaged file is shown, not fatal
            self.book = ReleaseBook()
            self.message.setText(str(error))
        current = self.book.current
        self.deployed.setText(
            f"Deployed: <b>release {current.version}</b> — {current.model_id}" if current
            else "No release deployed yet: drafting uses the newest GGUF model.")
        self.table.setRowCount(len(self.book.releases))
        for row, release in enumerate(reversed(self.book.releases)):
            gate = {True: "passed", False: "blocked"}.get(release.gate.get("passed"), "-")
            if release.override:
                gate += f" (overridden: {release.override})"
            values = ["●" if release.version == self.book.deployed else "", str(release.version),
                      release.model_id, local_time(release.promoted), gate]
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(256, release.version)  # Qt.UserRole
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.candidate.clear()
        for record in gguf_models(workspace) if workspace else []:
            if current is None or record.id != current.model_id:
                self.candidate.addItem(f"{record.name} ({record.id})", record.id)
        self._update_buttons()
        if workspace is not None and self._policy_of != workspace.root:
            self._policy_of = workspace.root  # the user's choice stays until another workspace
            try:
                self.replay.setValue(load_policy(workspace).replay_ratio)
            except Exception as error:  # noqa: BLE001 - a bad policy file is shown, not fatal
                self.message.setText(str(error))
        if check and workspace is not None:
            self.run_check()

    def selected_version(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(256)) if items else None

    def _update_buttons(self) -> None:
        has_workspace = self.state.workspace is not None
        self.promote_button.setEnabled(has_workspace and self.candidate.count() > 0)
        selected = self.selected_version()
        self.rollback_button.setEnabled(selected is not None and selected != self.book.deployed)
        waiting = bool(self.check and self.check.text_changes)
        self.update_button.setEnabled(has_workspace and waiting)
        self.check_button.setEnabled(has_workspace)

    def _show_notes(self) -> None:
        self._update_buttons()
        version, workspace = self.selected_version(), self.state.workspace
        if version is None or workspace is None:
            self.notes.clear()
            return
        release = self.book.get(version)
        lines = [f"Release {release.version}, promoted {local_time(release.promoted)}"]
        if release.override:
            lines.append(f"Gate overridden: {release.override}")
        lines += ["", "Lineage (documents → datasets → adapters → merges → GGUF):",
                  *lineage_tree(workspace, release.model_id)]
        if release.notes:
            lines += ["", "Notes:", release.notes]
        self.notes.setPlainText("\n".join(lines))

    def start_promotion(self) -> None:
        workspace, model_id = self.state.workspace, self.candidate.currentData()
        if workspace is None or not model_id:
            return
        self.promote_button.setEnabled(False)
        self.message.setText(f"Comparing {model_id} with the deployed release…")
        CoreOp(self, lambda: run_gate(workspace, model_id)).success(
            lambda gate: self._confirm_promotion(model_id, gate)).failure(
            self._failed).run()

    def _confirm_promotion(self, model_id: str, gate: dict[str, Any]) -> None:
        self.last_gate = gate
        self._update_buttons()
        box = QMessageBox(self)
        box.setObjectName("gateDialog")
        box.setWindowTitle("Promote a release")
        box.setText(gate_html(gate))
        override = None
        if gate["passed"]:
            box.setInformativeText(f"Deploy {model_id} as a new release?")
            box.setStandardButtons(QMessageBox.StandardButton.Yes
                                   | QMessageBox.StandardButton.No)
            if self.ask(box) != QMessageBox.StandardButton.Yes:
                self.message.setText("Not promoted.")
                return
        else:
            reason, ok = self.ask_override(gate)
            if not ok or not reason.strip():
                self.message.setText(f"Not promoted: the gate blocked {model_id}.")
                return
            override = reason
        workspace = self.state.workspace
        CoreOp(self, lambda: promote(workspace, model_id, gate=gate, override=override)).success(
            lambda release: self._done(f"Release {release.version} deployed: {model_id}.")
        ).failure(self._failed).run()

    # dialogs are methods so that tests can answer them
    def ask(self, box: QMessageBox) -> Any:
        return box.exec()

    def ask_override(self, gate: dict[str, Any]) -> tuple[str, bool]:
        return QInputDialog.getText(
            self, "The regression gate blocked this model",
            f"{gate['reason']}.\nPromote anyway? Give the reason (it is logged):")

    def rollback_selected(self) -> None:
        workspace, version = self.state.workspace, self.selected_version()
        if workspace is None or version is None:
            return
        CoreOp(self, lambda: rollback(workspace, version)).success(
            lambda release: self._done(f"Rolled back: release {release.version} "
                                       f"({release.model_id}) is deployed.")
        ).failure(self._failed).run()

    def _done(self, message: str) -> None:
        self.message.setText(message)
        self.state.models_changed.emit()  # the Draft pane's model list follows

    def _failed(self, error: BaseException) -> None:
        self.message.setText(str(error))
        self._update_buttons()

    # -- what's new and the update run -------------------------------------------------
    def run_check(self) -> None:
        workspace = self.state.workspace
        if workspace is None:
            return
        self.check_button.setEnabled(False)
        def work() -> tuple[UpdateCheck, list[str]]:
            check = check_for_update(workspace, update_index=False)
            return check, unindexed_references(workspace, check.reference_changes)

        CoreOp(self, work).success(lambda found: self._show_check(*found)).failure(
            self._failed).run()

    def _show_check(self, check: UpdateCheck, unindexed: list[str]) -> None:
        self.check = check
        rows = [*check.text_changes, *check.reference_changes]
        self.changes.setRowCount(len(rows))
        for row, change in enumerate(rows):
            versions = {"added": f"v{change.current_version}",
                        "changed": f"v{change.trained_version} → v{change.current_version}",
                        "removed": f"v{change.trained_version}"}[change.change]
            for column, value in enumerate([change.change, change.title, change.kind, versions,
                                            f"~{change.tokens:,}"]):
                self.changes.setItem(row, column, QTableWidgetItem(value))
        self.changes.resizeColumnsToContents()
        headline = html.escape(check.headline())
        text = {"update-proposed": f"<b>{headline}</b>",
                "first-release": f"<b>{headline}</b>"}.get(check.state, headline)
        self.update_button.setText("Train the first release" if check.state == "first-release"
                                   else "Run update")
        adapter = self.start.model().item(0)  # type: ignore[attr-defined]
        adapter.setEnabled(check.reference_model is not None)  # no release: no adapter yet
        if check.reference_model is None:
            self.start.setCurrentIndex(1)
        self.replay.setEnabled(check.reference_model is not None)  # nothing earlier to replay
        if unindexed:
            text += (f" {len(unindexed)} reference table(s) changed: they are being indexed "
                     "now (no retraining needed).")
            self._index_references()
        self.proposal.setText(text)
        self._update_buttons()

    def _index_references(self) -> None:
        # while documents are being imported or indexed, wait: this check runs again
        # when that job finishes
        busy = any(h.status.kind in DOCUMENT_JOBS for h in self.monitor.handles.values())
        if not busy and self.monitor.runner is not None:
            self.monitor.submit("index-documents", {}, "Index changed reference tables")

    def run_update(self) -> None:
        if self.state.workspace is None:
            return
        config = {"start": self.start.currentData(), "promote": self.auto_promote.isChecked(),
                  "replay_ratio": self.replay.value()}
        job_id = self.monitor.submit("adapt", config, "Update the model")
        self.update_button.setEnabled(False)
        self.message.setText(f"Update running as job {job_id}: follow it in Jobs.")
