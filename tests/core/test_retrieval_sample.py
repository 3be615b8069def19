"""The shipped question set on the sample workspace: hybrid search is not worse than
vector-only or text-only search (recall@5), and every mode's scores are reported."""

from __future__ import annotations

import json

import pytest

from core.ingest.sample import sample_source
from core.retrieval.evaluate import evaluate, scores_json
from core.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_hybrid_is_not_worse_than_either_side_on_the_sample(
    sample_workspace: Workspace, record_property  # noqa: ANN001
) -> None:
    scores = evaluate(sample_workspace, sample_source() / "questions.jsonl", k=5)
    summary = {mode: (round(s.recall_at_k, 3), round(s.mrr, 3)) for mode, s in scores.items()}
    record_property("recall_at_5_and_mrr", json.dumps(summary))
    print("sample retrieval, recall@5 / MRR:", summary)
    hybrid, vector, text = scores["hybrid"], scores["vector"], scores["text"]
    assert hybrid.questions == 25
    assert hybrid.recall_at_k >= max(vector.recall_at_k, text.recall_at_k), summary
    assert hybrid.recall_at_k >= 0.8, summary
    assert json.loads(json.dumps(scores_json(scores)))["hybrid"]["k"] == 5
