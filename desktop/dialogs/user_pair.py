"""Write an instruction → response pair for instruction tuning (saved in the workspace)."""

from __future__ import annotations

from core.datasets.user_pairs import add_user_pair, list_user_pairs
from core.workspace import Workspace
from desktop.ops import CoreOp
from desktop.qt import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


class UserPairDialog(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userPairDialog")
        self.setWindowTitle("Write an instruction pair")
        self.workspace = workspace
        self.instruction = QPlainTextEdit()
        self.instruction.setObjectName("pairInstruction")
        self.instruction.setPlaceholderText("e.g. Write the staffing plan for a 12-month SOC task")
        self.response = QPlainTextEdit()
        self.response.setObjectName("pairResponse")
        self.response.setPlaceholderText("The answer you want the model to learn to give.")
        self.count = QLabel()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Instruction"))
        layout.addWidget(self.instruction)
        layout.addWidget(QLabel("Response"))
        layout.addWidget(self.response)
        layout.addWidget(self.count)
        layout.addWidget(self.buttons)
        self._show_count()

    def _show_count(self) -> None:
        CoreOp(self, lambda: len(list_user_pairs(self.workspace))).success(
            lambda n: self.count.setText(f"{n} pair(s) written so far; they join the next SFT "
                                         "dataset build.")).run()

    def save(self) -> None:
        """Save and clear the fields for the next pair (the dialog stays open)."""
        instruction = self.instruction.toPlainText().strip()
        response = self.response.toPlainText().strip()
        if not instruction or not response:
            self.count.setText("Write both an instruction and a response.")
            return

        def saved(_: object) -> None:
            self.instruction.clear()
            self.response.clear()
            self._show_count()

        CoreOp(self, lambda: add_user_pair(self.workspace, instruction, response)).success(
            saved).run()
