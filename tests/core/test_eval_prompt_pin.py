"""eval-drafts sizes every prompt at one reading speed: measured once when the first local
model loads (or given), so base and tuned read the same prompts and a rerun can too."""

from __future__ import annotations

from typing import Any

import pytest

from core.drafting.eval_job import EvalDraftsConfig, evaluate_drafts
from core.drafting.eval_report import format_report
from core.drafting.evaluate import EvalPair
from core.workspace import Workspace


class Measured:
    """A loaded model as eval-drafts sees it: a name and the rate it measured on load."""

    def __init__(self, name: str, prefill_rate: float | None) -> None:
        self.name, self.prefill_rate = name, prefill_rate


@pytest.fixture
def drafted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float | None]]:
    rates = {"endpoint:remote": None, "base": 401.27, "tuned": 233.0}
    calls: list[tuple[str, float | None]] = []

    def draft_pairs(model: Measured, pairs: Any, retriever: Any, settings: Any,
                    **options: Any) -> list[object]:
        calls.append((model.name, options["prefill_rate"]))
        return []

    monkeypatch.setattr("core.serving.backend.open_text_model",
                        lambda workspace, name, cache, n_ctx: Measured(name, rates[name]))
    monkeypatch.setattr("core.drafting.eval_job.draft_pairs", draft_pairs)
    monkeypatch.setattr("core.drafting.eval_job.score_model",
                        lambda name, *a: {"model": name, "format": [], "per_pair": []})
    monkeypatch.setattr("core.drafting.eval_job._similarity", lambda: None)
    return calls


PAIRS = [EvalPair(request="Write the staffing plan.", reference="Four shift teams.")]


def test_the_first_measured_rate_sizes_every_models_prompts(
        workspace: Workspace, drafted: list[tuple[str, float | None]]) -> None:
    config = EvalDraftsConfig(retrieval=False)
    report = evaluate_drafts(workspace, ["endpoint:remote", "base", "tuned"], PAIRS, config)
    # the endpoint comes first and measures nothing; the base's rate holds from then on
    assert drafted == [("endpoint:remote", None), ("base", 401.3), ("tuned", 401.3)]
    assert report["prompt_budget"] == {"first_token_s": 1.5, "prefill_rate": 401.3,
                                       "measured": True}
    assert "--prefill-rate 401.3 drafts from the same prompts again" in format_report(report)


def test_a_given_rate_replays_an_earlier_evaluations_prompts(
        workspace: Workspace, drafted: list[tuple[str, float | None]]) -> None:
    config = EvalDraftsConfig(retrieval=False, prefill_rate=612.5)
    report = evaluate_drafts(workspace, ["base", "tuned"], PAIRS, config)
    assert drafted == [("base", 612.5), ("tuned", 612.5)]
    assert report["prompt_budget"]["measured"] is False
    assert "at 612.5 tokens/s (as asked)" in format_report(report)


def test_without_a_first_token_target_nothing_is_pinned(
        workspace: Workspace, drafted: list[tuple[str, float | None]]) -> None:
    report = evaluate_drafts(workspace, ["base"], PAIRS,
                             EvalDraftsConfig(retrieval=False, first_token_s=None))
    assert drafted == [("base", None)]
    assert "as many sources as fit the context window" in format_report(report)
