"""The middle of the Draft pane's Chat tab: the answers, and what is typed and done to them.

Top to bottom: the transcript (two columns when two models answer side by side, with
"Prefer left/right answer" under them), the notice
about the last answer (retried, failed a check), the edit panel, the prompt, the row of
actions and the status line (tokens per second, what was saved).
"""

from __future__ import annotations

from collections.abc import Callable

from desktop.qt import (
    QLabel,
    QPlainTextEdit,
    QSplitter,
    Qt,
    QTextBrowser,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.draft_answer import AnswerActions
from desktop.widgets.draft_outcome import FORMAT_TIP, DraftNotice
from desktop.widgets.draft_worker import GenerationWorker


class AnswerSide:
    """One model's answer: its transcript view (links "[n]" go to ``on_link``) and the
    worker thread that streams it."""

    def __init__(self, index: int, on_link: Callable[[QUrl], None], parent: QWidget) -> None:
        self.index = index
        self.view = QTextBrowser()
        self.view.setObjectName(f"draftTranscript{'AB'[index]}")
        self.view.setOpenLinks(False)
        self.view.anchorClicked.connect(on_link)
        self.worker = GenerationWorker(parent)


class AnswerColumn(QWidget):
    def __init__(self, views: tuple[QTextBrowser, QTextBrowser], actions: AnswerActions,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("draftPrompt")
        self.prompt.setPlaceholderText("What should I draft? e.g. “Staffing plan for a 24x7 SOC”")
        self.prompt.setMaximumHeight(90)
        self.stats = QLabel()
        self.stats.setObjectName("draftStats")
        self.stats.setWordWrap(True)
        self.stats.setToolTip(FORMAT_TIP)
        self.notice = DraftNotice()
        answers = QSplitter(Qt.Orientation.Horizontal)
        for view in views:
            answers.addWidget(view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(answers, 1)
        layout.addLayout(actions.compare_row)
        layout.addWidget(self.notice)
        layout.addWidget(actions.edit_panel)
        layout.addWidget(self.prompt)
        layout.addLayout(actions.row)
        layout.addWidget(self.stats)
