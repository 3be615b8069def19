"""Releases pane: what is deployed now, the list of releases with their lineage and notes,
"Compare and promote…" through the regression gate, and "Roll back to selected".

The gate and the release book's writes run off the GUI thread (``CoreOp``); a promotion or
roll-back announces itself through ``AppState.models_changed``, so that every pane (this one
included) follows.
"""

from __future__ import annotations

from typing import Any

from core.adaptation.gate import run_gate
from core.generation.runtime import gguf_models
from core.workspace.releases import ReleaseBook, promote, read_releases, rollback
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.dates import local_time
from desktop.widgets.group_box import MessageLine, explanation
from desktop.widgets.release_gate import gate_question, gate_summary, override_reason
from desktop.widgets.release_notes import ReleaseNotes

RELEASE_COLUMNS = ["Deployed", "Release", "Model", "Promoted", "Gate"]
VERSION = Qt.ItemDataRole.UserRole


class ReleaseList(QGroupBox):
    list_toggled = Signal()  # the list was shown or hidden: the pane shares its height anew

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Deployed model and releases", parent)
        self.setObjectName("releaseList")
        self.state = state
        self.book = ReleaseBook()
        self.last_gate: dict[str, Any] | None = None
        self.deployed = QLabel()
        self.deployed.setObjectName("deployedRelease")
        self.deployed.setWordWrap(True)
        self.table = QTableWidget(0, len(RELEASE_COLUMNS))
        self.table.setObjectName("releasesTable")
        self.table.setHorizontalHeaderLabels(RELEASE_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_notes)
        self.notes = ReleaseNotes()
        self.listing = QSplitter()  # the table beside the selected release's lineage
        self.listing.addWidget(self.table)
        self.listing.addWidget(self.notes)
        self.listing.setSizes([500, 500])
        self.candidate = QComboBox()
        self.candidate.setObjectName("promoteCandidate")
        self.candidate.setPlaceholderText("no other GGUF model yet: export one (Export)")
        self.promote_button = button(
            "Compare and promote…", "promoteRelease", self.start_promotion,
            "Compare the chosen model's answers with the deployed release's, then deploy it "
            "if you agree")
        self.rollback_button = button("Roll back to selected", "rollbackRelease",
                                      self.rollback_selected)
        self.message = MessageLine("releasesMessage")

        layout = QVBoxLayout(self)
        layout.addWidget(explanation(
            "The deployed release is the model your team drafts with. Promote a model you "
            "exported after comparing its answers with the deployed one, or go back to an "
            "earlier release."))
        layout.addWidget(self.deployed)
        layout.addWidget(self.listing, 1)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("Model to promote:"))
        actions.addWidget(self.candidate, 1)
        actions.addWidget(self.promote_button)
        actions.addWidget(self.rollback_button)
        layout.addLayout(actions)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        """Read the release book and the GGUF models again; the selection stays on the
        release the person chose, else on the deployed one."""
        workspace = self.state.workspace
        keep = self.selected_version()
        if keep == self.book.deployed:
            keep = None  # it follows the deployed release
        try:
            self.book = read_releases(workspace) if workspace else ReleaseBook()
        except Exception as error:  # noqa: BLE001 - a damaged file is shown, not fatal
            self.book = ReleaseBook()
            self.message.setText(str(error))
        self.table.blockSignals(True)  # the notes are shown once, below
        self.table.setRowCount(len(self.book.releases))
        for row, release in enumerate(reversed(self.book.releases)):
            values = ["●" if release.version == self.book.deployed else "", str(release.version),
                      release.model_id, local_time(release.promoted), gate_summary(release)]
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(VERSION, release.version)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        chosen = self.candidate.currentData()
        self.candidate.clear()
        current = self.book.current
        for record in gguf_models(workspace) if workspace else []:
            if current is None or record.id != current.model_id:
                self.candidate.addItem(f"{record.name} ({record.id})", record.id)
        if self.candidate.count():  # the newest, unless another was chosen: never blank
            self.candidate.setCurrentIndex(max(0, self.candidate.findData(chosen)))
        self.deployed.setText(self._headline())
        if self.listing.isHidden() == bool(self.book.releases):
            self.listing.setVisible(bool(self.book.releases))
            self.list_toggled.emit()
        self.rollback_button.setVisible(bool(self.book.releases))
        self._select(keep if keep is not None else self.book.deployed)
        self.table.blockSignals(False)
        self._show_notes()

    def _headline(self) -> str:
        current = self.book.current
        if current is not None:
            return f"Deployed now: <b>release {current.version}</b> — {current.model_id}"
        if self.candidate.count():
            uses, how = ("the newest exported model", "choose an exported model below and "
                         "press “Compare and promote…”")
        else:
            uses, how = "the bundled model", "export a GGUF model (Export) and promote it here"
        return (f"<b>No release deployed yet</b>: drafting uses {uses}. To make the first "
                "release, train it from your documents (“Is an update needed?” below), or "
                f"{how}.")

    def _select(self, version: int | None) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(VERSION) == version:
                self.table.selectRow(row)
                return
        self.table.clearSelection()

    def selected_version(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(VERSION)) if items else None

    def _update_buttons(self) -> None:
        self.promote_button.setEnabled(self.state.workspace is not None
                                       and self.candidate.count() > 0)
        selected = self.selected_version()
        self.rollback_button.setEnabled(selected is not None and selected != self.book.deployed)

    def _show_notes(self) -> None:
        self._update_buttons()
        version = self.selected_version()
        release = next((r for r in self.book.releases if r.version == version), None)
        self.notes.show_release(self.state.workspace, release)

    # -- promote through the gate, roll back -------------------------------------------
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
        override = None
        if gate["passed"]:
            if self.ask(gate_question(self, model_id, gate)) != QMessageBox.StandardButton.Yes:
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
        return override_reason(self, gate)

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
        self.state.models_changed.emit()  # every pane follows, this one included

    def _failed(self, error: BaseException) -> None:
        self.message.setText(str(error))
        self._update_buttons()
