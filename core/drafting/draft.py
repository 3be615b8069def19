"""Streaming a grounded draft: retrieve, fill the facts, prompt, stream, check, cite.

``stream_draft`` yields one ``SourcesFound`` (possibly empty), the ``Token`` events of the
reply (a ``Retrying`` first when the first attempt failed the checks and a second one
runs), then a ``Finished`` whose ``extra`` holds the ``DraftResult``. The steps:

1. retrieval: reference rows the request names, then hybrid-search passages, numbered and
   fitted to the prompt budget (``core.drafting.budget``: what the model reads before the
   first-token target; passages focused on the request when the budget is tight);
2. facts from tables and from the solicitation (``core.drafting.facts``) are filled in
   deterministically after the model's prose, each row or sentence cited;
3. the prompt in the model's format (``core.models.resolve``: chat for instruction-following
   models, a document to continue for base ones; ``core.drafting.prompt``);
4. hygiene (``core.drafting.hygiene``): scaffolding echoes, markup and repeats stripped; a
   draft still wrong is retried once with another seed, then marked failed;
5. citations checked against their sources, clearly supported sentences attributed
   (``core.drafting.citecheck``); codes, rates and dates checked against the values
   shown. A code or rate that matches none is put right from the reference row its
   sentence names (looked up in the reference tables when the model was not shown it; the
   row then joins the citations), or marked ``[unverified: …]`` (``core.drafting.facts``).

With retrieval off, or when the knowledge base is not indexed yet (a warning says so), the
draft has no sources. The model is a local one or a remote endpoint
(``core.serving.backend``): retrieval and the prompt are local either way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.drafting.budget import (
    FIRST_TOKEN_S,
    MIN_SOURCE_TOKENS,
    SEARCH_ALLOWANCE_S,
    PromptBudget,
    fit_citations,
    fit_example,
    prompt_budget,
)
from core.drafting.citecheck import attribute, check_citations
from core.drafting.facts import (
    FactCheck,
    Settled,
    check_facts,
    citation_values,
    fact_warnings,
    figure_sentences,
    grounded_prefill,
    rows_named,
    settle_facts,
)
from core.drafting.hygiene import Cleaned, clean_draft, has_echo
from core.drafting.prompt import DraftPrompt, DraftSpec, build_prompt, heading_for
from core.drafting.sources import Citation, Retriever, Source, cited_numbers, number_sources
from core.errors import ScriptoriumError
from core.generation.model import (
    Finished,
    GenerationSettings,
    Message,
    PromptMode,
    StreamEvent,
    Token,
)
from core.generation.runtime import LoadedModel
from core.models.resolve import tuned_here
from core.serving.backend import TextModel, stream_reply

DEFAULT_K = 5
REFERENCE_K = 4
FIGURE_LOOKUPS = 6  # sentences with a figure that matches nothing, looked up in the tables
FormatChoice = Literal["auto", "chat", "document"]
DraftStatus = Literal["ok", "failed"]


class DraftResult(BaseModel):
    """A finished draft: its text, the sources it was given and the ones it cited."""

    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    prompt: str
    text: str
    citations: tuple[Citation, ...] = ()
    cited: tuple[int, ...] = ()
    model: str = ""
    retrieval: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    created: str = Field(default_factory=now_iso)
    prompt_format: str = "chat"  # "chat" or "document" (core.models.resolve)
    format_reason: str = ""
    status: DraftStatus = "ok"
    problems: tuple[str, ...] = ()  # why the draft failed the checks
    cleaned: tuple[str, ...] = ()  # what hygiene removed
    attempts: int = 1
    raw_text: str = ""  # the model's own output of the last attempt, before hygiene
    prefill: str = ""  # the deterministic facts the section opens with
    checks: dict[str, Any] = Field(default_factory=dict)  # citations and facts

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def cited_sources(self) -> list[Citation]:
        """Citations the text refers to (all given ones when it cites none)."""
        wanted = set(self.cited)
        return [c for c in self.citations if c.number in wanted] or list(self.citations)


@dataclass(frozen=True)
class SourcesFound:
    """The numbered sources given to the model (sent before the first token)."""

    citations: tuple[Citation, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retrying:
    """The first attempt failed the checks; the tokens after this start a new attempt.

    ``kept`` is the streamed text that stays: a viewer replaces what it showed with
    ``kept`` and appends the new tokens."""

    reason: str
    kept: str = ""


DraftEvent = SourcesFound | Retrying | StreamEvent


def retrieve(retriever: Retriever, query: str, *, k: int = DEFAULT_K,
             reference_k: int = REFERENCE_K,
             lookup_query: str | None = None) -> tuple[list[Source], list[str]]:
    """Reference rows the query names (exact lookup) and hybrid-search passages."""
    warnings: list[str] = []
    found: list[Source] = []
    try:
        rows = retriever.lookup(lookup_query or query, reference_k) if reference_k else []
        passages = retriever.search(query, k)
    except ScriptoriumError as error:
        return [], [f"Retrieval was skipped: {error}"]
    exact = [r for r in rows if r.score >= 1.0]
    found.extend(exact)
    found.extend(passages)
    found.extend(r for r in rows if r not in exact)
    return found, warnings


def fit_sources(model: TextModel, sources: Sequence[Source], spec: DraftSpec, format: str,
                query: str, *, history: Sequence[Message] = (), instructions: str | None = None,
                elapsed_s: float = 0.0, first_token_s: float | None = FIRST_TOKEN_S,
                prefill_rate: float | None = None,
                ) -> tuple[list[Citation], DraftSpec, PromptBudget]:
    """The numbered sources and the example section that fit the prompt budget
    (``core.drafting.budget``): what the model reads by the first-token target.

    A ``prefill_rate`` given here replaces the model's measured one, and the search then
    counts as its whole allowance, not as the time it took: a request gets the same room
    for sources on every run and with every model (evaluations compare models on it)."""
    numbered = number_sources(sources)
    facts = spec.prefill or grounded_prefill(spec.request, numbered)  # at most this long
    fixed = build_prompt(format, replace(spec, exemplar=None, prefill=facts),  # type: ignore[arg-type]
                         (), history, instructions)
    fixed_tokens = prompt_length(model, fixed)
    if prefill_rate is None:
        rate = getattr(model, "prefill_rate", None)
    else:
        rate, elapsed_s = prefill_rate, SEARCH_ALLOWANCE_S
    budget = prompt_budget(model.n_ctx, rate, fixed_tokens, elapsed_s, first_token_s)
    room = budget.tokens
    if spec.exemplar is not None:
        example = fit_example(spec.exemplar, room, model.count_tokens, query)
        spec = replace(spec, exemplar=example)
        if example is not None:
            room -= model.count_tokens(example.text)
    citations = fit_citations(numbered, query, max(room, MIN_SOURCE_TOKENS),
                              model.count_tokens, focused=budget.limited)
    return citations, spec, budget


def prompt_length(model: TextModel, prompt: DraftPrompt) -> int:
    """Tokens of ``prompt`` as the model reads it (with its chat template when local)."""
    if isinstance(model, LoadedModel):
        from core.generation.stream import format_prompt, prompt_tokens

        text = format_prompt(model, list(prompt.messages), model.mode(prompt.mode))
        return len(prompt_tokens(model, text))
    return sum(model.count_tokens(m.content) for m in prompt.messages)


def choose_format(model: TextModel, requested: FormatChoice = "auto") -> tuple[str, str]:
    """The prompt format for ``model`` and why: chat for instruction-following models."""
    if requested != "auto":
        return requested, "chosen explicitly"
    kind = getattr(model, "kind", None)
    if kind is None:  # a remote endpoint: as the user configured it
        endpoint = getattr(model, "endpoint", None)
        if getattr(endpoint, "prompt_format", "auto") == "completion":
            return "document", "the endpoint is set to plain completion (a base model)"
        if getattr(model, "tuned_here", lambda: False)():
            return "chat", "the server's model has Scriptorium's instruction stage in its lineage"
        return "chat", "a remote endpoint (its server formats the chat)"
    reason = getattr(model, "kind_reason", "")
    return ("chat" if kind == "instruct" else "document"), reason


def _with_exemplar(spec: DraftSpec, retriever: Retriever | None,
                   exclude: tuple[str, ...]) -> DraftSpec:
    workspace = getattr(retriever, "workspace", None)
    if spec.exemplar is not None or workspace is None:
        return spec
    from core.drafting.exemplar import find_exemplar

    found = find_exemplar(workspace, spec.heading or heading_for(spec.request), exclude,
                          request=spec.request)
    return replace(spec, exemplar=found)


def _attempt_settings(settings: GenerationSettings, prompt: DraftPrompt,
                      attempt: int) -> GenerationSettings:
    update: dict[str, Any] = {"stop": tuple(dict.fromkeys(settings.stop + prompt.stops))}
    if attempt > 1:  # another seed, and enough randomness for it to matter
        update.update(seed=(settings.seed or 0) + 7919 * attempt,
                      temperature=max(settings.temperature, 0.7),
                      repeat_penalty=max(settings.repeat_penalty, 1.15))
    return settings.model_copy(update=update)


def _clean(raw: str, prompt: DraftPrompt, prefill: str) -> Cleaned:
    return clean_draft(raw, scaffolding=prompt.scaffolding, quoted=prompt.quoted,
                       stops=prompt.stops, table_rows_allowed=not prefill,
                       headers=prompt.headers, rows=prompt.rows)


def _compose(prose: str, facts: str) -> str:
    """The section: the model's prose, then the facts filled from tables and sources."""
    return "\n\n".join(p for p in (prose.strip(), facts.strip()) if p)


