"""How much a drafting prompt may hold, sized so the first word comes quickly.

A CPU reads a prompt at a few hundred tokens a second (the bundled 270M on 2 cores: about
380), so the first word of a draft waits for every source shown to the model: a
1,100-token prompt waited 3 s. The budget is what the loaded model reads in the first-token
target (``FIRST_TOKEN_S``) less the time retrieval took (at most ``SEARCH_ALLOWANCE_S``),
at the model's own measured prefill rate (``LoadedModel.prefill_rate``), never more than
the context share (``core.generation.context.passage_budget``) and never less than
``MIN_SOURCE_TOKENS`` for the sources, so a draft always has evidence. A remote endpoint
(no rate known) gets the context share, as does a target of ``None``.

What fits is chosen by relevance, not by position: when the target limits the budget, each
passage is *focused* on the request (its sentences sharing most content words with it,
kept in their order, up to ``PASSAGE_TOKENS``, a line break between excerpts that are not
adjacent); reference rows are short, kept whole and given up to ``ROW_SHARE`` of the
budget (they hold the exact facts; when the rows the request names do not all fit, rows
are shown without their long fields); passages fill the rest in rank order, the last one
focused on the room left. A base model's example section gets at most
``EXAMPLE_SHARE`` of the room.

Measured on the demo workspace's six held-out pairs (greedy, 200 tokens, 2 cores): the
prompts fell from about 960 tokens to 380–450 and the wait for the first words from
2.9–3.1 s to 1.3–1.4 s; echo stayed 0 and citations valid at 86–100 %.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.drafting.citecheck import content_words, sentences
from core.drafting.prompt import Exemplar, source_block
from core.drafting.sources import Citation
from core.generation.context import budget_passages, passage_budget

FIRST_TOKEN_S = 1.5
MARGIN_S = 0.25  # tokenising, the first decode step, the stream's own overhead
SEARCH_ALLOWANCE_S = 0.3  # a search slower than this (the first in a process loads the
# embedding model) misses the target anyway: it does not cost the draft its sources
MIN_SOURCE_TOKENS = 200
PASSAGE_TOKENS = 100
EXAMPLE_SHARE = 0.25
MIN_EXAMPLE_TOKENS = 48  # a shorter example shows no style; it is left out
MIN_CUT_TOKENS = 32  # a shorter excerpt cites nothing
ROW_SHARE = 0.35  # of the budget, for reference rows when there are passages too
COMPACT_FIELD_CHARS = 60  # a longer field (a description) is left out of a compact row
_GAP = "\n"  # between excerpts that are not adjacent (an ellipsis was copied into drafts)

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class PromptBudget:
    """Tokens the sources and the example may take, and why."""

    tokens: int
    reason: str
    limited: bool  # True when the first-token target, not the context, set the size


def prompt_budget(n_ctx: int, prefill_rate: float | None, fixed_tokens: int,
                  elapsed_s: float, first_token_s: float | None = FIRST_TOKEN_S
                  ) -> PromptBudget:
    """Room for sources and example once ``fixed_tokens`` (instructions, request,
    heading) are in; ``elapsed_s`` is what retrieval took."""
    share = passage_budget(n_ctx)
    if first_token_s is None or not prefill_rate:
        return PromptBudget(share, "a share of the context window", False)
    seconds = max(0.0, first_token_s - min(elapsed_s, SEARCH_ALLOWANCE_S) - MARGIN_S)
    room = int(prefill_rate * seconds) - fixed_tokens
    if room >= share:
        return PromptBudget(share, "a share of the context window", False)
    tokens = max(MIN_SOURCE_TOKENS, room)
    return PromptBudget(tokens, f"what the model reads in {first_token_s:g} s at "
                                f"{prefill_rate:.0f} tokens/s", True)


def focus(text: str, query: str, limit: int, count_tokens: CountTokens) -> str:
    """``text`` cut to ``limit`` tokens by keeping its sentences that share most content
    words with ``query`` (ties: earlier first), in their original order; a line break
    where sentences were left out between them."""
    if count_tokens(text) <= limit:
        return text
    parts = sentences(text)
    wanted = content_words(query)
    ranked = sorted(range(len(parts)),
                    key=lambda i: (-len(content_words(parts[i]) & wanted), i))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        cost = count_tokens(parts[index]) + 1
        if used + cost > limit:
            continue
        chosen.append(index)
        used += cost
    if not chosen:  # one long sentence: its head
        return budget_passages([text], count_tokens, limit)[0] if limit >= 32 else ""
    chosen.sort()
    pieces = [parts[chosen[0]]]
    for before, index in zip(chosen, chosen[1:]):
        pieces.append((_GAP if index != before + 1 else " ") + parts[index])
    return "".join(pieces)


def fit_citations(citations: Sequence[Citation], query: str, budget: int,
                  count_tokens: CountTokens, *, focused: bool = True) -> list[Citation]:
    """``citations`` that fit ``budget`` tokens, in their order, renumbered 1..n.

    Reference rows (short, and where the exact facts are) get up to ``ROW_SHARE`` of the
    budget when there are passages too; passages, focused on ``query`` when ``focused``,
    fill the rest in rank order, the last one cut to the room left."""
    rows = [c for c in citations if c.kind == "reference_row"]
    passages = [c for c in citations if c.kind != "reference_row"]
    row_budget = int(budget * ROW_SHARE) if passages else budget
    kept_rows, used = _take(rows, row_budget, count_tokens)
    if len(kept_rows) < sum(c.score >= 1.0 for c in rows):  # rows the request names
        kept_rows, used = _take([compact_row(c) for c in rows], row_budget, count_tokens)
    shown = [c.model_copy(update={"text": focus(c.text, query, PASSAGE_TOKENS, count_tokens)})
             if focused else c for c in passages]
    kept_passages, _ = _take(shown, budget - used, count_tokens,
                             cut=lambda text, room: focus(text, query, room, count_tokens)
                             if focused else budget_passages([text], count_tokens, room)[0])
    kept = {c.key: c for c in kept_rows + kept_passages}
    ordered = [kept[c.key] for c in citations if c.key in kept]
    return [c.model_copy(update={"number": n}) for n, c in enumerate(ordered, start=1)]


def compact_row(citation: Citation) -> Citation:
    """A reference row without its long fields (descriptions): the codes, names, rates
    and dates, which is what a facts table quotes. Rows the request names are shown so
    when they do not all fit whole."""
    short = {name: value for name, value in citation.fields.items()
             if value and len(value) <= COMPACT_FIELD_CHARS}
    if not short or len(short) == len(citation.fields):
        return citation
    return citation.model_copy(update={"text": "; ".join(f"{k}: {v}" for k, v in short.items())})


def _take(citations: Sequence[Citation], budget: int, count_tokens: CountTokens,
          cut: Callable[[str, int], str] | None = None) -> tuple[list[Citation], int]:
    """The leading ``citations`` whose blocks fit ``budget`` (the next one ``cut`` to the
    room left, when given) and the tokens they take."""
    kept: list[Citation] = []
    used = 0
    for citation in citations:
        cost = count_tokens(source_block(citation))
        if used + cost <= budget:
            kept.append(citation)
            used += cost
            continue
        header = count_tokens(source_block(citation.model_copy(update={"text": ""})))
        room = budget - used - header
        if cut is not None and room >= MIN_CUT_TOKENS:
            text = cut(citation.text, room)
            if text:
                kept.append(citation.model_copy(update={"text": text}))
                used += header + count_tokens(text)
        break
    return kept, used


def fit_example(example: Exemplar | None, room: int, count_tokens: CountTokens,
                query: str) -> Exemplar | None:
    """The example section cut to at most ``EXAMPLE_SHARE`` of ``room`` tokens (None when
    less than ``MIN_EXAMPLE_TOKENS`` would be left)."""
    if example is None:
        return None
    limit = int(room * EXAMPLE_SHARE)
    if count_tokens(example.text) <= limit:
        return example
    if limit < MIN_EXAMPLE_TOKENS:
        return None
    text = _head(example.text, limit, count_tokens) or focus(example.text, query, limit,
                                                             count_tokens)
    return Exemplar(title=example.title, heading=example.heading, text=text) if text else None


def _head(text: str, limit: int, count_tokens: CountTokens) -> str:
    """The example's first sentences within ``limit`` tokens: its opening shows the style."""
    kept: list[str] = []
    used = 0
    for sentence in sentences(text):
        cost = count_tokens(sentence) + 1
        if used + cost > limit:
            break
        kept.append(sentence)
        used += cost
    return " ".join(kept)
