"""How a finished draft went, in words: its prompt format, failed checks and warnings.

``DraftNotice`` is the coloured line under a draft (red for a draft that failed the
quality checks, amber for warnings, grey while a second attempt runs). The helpers keep
a failed draft recognisable once it is a conversation turn, so it is rendered as failed,
left out of the history given to the model, and exported as a note instead of as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from core.drafting.conversations import Turn
from core.drafting.draft import DraftResult
from core.generation.model import GenerationStats
from desktop.qt import QLabel, Qt, QWidget
from desktop.widgets.icons import icon_html

FAILED_COLOUR = "#b00020"
WARNING_COLOUR = "#8a5a00"
FORMAT_TIP = ("Chat: the request is sent as instructions, for models tuned to follow them "
              "(instruction tuning in their history, or a chat model you brought).\n"
              "Document: the request becomes the start of a proposal for the model to "
              "continue, which suits base models and models trained on documents only.")


def format_note(result: DraftResult) -> str:
    """"document prompt — base model (continued pre-training only…)" and the like."""
    reason, fmt = result.format_reason, result.prompt_format
    if reason == "chosen explicitly":
        return f"{fmt} prompt — chosen in Prompt format"
    if "base model" in reason or reason.startswith("a remote endpoint"):
        return f"{fmt} prompt — {reason}"
    who = "base model" if fmt == "document" else "instruction-following model"
    return f"{fmt} prompt — {who}" + (f" ({reason})" if reason else "")


def failed_text(problems: Sequence[str]) -> str:
    why = "; ".join(problems) or "it did not pass them"
    return (f"This draft failed the quality checks: {why}. It is kept here for review "
            "only and is left out of exported documents.")


def stats_line(result: DraftResult, stats: GenerationStats,
               from_send_s: float | None = None) -> str:
    """The line under the answer: model, speed, the wait for the first words (from Send,
    as the analyst waited, when the pane measured it), prompt format, attempts."""
    first = from_send_s
    if first is None:
        first = result.checks.get("first_token_with_retrieval_s")
    if first is None:
        first = stats.time_to_first_token_s or 0.0
    line = (f"{result.model}: {stats.completion_tokens} tokens, {stats.tokens_per_s:.1f} "
            f"tokens/s, first words {first:.2f} s after Send; {format_note(result)}")
    budget = result.checks.get("prompt_budget", {})
    if budget.get("limited") and result.citations:
        line += (f"; {len(result.citations)} source(s), shortened to what the model reads "
                 "in a quick start")
    if result.attempts > 1:
        line += "; second attempt (the first failed the checks)"
    if stats.finish == "cancelled":
        line += " — stopped"
    return line


def warning_lines(result: DraftResult) -> list[str]:
    """The result's warnings and what the checks removed from the model's text."""
    lines = list(result.warnings)
    if result.cleaned:
        lines.append("Removed from the model's text: " + "; ".join(result.cleaned) + ".")
    return lines


def turn_failed(turn: Turn) -> bool:
    return turn.failed


def turn_problems(turn: Turn) -> list[str]:
    return list(turn.problems)


def failed_html(problems: Sequence[str]) -> str:
    return (f"<p style='color:{FAILED_COLOUR}'>{icon_html('warning')} "
            f"<b>{html.escape(failed_text(problems))}</b></p>")


class DraftNotice(QLabel):
    """One coloured line about the latest draft; hidden when there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("draftNotice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._plain = ""
        self.hide()

    def plain(self) -> str:
        """The notice as plain text ("" when hidden)."""
        return self._plain

    def _show(self, colour: str, text: str, bold: bool = False, icon: str = "") -> None:
        self._plain = text
        body = html.escape(text).replace("\n", "<br>")
        mark = f"{icon_html(icon)} " if icon else ""
        self.setText(f"{mark}<span style='color:{colour}'>{'<b>' if bold else ''}{body}"
                     f"{'</b>' if bold else ''}</span>")
        self.show()

    def retrying(self, reason: str) -> None:
        self._show(WARNING_COLOUR, f"The first attempt failed the checks: {reason}; "
                   "trying again…")

    def outcome(self, result: DraftResult) -> None:
        """The warnings and what the checks removed (the transcript shows a failure)."""
        self.warnings(warning_lines(result))

    def failed_section(self, problems: Sequence[str]) -> None:
        why = "; ".join(problems) or "it did not pass them"
        self._show(FAILED_COLOUR, f"The last draft of this section failed the quality "
                   f"checks: {why}. It is left out of exported documents: draft the section "
                   "again, or write it here and Save edit.", bold=True, icon="warning")

    def warnings(self, lines: Sequence[str]) -> None:
        if lines:
            self._show(WARNING_COLOUR, "\n".join(lines))
        else:
            self.clear()

    def clear(self) -> None:
        self._plain = ""
        super().clear()
        self.hide()