def stream_draft(
    model: TextModel, request: str, *, retriever: Retriever | None,
    settings: GenerationSettings | None = None, history: Sequence[Message] = (),
    cancelled: Callable[[], bool] = lambda: False, mode: PromptMode = "auto",
    query: str | None = None, lookup_query: str | None = None, k: int = DEFAULT_K,
    reference_k: int = REFERENCE_K, instructions: str | None = None,
    spec: DraftSpec | None = None, format: FormatChoice = "auto",
    exclude_documents: tuple[str, ...] = (), retry: bool = True,
    first_token_s: float | None = FIRST_TOKEN_S, prefill_rate: float | None = None,
) -> Iterator[DraftEvent]:
    """Draft a reply to ``request`` grounded in retrieved sources (see module docstring)."""
    started = time.perf_counter()
    settings = settings or GenerationSettings()
    spec = spec or DraftSpec(request=request)
    warnings: list[str] = []
    sources: list[Source] = []
    if retriever is not None:
        sources, warnings = retrieve(retriever, query or request, k=k, reference_k=reference_k,
                                     lookup_query=lookup_query)
    chosen, reason = choose_format(model, "chat" if mode == "chat" else format)
    spec = replace(spec, system=spec.system and not tuned_here(reason))
    if chosen == "document":
        spec = _with_exemplar(spec, retriever, exclude_documents)
    citations, spec, budget = fit_sources(
        model, sources, spec, chosen, query or request, history=history,
        instructions=instructions, elapsed_s=time.perf_counter() - started,
        first_token_s=first_token_s, prefill_rate=prefill_rate)
    retrieval_s = time.perf_counter() - started
    yield SourcesFound(tuple(citations), tuple(warnings))
    prefill = spec.prefill or grounded_prefill(request, citations)
    spec = replace(spec, prefill=prefill)
    prompt = build_prompt(chosen, spec, citations, history, instructions)  # type: ignore[arg-type]
    attempts = 2 if retry else 1
    first_echo, first_ttft, first_prompt_tokens = False, None, 0
    for attempt in range(1, attempts + 1):
        final: Finished | None = None
        for event in stream_reply(model, prompt.messages, _attempt_settings(
                settings, prompt, attempt), cancelled=cancelled, mode=prompt.mode):
            if isinstance(event, Token):
                yield event
            else:
                final = event
        assert final is not None
        cleaned = _clean(final.text, prompt, prefill)
        if attempt == 1:
            first_echo = has_echo(final.text, prompt.scaffolding, prompt.quoted)
            first_ttft = final.stats.time_to_first_token_s
            first_prompt_tokens = final.stats.prompt_tokens
        if cleaned.ok or attempt == attempts or final.stats.finish == "cancelled":
            break
        yield Retrying("; ".join(cleaned.problems))
    if prefill:
        yield Token(("\n\n" if final.text.strip() else "") + prefill.strip())
    stopped = final.stats.finish == "cancelled"  # settled at once, without lookups
    looked_up = [] if retriever is None or stopped else rows_for_figures(
        retriever, cleaned.text, citations, request)
    text, checks, found, citations = _checked(cleaned.text, prefill, citations, request,
                                              looked_up)
    failed = not cleaned.ok and final.stats.finish != "cancelled"
    numbers = [n for n in cited_numbers(text) if 1 <= n <= len(citations)]
    result = DraftResult(
        prompt=request, text=text, citations=tuple(citations), cited=tuple(numbers),
        model=model.name, retrieval=retriever is not None,
        settings=settings.model_dump(mode="json"), stats=final.stats.to_json(),
        warnings=tuple(warnings + found), prompt_format=chosen, format_reason=reason,
        status="failed" if failed else "ok", problems=cleaned.problems,
        cleaned=cleaned.removed, attempts=attempt, raw_text=final.text, prefill=prefill,
        checks={**checks,
                "time_to_first_token_s": first_ttft,  # of the first attempt: what one waits
                "first_token_with_retrieval_s": None if first_ttft is None else round(
                    retrieval_s + first_ttft, 4),
                "prompt_budget": {"tokens": budget.tokens, "reason": budget.reason,
                                  "limited": budget.limited,
                                  "prompt_tokens": first_prompt_tokens},
                "echo": {"first_attempt": first_echo,
                         "delivered": has_echo(text, prompt.scaffolding, prompt.quoted)}})
    yield Finished(final.text, final.stats, {"draft": result})


