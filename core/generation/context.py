"""Fitting a request into the context window.

The answer's tokens are reserved first; retrieved passages get at most a share of the
window (``PASSAGE_SHARE``); then the oldest history turns are dropped until the prompt fits.
System messages and the newest message are always kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.errors import ScriptoriumError
from core.generation.model import Message

PASSAGE_SHARE = 0.4
MIN_ANSWER_TOKENS = 16


class ContextTooSmall(ScriptoriumError):
    """The request does not fit the model's context window even with no history."""


def answer_budget(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the answer: what was asked, at most half the window."""
    return max(MIN_ANSWER_TOKENS, min(max_tokens, n_ctx // 2))


def passage_budget(n_ctx: int, share: float = PASSAGE_SHARE) -> int:
    return int(n_ctx * share)


def budget_passages(texts: Sequence[str], count_tokens: Callable[[str], int],
                    budget: int) -> list[str]:
    """Passages in rank order until ``budget`` tokens; the last one kept is cut to fit.

    A passage is dropped rather than cut below 32 tokens (a fragment cites nothing).
    """
    kept: list[str] = []
    used = 0
    for text in texts:
        tokens = count_tokens(text)
        if used + tokens <= budget:
            kept.append(text)
            used += tokens
            continue
        room = budget - used
        if room >= 32:
            ratio = room / max(tokens, 1)
            cut = text[: max(1, int(len(text) * ratio * 0.9))]
            while cut and count_tokens(cut + " …") > room:
                cut = cut[: int(len(cut) * 0.85)]
            if cut:
                kept.append(cut.rstrip() + " …")
        break
    return kept


def trim_history(messages: Sequence[Message], prompt_tokens: Callable[[list[Message]], int],
                 limit: int) -> tuple[list[Message], int]:
    """Drop the oldest non-system turns until the prompt takes at most ``limit`` tokens.

    Returns the kept messages and how many were dropped. A user message and the assistant
    reply after it go together, so the history never starts with an orphan reply.
    """
    kept = list(messages)
    dropped = 0
    while prompt_tokens(kept) > limit:
        history = [i for i, m in enumerate(kept[:-1]) if m.role != "system"]
        if not history:
            raise ContextTooSmall(
                f"The request needs {prompt_tokens(kept)} tokens but the model's context "
                f"window leaves {limit} for the prompt.",
                hint="shorten the prompt, lower max tokens, or turn retrieval down")
        first = history[0]
        span = 1
        if (kept[first].role == "user" and first + 1 < len(kept) - 1
                and kept[first + 1].role == "assistant"):
            span = 2
        del kept[first:first + span]
        dropped += span
    return kept, dropped
