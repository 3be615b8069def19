"""The Draft pane's row of actions on an answer, and the panel to rewrite one.

Send and Stop; Good/Poor draft, Edit…, Copy and Export… (the conversation, as DOCX or
Markdown) act on the last answer; Prefer
left/right answer shows when two models answer side by side. Edit… opens a panel with the
answer in an editor; "Save as preferred" hands the rewrite to the pane.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop.dialogs.save_as import ask_save_path
from desktop.ops import CoreOp
from desktop.qt import QApplication, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget
from desktop.widgets.buttons import button
from desktop.widgets.draft_render import UnverifiedHighlighter
from desktop.widgets.icons import icon

if TYPE_CHECKING:
    from desktop.panes.draft import DraftPane

RATING_TIP = "Mark this draft as a {} answer (used to train the model's preferences)"


class AnswerActions:
    def __init__(self, pane: DraftPane) -> None:
        self.pane = pane
        self.send_button = button("Send", "draftSend", pane.send)
        self.stop_button = button("Stop", "draftStop", pane.stop)
        self.up_button = button("Good draft", "thumbsUp", lambda: pane.rate("up"),
                                RATING_TIP.format("good"))
        self.down_button = button("Poor draft", "thumbsDown", lambda: pane.rate("down"),
                                  RATING_TIP.format("poor"))
        self.up_button.setIcon(icon("good"))
        self.down_button.setIcon(icon("poor"))
        self.edit_button = button("Edit…", "editAnswer", self.begin_edit)
        self.copy_button = button("Copy", "copyAnswer", self.copy_answer)
        self.export_button = button("Export…", "exportConversation", self.ask_export)
        self.prefer_a = button("Prefer left answer", "preferA", lambda: pane.prefer_side(0))
        self.prefer_b = button("Prefer right answer", "preferB", lambda: pane.prefer_side(1))
        self.row = QHBoxLayout()
        for widget in (self.send_button, self.stop_button, self.up_button, self.down_button,
                       self.edit_button, self.copy_button, self.export_button):
            self.row.addWidget(widget)
        self.row.addStretch(1)
        # under the two answers, in a row of their own: in one row with the others they made
        # the window wider than a 1280-pixel screen
        self.compare_row = QHBoxLayout()
        self.compare_row.addWidget(self.prefer_a)
        self.compare_row.addStretch(1)
        self.compare_row.addWidget(self.prefer_b)

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("answerEditor")
        self.highlighter = UnverifiedHighlighter(self.editor.document())
        self.save_edit_button = button("Save as preferred", "saveAsPreferred", self.save_edit)
        edit_row = QHBoxLayout()
        edit_row.addStretch(1)
        edit_row.addWidget(button("Cancel edit", "cancelEdit", self.end_edit))
        edit_row.addWidget(self.save_edit_button)
        self.edit_panel = QWidget()
        layout = QVBoxLayout(self.edit_panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Edit the answer; the edit is saved as the preferred one:"))
        layout.addWidget(self.editor, 1)
        layout.addLayout(edit_row)
        self.edit_panel.setVisible(False)

    def begin_edit(self) -> None:
        exchange = self.pane.session.last_exchange()
        if exchange is None:
            return
        self.editor.setPlainText(exchange.turn.content)
        self.edit_panel.setVisible(True)
        self.editor.setFocus()

    def end_edit(self) -> None:
        self.edit_panel.setVisible(False)

    def save_edit(self) -> None:
        self.pane.save_edit(self.editor.toPlainText())
        self.end_edit()

    def copy_answer(self) -> None:
        exchange = self.pane.session.last_exchange()
        if exchange is not None:
            QApplication.clipboard().setText(exchange.turn.content)

    def ask_export(self) -> None:
        path = ask_save_path(self.pane, "Export conversation",
                             self.pane.session.conversation.title, ".docx",
                             "Word (*.docx);;Markdown (*.md)")
        if path:
            self.export_to(path)

    def export_to(self, path: Path) -> None:
        CoreOp(self.pane, self.pane.session.export(path)).success(
            lambda written: self.pane.stats.setText(f"Exported to {written}")).run()

    def update(self, *, busy: bool, workspace: bool, answered: bool, compare: bool,
               compared: bool) -> None:
        self.send_button.setEnabled(workspace and not busy)
        self.stop_button.setEnabled(busy)
        for widget in (self.up_button, self.down_button, self.edit_button, self.copy_button,
                       self.export_button):
            widget.setEnabled(answered and not busy)
        for widget in (self.prefer_a, self.prefer_b):
            widget.setVisible(compare)
            widget.setEnabled(compare and compared and not busy)
