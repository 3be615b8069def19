"""Releases pane: "Is an update needed?" — where the workspace stands against the deployed
release (``UpdateCheck.state``, the same as ``scriptorium adapt --check``), the documents that
changed since, and the actions: index changed reference tables at once, train an update.

The check runs off the GUI thread (``CoreOp``); indexing and training are jobs, followed in
the Jobs pane.
"""

from __future__ import annotations

import html

from core.adaptation.changes import (
    DocumentChange,
    UpdateCheck,
    check_for_update,
    load_policy,
    unindexed_references,
)
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.group_box import MessageLine, explanation

CHANGE_COLUMNS = ["Change", "Document", "Kind", "Versions", "Tokens"]
DOCUMENT_JOBS = frozenset({"import-documents", "populate-sample", "index-documents"})
STRONG_STATES = frozenset({"update-proposed", "first-release"})  # something to do


def change_row(change: DocumentChange) -> list[str]:
    """One row of the changes table."""
    versions = {"added": f"v{change.current_version}",
                "changed": f"v{change.trained_version} → v{change.current_version}",
                "removed": f"v{change.trained_version}"}[change.change]
    return [change.change, change.title, change.kind, versions, f"~{change.tokens:,}"]


class UpdateBox(QGroupBox):
    list_toggled = Signal()  # the changes were shown or hidden: the pane shares its height anew

    def __init__(self, state: AppState, monitor: JobMonitor,
                 parent: QWidget | None = None) -> None:
        super().__init__("Is an update needed?", parent)
        self.setObjectName("updateBox")
        self.state = state
        self.monitor = monitor
        self.check: UpdateCheck | None = None
        self._policy_of: object = None
        self.proposal = QLabel()
        self.proposal.setObjectName("updateProposal")
        self.proposal.setWordWrap(True)
        self.changes = QTableWidget(0, len(CHANGE_COLUMNS))
        self.changes.setObjectName("changesTable")
        self.changes.setHorizontalHeaderLabels(CHANGE_COLUMNS)
        self.changes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes.verticalHeader().hide()
        self.changes.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.changes.hide()  # until there is a change to list
        self.check_button = button(
            "Check for changes", "checkUpdates", self.run_check,
            "Compare the documents with what the deployed release was trained on (done by "
            "itself whenever something changes)")
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
        self.update_button = button("Run update", "runUpdate", self.run_update)
        self.message = MessageLine("updateMessage")

        layout = QVBoxLayout(self)
        layout.addWidget(explanation(
            "Compares your documents with what the deployed release learned from. Changed "
            "reference tables are indexed at once; new or changed text needs a training run."))
        verdict = QHBoxLayout()
        verdict.addWidget(self.proposal, 1)
        verdict.addWidget(self.check_button)
        layout.addLayout(verdict)
        layout.addWidget(self.changes, 1)
        self.training = QWidget()  # shown while there is text to train on
        self.training.hide()
        row = QHBoxLayout(self.training)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Training:"))
        row.addWidget(self.start)
        row.addWidget(self.replay)
        row.addWidget(self.auto_promote)
        row.addStretch(1)
        row.addWidget(self.update_button)
        layout.addWidget(self.training)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        """Take the open workspace's update policy (once per workspace) and check again."""
        workspace = self.state.workspace
        if workspace is not None and self._policy_of != workspace.root:
            self._policy_of = workspace.root  # the user's choice stays until another workspace
            try:
                self.replay.setValue(load_policy(workspace).replay_ratio)
            except Exception as error:  # noqa: BLE001 - a bad policy file is shown, not fatal
                self.message.setText(str(error))
        self._update_buttons()
        self.run_check()

    def _update_buttons(self) -> None:
        has_workspace = self.state.workspace is not None
        waiting = has_workspace and bool(self.check and self.check.text_changes)
        self.training.setVisible(waiting)
        self.update_button.setEnabled(waiting)
        self.check_button.setEnabled(has_workspace)

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
        rows = [change_row(c) for c in (*check.text_changes, *check.reference_changes)]
        self.changes.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.changes.setItem(row, column, QTableWidgetItem(value))
        self.changes.resizeColumnsToContents()
        if self.changes.isHidden() == bool(rows):
            self.changes.setVisible(bool(rows))
            self.list_toggled.emit()
        text = html.escape(check.headline())
        if check.state in STRONG_STATES:
            text = f"<b>{text}</b>"
        self.update_button.setText("Train the first release" if check.state == "first-release"
                                   else "Run update")
        first = check.reference_model is None  # no release: no adapter, nothing to replay
        self.start.model().item(0).setEnabled(not first)  # type: ignore[attr-defined]
        if first:
            self.start.setCurrentIndex(1)
        self.replay.setEnabled(not first)
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

    def _failed(self, error: BaseException) -> None:
        self.message.setText(str(error))
        self._update_buttons()
