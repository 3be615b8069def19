"""The drafting prompt's budget: sized to what the model reads before the first-token target,
passages focused on the request, the example cut to its share. Fake models (one token per
word); the real model's wait is measured in test_draft_quality_integration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from core.drafting.budget import (
    MIN_EXAMPLE_TOKENS,
    MIN_SOURCE_TOKENS,
    PASSAGE_TOKENS,
    fit_citations,
    fit_example,
    focus,
    prompt_budget,
)
from core.drafting.draft import DraftResult, stream_draft
from core.drafting.prompt import Exemplar
from core.drafting.sources import Source, number_sources
from core.generation.model import Finished, GenerationStats, Token
from core.generation.runtime import LoadedModel


def count(text: str) -> int:
    return len(text.split())


FILLER = " ".join(f"Sentence {i} talks about office furniture and parking." for i in range(40))
FEW = " ".join(f"Note {i} is about desks." for i in range(20))
RELEVANT = "The contractor shall staff the security operations center around the clock."


def test_without_a_rate_or_a_target_the_budget_is_the_context_share() -> None:
    assert prompt_budget(2048, None, 100, 0.1).tokens == int(2048 * 0.4)
    assert not prompt_budget(2048, 400.0, 100, 0.1, first_token_s=None).limited
    fast = prompt_budget(2048, 20_000.0, 100, 0.1)  # a GPU reads the whole share in time
    assert not fast.limited and fast.tokens == int(2048 * 0.4)


def test_the_budget_is_what_the_model_reads_by_the_target() -> None:
    budget = prompt_budget(4096, 400.0, 100, elapsed_s=0.25, first_token_s=1.5)
    assert budget.limited and budget.tokens == int(400 * (1.5 - 0.25 - 0.25)) - 100
    assert "400 tokens/s" in budget.reason
    slower = prompt_budget(4096, 400.0, 100, elapsed_s=0.75, first_token_s=1.5)
    assert slower.tokens < budget.tokens  # a slow search leaves less time to read
    cold = prompt_budget(4096, 400.0, 100, elapsed_s=6.0, first_token_s=1.5)
    assert cold.tokens == slower.tokens  # the first search of a process loads the embedder
    starved = prompt_budget(4096, 50.0, 300, elapsed_s=1.0)
    assert starved.tokens == MIN_SOURCE_TOKENS  # a draft always gets some evidence


def test_focus_keeps_the_sentences_about_the_request_in_order() -> None:
    text = f"{FEW} {RELEVANT} {FEW} Shifts rotate every twelve hours."
    shown = focus(text, "staff the security operations center in twelve hour shifts", 30,
                  count)
    assert count(shown) <= 30
    assert RELEVANT in shown and "twelve hours." in shown
    assert shown.index(RELEVANT) < shown.index("twelve hours")
    assert "\n" in shown  # a line break where text was left out
    assert focus("Short text.", "anything", 30, count) == "Short text."


def test_fit_citations_focus_passages_keep_rows_and_respect_the_budget() -> None:
    row = Source(kind="reference_row", doc_id="t", title="Labor", ref_id="r",
                 text="code: NAS-CY-02 | labor_category: Cyber Analyst II")
    passages = [Source(doc_id=f"d{i}", title=f"Doc {i}", ref_id=f"c{i}",
                       text=f"{FILLER} {RELEVANT}") for i in range(5)]
    cited = number_sources([row, *passages])
    fitted = fit_citations(cited, "staff the security operations center", 300, count)
    assert [c.number for c in fitted] == list(range(1, len(fitted) + 1))
    assert fitted[0].text == row.text
    assert all(RELEVANT in c.text for c in fitted[1:-1])
    assert all(count(c.text) <= PASSAGE_TOKENS + 2 for c in fitted[1:])
    assert 2 <= len(fitted) < len(cited)
    shown = sum(count(f"[{c.number}] {c.where()}\n{c.text}") for c in fitted)
    assert shown <= 300
    whole = fit_citations(cited, "staff", 10_000, count, focused=False)
    assert [c.text for c in whole] == [c.text for c in cited]


def test_reference_rows_keep_their_share_behind_many_passages() -> None:
    passages = [Source(doc_id=f"d{i}", title=f"Doc {i}", ref_id=f"c{i}",
                       text=f"{FILLER} {RELEVANT}") for i in range(5)]
    rows = [Source(kind="reference_row", doc_id="t", title="Labor", ref_id=f"r{i}",
                   text=f"code: NAS-CY-0{i} | labor_category: Analyst {i}") for i in range(3)]
    cited = number_sources([*passages, *rows])  # rows found by similarity come last
    fitted = fit_citations(cited, "staff the security operations center", 250, count)
    kinds = [c.kind for c in fitted]
    assert "reference_row" in kinds and "passage" in kinds
    assert kinds.index("reference_row") > kinds.index("passage")  # the order is kept
    assert [c.number for c in fitted] == list(range(1, len(fitted) + 1))


def test_the_example_gets_its_share_or_is_left_out() -> None:
    example = Exemplar(title="Past", heading="Staffing Plan", text=FILLER)
    assert fit_example(example, 10_000, count, "staffing") == example
    cut = fit_example(example, 400, count, "staffing")
    assert cut is not None and count(cut.text) <= 400 * 0.3
    assert cut.text.startswith("Sentence 0 ")  # its opening: the house style
    assert fit_example(example, int(MIN_EXAMPLE_TOKENS / 0.3) - 10, count, "x") is None


def test_prefill_rate_folds_measurements_and_ignores_short_ones() -> None:
    model = LoadedModel(name="m", path=None, llama=None, n_ctx=512,  # type: ignore[arg-type]
                        chat_template=None, bos_token="", eos_token="", renderer=None,
                        lock=None)  # type: ignore[arg-type]
    model.note_prefill(10, 0.001)
    assert model.prefill_rate is None
    model.note_prefill(400, 1.0)
    model.note_prefill(400, 0.5)
    assert model.prefill_rate == pytest.approx(600.0)


# -- the whole draft --------------------------------------------------------------------------
class SlowModel:
    """A local model that reads ``prefill_rate`` tokens a second (one token per word)."""

    name = "slow"
    n_ctx = 8192
    kind, kind_reason = "base", "test"

    def __init__(self, prefill_rate: float | None) -> None:
        self.prefill_rate = prefill_rate
        self.sent: list[str] = []

    def count_tokens(self, text: str) -> int:
        return count(text)


class Retriever:
    def search(self, query: str, k: int) -> list[Source]:
        return [Source(doc_id=f"d{i}", title=f"Doc {i}", ref_id=f"c{i}",
                       text=f"{FILLER} {RELEVANT}") for i in range(k)]

    def lookup(self, question: str, k: int = 5) -> list[Source]:
        return []


@pytest.fixture
def fake_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    def reply(model: SlowModel, messages, settings=None, *, cancelled=lambda: False,
              mode="auto") -> Iterator[object]:
        model.sent.append(messages[-1].content)
        text = ("Four shift teams of three analysts staff the security operations center "
                "around the clock [1].")
        yield Token(text)
        yield Finished(text, GenerationStats(count(model.sent[-1]), 5, 0.1, 0.1, 0.2, "stop"))

    monkeypatch.setattr("core.drafting.draft.stream_reply", reply)


def _draft(model: SlowModel, first_token_s: float | None) -> DraftResult:
    events = list(stream_draft(model, "Staff the security operations center",
                               retriever=Retriever(), first_token_s=first_token_s))
    return events[-1].extra["draft"]  # type: ignore[union-attr]


def test_a_slow_machine_gets_fewer_focused_sources_and_a_fast_one_all(fake_reply: None) -> None:
    slow_model, fast_model = SlowModel(prefill_rate=250.0), SlowModel(prefill_rate=250.0)
    slow = _draft(slow_model, 1.5)
    budget = slow.checks["prompt_budget"]
    assert budget["limited"] and budget["tokens"] < 250 * 1.5
    assert all(RELEVANT in c.text and count(c.text) <= PASSAGE_TOKENS + 2
               for c in slow.citations)
    unlimited = _draft(fast_model, None)
    assert not unlimited.checks["prompt_budget"]["limited"]
    assert len(unlimited.citations) > len(slow.citations)
    assert count(slow_model.sent[0]) < count(fast_model.sent[0])
    remote = _draft(SlowModel(prefill_rate=None), 1.5)  # an endpoint: no rate known
    assert not remote.checks["prompt_budget"]["limited"]
    assert slow.checks["first_token_with_retrieval_s"] >= slow.checks["time_to_first_token_s"]


def test_a_pinned_rate_gives_every_model_the_same_prompt_whatever_it_measured(
        fake_reply: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluations pin the reading speed: two models that measured different rates, and a
    search that took different times, still read the same prompt."""
    prompts = []
    for measured, search_s in ((180.0, 0.01), (420.0, 0.25)):
        model = SlowModel(prefill_rate=measured)
        clock = itertools.chain([100.0, 100.0 + search_s], itertools.repeat(100.5))
        monkeypatch.setattr("core.drafting.draft.time.perf_counter", lambda c=clock: next(c))
        events = list(stream_draft(model, "Staff the security operations center",
                                   retriever=Retriever(), first_token_s=1.5, prefill_rate=300.0))
        result = events[-1].extra["draft"]  # type: ignore[union-attr]
        assert "300 tokens/s" in result.checks["prompt_budget"]["reason"]
        prompts.append(model.sent[0])
    assert prompts[0] == prompts[1]
    unpinned = [SlowModel(prefill_rate=rate) for rate in (180.0, 420.0)]
    for model in unpinned:
        list(stream_draft(model, "Staff the security operations center",
                          retriever=Retriever(), first_token_s=1.5))
    assert count(unpinned[0].sent[0]) < count(unpinned[1].sent[0])  # what pinning prevents


