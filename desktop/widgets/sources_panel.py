"""The numbered sources of a draft, and the passage of the one clicked.

Used beside a chat answer and beside a proposal section: ``set_citations(citations)`` lists them,
``select(number)`` shows source [number]; ``follow(link, turns)`` answers a click on "[n]"
in a transcript, whose link names the turn too (``cite:<turn>:<n>``).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.drafting.conversations import Turn
from core.drafting.sources import Citation
from desktop.qt import QListWidget, QPlainTextEdit, QSplitter, Qt, QUrl, QWidget
from desktop.widgets.draft_render import citation_label, passage_text


class SourcesPanel(QSplitter):
    def __init__(self, name: str, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.citations: tuple[Citation, ...] = ()
        self.list = QListWidget()
        self.list.setObjectName(f"{name}Sources")
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(self._show_passage)
        self.passage = QPlainTextEdit()
        self.passage.setObjectName(f"{name}Passage")
        self.passage.setReadOnly(True)
        self.passage.setPlaceholderText(hint)
        self.addWidget(self.list)
        self.addWidget(self.passage)

    def set_citations(self, citations: Sequence[Citation]) -> None:
        self.citations = tuple(citations)
        self.list.clear()
        self.passage.clear()
        for citation in self.citations:
            self.list.addItem(citation_label(citation))

    def select(self, number: int) -> None:
        for row, citation in enumerate(self.citations):
            if citation.number == number:
                self.list.setCurrentRow(row)
                self._show_passage(row)

    def _show_passage(self, row: int) -> None:
        if 0 <= row < len(self.citations):
            self.passage.setPlainText(passage_text(self.citations[row]))

    def follow(self, link: QUrl, turns: Sequence[Turn]) -> None:
        """Show the source a "[n]" link points at, listing its turn's sources first."""
        turn, _, number = link.toString().removeprefix("cite:").rpartition(":")
        if not number.isdigit():
            return
        if turn.isdigit() and int(turn) < len(turns):
            if turns[int(turn)].citations != self.citations:
                self.set_citations(turns[int(turn)].citations)
        self.select(int(number))