def rows_for_figures(retriever: Retriever, prose: str, citations: Sequence[Citation],
                     request: str = "") -> list[Citation]:
    """Reference rows the model was not shown that a sentence of ``prose`` holding a code
    or rate names (it wrote from memory), numbered after ``citations``: ``settle_facts``
    can put a figure matching nothing right from the one row its sentence names, or
    confirm it, and cite it (a sentence naming two rows stays ambiguous); or find that a
    shown figure is given to another row than its own. Sentences whose figure matches
    nothing are looked up first. A row the model was shown as a passage (a table row
    retrieved as text) keeps that passage's number: citing it cites the passage."""
    keys = {c.key for c in citations if c.kind == "reference_row"}
    passages = {c.key: c.number for c in citations if c.kind != "reference_row"}
    shown = [c for c in citations if c.kind == "reference_row" and c.fields]
    found: list[Citation] = []
    fresh = 0
    for sentence in figure_sentences(prose, citation_values(citations) + [request])[
            :FIGURE_LOOKUPS]:
        try:
            looked_up = retriever.lookup(sentence, k=3)
        except ScriptoriumError:
            return found  # no tables to look in: the figures are marked instead
        rows = [Citation(**s.model_dump(), number=0) for s in looked_up
                if s.kind == "reference_row" and s.fields and s.key not in keys]
        for row in rows_named(sentence, [*shown, *found, *rows]):
            if row.number == 0:
                keys.add(row.key)
                number = passages.get(row.key)
                if number is None:
                    fresh += 1
                    number = len(citations) + fresh
                found.append(row.model_copy(update={"number": number}))
    return found


