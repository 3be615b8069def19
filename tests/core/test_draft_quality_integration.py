"""Draft quality with the real bundled model on the sample workspace (slow): the base model
is prompted as a document, no delivered draft echoes the prompt, citations are supported,
figures no source bears out are marked, and eval-drafts runs from the CLI as a job."""

from __future__ import annotations

import json

import pytest

from core.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
BASE = "gemma3-270m-q4km"


def test_base_model_drafts_have_no_echo_and_supported_citations(
        sample_workspace: Workspace) -> None:
    from core.drafting.eval_job import EvalDraftsConfig, evaluate_drafts
    from core.drafting.evaluate import heldout_pairs

    pairs = heldout_pairs(sample_workspace, limit=3)  # no SFT dataset: from paired documents
    assert pairs and all(p.exclude for p in pairs)
    report = evaluate_drafts(sample_workspace, [BASE], pairs,
                             EvalDraftsConfig(limit=3, max_tokens=160))
    scores = report["models"][0]
    assert scores["format"] == ["document"]  # a pretrained base model continues a document
    assert scores["echo_rate"] == 0
    assert scores["citation_validity"] is None or scores["citation_validity"] >= 0.9
    for row in scores["per_pair"]:  # a figure no source bears out is marked, never passed off
        assert set(row["unmatched_facts"]) <= set(row["unverified_facts"])
        for fact in row["unverified_facts"]:
            assert f"[unverified: {fact}]" in row["text"]
        assert "<sources>" not in row["text"] and "<start_of_turn>" not in row["text"]
        assert row["status"] == "failed" or len(row["text"].split()) >= 12
    assert scores["rouge_l"] is not None and report["similarity"]


def test_eval_drafts_from_the_cli(sample_workspace: Workspace, tmp_path,  # noqa: ANN001
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({
        "request": "Describe how our security operations center keeps analysts on the floor "
                   "at all times.",
        "reference": "Four shift teams work 12-hour shifts so that three analysts are always "
                     "on the floor."}) + "\n", encoding="utf-8")
    code = main(["eval-drafts", "-w", str(sample_workspace.root), "--models", BASE,
                 "--pairs", str(pairs), "--max-tokens", "64", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    (model,) = report["models"]
    assert model["model"] == BASE and model["drafts"] == 1
    assert model["per_pair"][0]["format"] == "document"
    assert list((sample_workspace.root / "evaluations").glob("drafts-*.json"))
