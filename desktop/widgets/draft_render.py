"""Rich text of the drafting pane: a conversation with clickable [n] citations."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from core.drafting.conversations import Turn
from core.drafting.facts import UNVERIFIED_MARK
from core.drafting.session import Answer
from core.drafting.sources import Citation
from desktop.qt import QColor, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from desktop.widgets.draft_outcome import failed_html, turn_failed, turn_problems

_MARK = re.compile(r"\[(\d{1,3})\]")
UNVERIFIED_BACKGROUND = "#ffe98a"  # as Word's yellow highlight, softened for the screen


def mark_unverified(escaped: str) -> str:
    """Escaped text with each figure marked [unverified: …] on a highlight."""
    return UNVERIFIED_MARK.sub(
        lambda m: f"<span style='background:{UNVERIFIED_BACKGROUND}'>{m.group(1)}</span>",
        escaped)


def linked(text: str, scope: str = "") -> str:
    """Escaped text with each [n] a ``cite:`` link (``scope`` names the answer) and each
    figure marked [unverified: …] highlighted."""
    escaped = mark_unverified(html.escape(text).replace("\n", "<br>"))
    return _MARK.sub(lambda m: f'<a href="cite:{scope}{m.group(1)}">[{m.group(1)}]</a>', escaped)


def conversation_html(turns: Sequence[Turn], streaming: str | None = None) -> str:
    parts = []
    for index, turn in enumerate(turns):
        if turn.role == "user":
            text = html.escape(turn.content).replace("\n", "<br>")
            parts.append(f"<p><b>You</b><br>{text}</p>")
            continue
        rating = {"up": " — rated good", "down": " — rated poor"}.get(turn.rating or "", "")
        model = f" <small>({html.escape(turn.model)})</small>" if turn.model else ""
        text = linked(turn.content, f"{index}:")
        if turn_failed(turn):  # shown for review, greyed, under the red notice
            parts.append(f"<p><b>Draft</b>{model}{rating}</p>" + failed_html(turn_problems(turn))
                         + f"<p style='color:#777'>{text}</p>")
        else:
            parts.append(f"<p><b>Draft</b>{model}{rating}<br>{text}</p>")
    if streaming is not None:
        parts.append(f"<p><b>Draft</b> <i>(writing…)</i><br>{linked(streaming)}</p>")
    return "\n".join(parts)


def citation_label(citation: Citation) -> str:
    return f"[{citation.number}] {citation.where()}"


def passage_text(citation: Citation) -> str:
    return f"{citation.where()}\n\n{citation.text}"


def answer_html(answer: Answer, model: str) -> str:
    """The answer beside the conversation, when two models answer side by side."""
    text = ""
    if answer.streaming is not None:
        text = linked(answer.streaming)
    elif answer.result is not None:
        text = linked(answer.result.text)
        if answer.result.failed:
            text = failed_html(answer.result.problems) + text
    return f"<p><b>{html.escape(model)}</b></p><p>{text}</p>"


class UnverifiedHighlighter(QSyntaxHighlighter):
    """Figures marked [unverified: …] on a highlight in an editor, as in the transcript:
    while an analyst edits a draft, what is left to check stays in sight."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.marked = QTextCharFormat()
        self.marked.setBackground(QColor(UNVERIFIED_BACKGROUND))

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt name
        for match in UNVERIFIED_MARK.finditer(text):
            self.setFormat(match.start(), match.end() - match.start(), self.marked)