def _checked(prose: str, facts_text: str, citations: Sequence[Citation], request: str,
             looked_up: Sequence[Citation] = ()
             ) -> tuple[str, dict[str, Any], list[str], list[Citation]]:
    """The section (the prose, then the facts filled in) with supported sentences cited,
    its citations checked and its codes, rates and dates settled (``settle_facts``) and
    matched against the values shown; the checks, warnings for what they found, and the
    citations (with the ``looked_up`` rows that put a figure right or confirmed it)."""
    written = check_citations(prose, citations)  # what the model itself cited, unaltered
    shown = citation_values(citations) + [request]
    own = check_facts(prose, shown)  # the model's own figures, before they were settled
    numbers = {c.number for c in citations}
    twins = [row for row in looked_up if row.number in numbers]  # shown as passages
    fresh = [row for row in looked_up if row.number not in numbers]
    used = {s.number for s in settle_facts(prose, [*citations, *looked_up], shown)[1]}
    kept = [row for row in fresh if row.number in used]  # numbered on, without gaps
    citations = [*citations, *(row.model_copy(update={"number": len(citations) + index})
                               for index, row in enumerate(kept, 1))]
    prose, settled = settle_facts(prose, citations, shown, also_named=[
        *twins, *(row for row in fresh if row.number not in used)])  # renumbered
    fixed = attribute(_compose(prose, facts_text), citations)
    text = fixed.text
    citing = check_citations(text, citations)
    facts = check_facts(text, citation_values(citations) + [request])
    warnings = fact_warnings(settled)
    marked = {s.written for s in settled if s.number is None}
    if misplaced := [f for f in facts.facts if f in marked and f not in facts.unmatched]:
        # another row's figure, marked: shown somewhere, but not correct where it stands
        facts = FactCheck(facts.facts, (*facts.unmatched, *misplaced))
    if unmarked := [f for f in facts.unmatched if f not in marked]:
        warnings.append("Codes, rates or dates that match no source shown: "
                        + ", ".join(unmarked[:8]))
    if fixed.removed:
        warnings.append(f"{fixed.removed} citation marker(s) naming no shown source were "
                        "removed.")
    if fixed.moved or fixed.dropped:
        warnings.append(f"{fixed.moved + fixed.dropped} citation(s) pointed to a source that "
                        f"does not say what the sentence says: {fixed.moved} now point to the "
                        f"source that does, {fixed.dropped} were removed.")
    checks = {"citations": {"markers": citing.markers, "valid": citing.valid,
                            "validity": citing.validity, "attributed": fixed.added,
                            "removed": fixed.removed, "moved": fixed.moved,
                            "dropped": fixed.dropped, "sentences": citing.sentences,
                            "cited_sentences": citing.cited_sentences,
                            "model_markers": written.markers, "model_valid": written.valid},
              "facts": _fact_checks(own, facts, settled)}
    return text, checks, warnings, citations


def _fact_checks(own: FactCheck, delivered: FactCheck,
                 settled: Sequence[Settled]) -> dict[str, Any]:
    """The figures of a draft as delivered, and as the model wrote them: which it got
    wrong and were put right, which a looked-up row bore out, which were marked."""
    wrong = {s.written for s in settled if not s.confirmed}
    return {"quoted": list(delivered.facts), "unmatched": list(delivered.unmatched),
            "exactness": delivered.exactness, "model_quoted": list(own.facts),
            "model_exactness": None if not own.facts else 1 - len(
                wrong & set(own.facts)) / len(own.facts),
            "corrected": list({s.written: {"written": s.written, "now": s.now, "row": s.row}
                               for s in settled if s.corrected}.values()),
            "confirmed": list(dict.fromkeys(s.written for s in settled if s.confirmed)),
            "unverified": list(dict.fromkeys(s.written for s in settled if s.number is None))}


def draft(model: TextModel, request: str, **kwargs: Any) -> DraftResult:
    """The whole grounded draft at once (no streaming)."""
    result: DraftResult | None = None
    for event in stream_draft(model, request, **kwargs):
        if isinstance(event, Finished):
            result = event.extra["draft"]  # type: ignore[assignment]
    assert result is not None
    return result