def test_rows_the_request_names_are_shown_without_their_descriptions_to_fit() -> None:
    """Two named labour categories whose descriptions would leave room for only one: both
    are shown, with their codes, names and rates, and keep every field for the table."""
    description = " ".join(["Builds and operates cloud landing zones, networking, identity."] * 4)
    rows = [Source(kind="reference_row", doc_id="t", title="Labor", ref_id=f"r{i}", score=14.0,
                   fields={"Code": code, "Labor category": name, "Description": description,
                           "Hourly rate (USD)": rate},
                   text=f"Code: {code}; Labor category: {name}; Description: {description}; "
                        f"Hourly rate (USD): {rate}")
            for i, (code, name, rate) in enumerate([("NAS-CA-02", "Cloud Engineer", "149.00"),
                                                    ("NAS-PM-02", "Deputy PM", "178.50")])]
    passages = [Source(doc_id=f"d{i}", title=f"Doc {i}", ref_id=f"c{i}",
                       text=f"{FILLER} {RELEVANT}") for i in range(3)]
    cited = number_sources([*rows, *passages])
    fitted = fit_citations(cited, "staff the cloud work", 200, count)
    shown = [c for c in fitted if c.kind == "reference_row"]
    assert [c.fields["Code"] for c in shown] == ["NAS-CA-02", "NAS-PM-02"]
    assert shown[0].text == "Code: NAS-CA-02; Labor category: Cloud Engineer; Hourly rate " \
                            "(USD): 149.00"
    assert shown[0].fields["Description"] == description  # the table still has it all
    roomy = fit_citations(cited, "staff the cloud work", 2000, count)
    assert description in roomy[0].text  # whole when they fit
