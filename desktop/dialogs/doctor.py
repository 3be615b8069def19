"""Is this installation ready? The same checks as ``scriptorium doctor``, in a window.

Shown on the first run of each version and from Help → Check this installation. The checks
run on a worker thread (they import torch and run a test generation in a child process);
the window is not modal, so the app stays usable meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from core.system.doctor import Check, repair, run_checks, worst
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ["", "Check", "Result", "Fix"]
MARKS = {"ok": ("✔", "#2e7d32"), "warn": ("!", "#b26a00"), "fail": ("✖", "#c62828")}
VERDICTS = {
    "ok": "Ready: everything Scriptorium needs is in place.",
    "warn": "Ready, with warnings: see the fixes below.",
    "fail": "Not ready: fix the failed checks below, then run the checks again.",
}


class DoctorDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, first_run: bool = False,
                 workspace: Path | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace  # its audit log and file privacy are checked too
        self.setObjectName("doctorDialog")
        self.setWindowTitle("Welcome: checking this installation" if first_run
                            else "Check this installation")
        self.checks: list[Check] | None = None
        self.verdict = QLabel("Checking Python, PyTorch, llama.cpp (a test generation), the "
                              "model packages, disk, memory and the desktop libraries…")
        self.verdict.setObjectName("doctorVerdict")
        self.verdict.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("doctorChecks")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.rerun = QPushButton("Run the checks again")
        self.rerun.setObjectName("doctorRerun")
        self.rerun.clicked.connect(self.run_checks)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.rerun, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("The same report on the command line: scriptorium doctor"))
        layout.addWidget(buttons)
        self.resize(900, 460)

    def run_checks(self) -> None:
        self.rerun.setEnabled(False)
        self.verdict.setText("Checking…")
        workspace = self.workspace
        CoreOp(self, lambda: run_checks(workspace=workspace)).success(self.show_checks).failure(
            self._failed).run()

    def make_repair(self, action: str) -> None:
        """A check's Fix button: make the repair off the GUI thread, then check again."""
        workspace = self.workspace
        if workspace is None:
            return
        self.verdict.setText("Fixing…")
        CoreOp(self, lambda: repair(action, workspace)).success(
            lambda _: self.run_checks()).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.rerun.setEnabled(True)
        self.verdict.setText(f"The checks could not run: {error}")

    def show_checks(self, checks: list[Check]) -> None:
        self.checks = checks
        self.rerun.setEnabled(True)
        self.verdict.setText(f"<b>{VERDICTS[worst(checks)]}</b>")
        self.table.setRowCount(len(checks))
        for row, check in enumerate(checks):
            mark, colour = MARKS[check.status]
            cells = [mark, check.name, check.detail, check.fix if check.status != "ok" else ""]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == 0:
                    item.setForeground(QBrush(QColor(colour)))
                self.table.setItem(row, column, item)
            self.table.removeCellWidget(row, 3)
            if check.repair and check.status != "ok" and self.workspace is not None:
                fix = QPushButton("Fix it")
                fix.setObjectName(f"fix-{check.repair}")
                fix.setToolTip(f"Does it for you: {check.fix}")
                fix.clicked.connect(lambda _=False, a=check.repair: self.make_repair(a))
                self.table.setCellWidget(row, 3, fix)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.table.resizeRowsToContents()
