"""Is this installation ready? The same checks as ``scriptorium doctor``, in a window.

Shown on the first run of each version and from Help → Check this installation. The checks
run on a worker thread (they import torch and run a test generation in a child process);
the window is not modal, so the app stays usable meanwhile.

A failed check's fix is a button where the app can make it ("Fix it"). Where the fix
reinstalls packages the app itself runs on, it cannot be made from inside the app: the
dialog says it in a sentence and offers the command on the clipboard, to run in a terminal
with Scriptorium closed.
"""

from __future__ import annotations

from pathlib import Path

from core.system.doctor import Check, repair, run_checks, worst
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.icons import icon

COLUMNS = ["", "Check", "Result", "Fix"]
STATUS_WORDS = {"ok": "Passed", "warn": "Warning", "fail": "Failed"}  # the icon's tooltip
IN_A_TERMINAL = "Close Scriptorium first, then paste the command into a terminal and run it."
COPIED = "Copied. Close Scriptorium, paste the command into a terminal and run it; then " \
    "start Scriptorium again."
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
        header.sectionResized.connect(lambda column, _old, _new: column == 3 and self.fit_rows())
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
            status = QTableWidgetItem(icon(check.status), "")
            status.setToolTip(STATUS_WORDS[check.status])
            status.setData(Qt.ItemDataRole.UserRole, check.status)
            self.table.setItem(row, 0, status)
            fix = check.fix if check.status != "ok" else ""
            for column, text in ((1, check.name), (2, check.detail), (3, fix)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            self.table.removeCellWidget(row, 3)
            widget = self._fix_widget(check) if fix else None
            if widget is not None:
                self.table.item(row, 3).setText("")  # the widget says it
                self.table.setCellWidget(row, 3, widget)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.fit_rows()

    def fit_rows(self) -> None:
        """Rows as tall as their text, and as their fix's widget at the column's width."""
        self.table.resizeRowsToContents()
        width = self.table.columnWidth(3)
        for row in range(self.table.rowCount()):
            widget = self.table.cellWidget(row, 3)
            if widget is not None:
                needed = widget.heightForWidth(width)
                if needed > self.table.rowHeight(row):
                    self.table.setRowHeight(row, needed)

    def _fix_widget(self, check: Check) -> QWidget | None:
        """A button for a fix the app makes, the command for one it cannot; else None."""
        if check.repair and self.workspace is not None:
            fix = QPushButton("Fix it")
            fix.setObjectName(f"fix-{check.repair}")
            fix.setToolTip(f"Does it for you: {check.fix}")
            fix.clicked.connect(lambda _=False, a=check.repair: self.make_repair(a))
            box = QWidget()  # the button at its own size, not stretched over the column
            row = QHBoxLayout(box)
            row.setContentsMargins(4, 2, 4, 2)
            row.addWidget(fix)
            row.addStretch(1)
            return box
        if check.command:
            return CommandFix(check)
        return None


class CommandFix(QWidget):
    """A fix to run in a terminal: the sentence, "Copy the command", and when to run it."""

    def __init__(self, check: Check, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.command = check.command
        self.setObjectName(f"commandFix-{check.name}")
        fix = check.fix.rstrip(".")
        sentence = QLabel(fix[:1].upper() + fix[1:] + ".")
        sentence.setWordWrap(True)
        self.copy = QPushButton(icon("copy"), "Copy the command")
        self.copy.setObjectName("copyCommand")
        self.copy.setToolTip(check.command)
        self.copy.clicked.connect(self.copy_command)
        self.note = QLabel(IN_A_TERMINAL)
        self.note.setObjectName("commandNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555555")
        row = QHBoxLayout()
        row.addWidget(self.copy)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(sentence)
        layout.addWidget(self.note)
        layout.addLayout(row)

    def copy_command(self) -> None:
        QApplication.clipboard().setText(self.command)
        self.copy.setIcon(icon("done"))
        self.copy.setText("Copied")
        self.note.setText(COPIED)
