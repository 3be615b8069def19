"""The guided demo's results: each stage's time and what it produced (non-modal)."""

from __future__ import annotations

from typing import Any

from core.demo.pipeline import stage_note, summary_lines
from desktop.qt import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)

COLUMNS = ["Stage", "Seconds", "Result"]


class DemoResultsDialog(QDialog):
    open_draft = Signal(str)  # proposal id

    def __init__(self, summary: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("demoResults")
        self.setWindowTitle("Guided demo: results")
        self.summary = summary
        lines = summary_lines(summary)
        stage_rows = [line for line in lines[1:] if line.startswith("  ")]
        headline = [line for line in lines[1:] if not line.startswith("  ")]
        self.headline = QLabel("<b>" + lines[0] + "</b><br>" + "<br>".join(headline))
        self.headline.setObjectName("demoHeadline")
        self.headline.setWordWrap(True)

        self.table = QTableWidget(len(stage_rows), len(COLUMNS))
        self.table.setObjectName("demoStages")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for row, stage in enumerate(summary.get("stages", [])):
            for column, value in enumerate([stage["stage"], f"{stage['seconds']:.1f}",
                                            stage_note(stage)]):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()

        draft = next((s for s in summary.get("stages", []) if s["stage"] == "draft"), None)
        self.excerpt = QPlainTextEdit(
            (f"{draft['section']} ({draft['rfp']})\n\n{draft['excerpt']}\n\n"
             + "\n".join(draft["citations"])) if draft else "")
        self.excerpt.setObjectName("demoDraft")
        self.excerpt.setReadOnly(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        if draft:
            show = QPushButton("Open the draft")
            show.setObjectName("demoOpenDraft")
            show.clicked.connect(lambda: self.open_draft.emit(draft["proposal"]))
            buttons.addButton(show, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("Drafted section"))
        layout.addWidget(self.excerpt, 1)
        layout.addWidget(buttons)
        self.resize(820, 620)
