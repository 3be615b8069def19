"""Retrieval evaluation: recall@k and MRR per mode; hybrid is not worse than either side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from retrieval_corpus import QUESTIONS, build_corpus

from core.retrieval.evaluate import evaluate, read_questions, source_matches
from core.retrieval.index import update_index
from core.retrieval.store import RetrievalError
from core.workspace import Workspace


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    folder = tmp_path_factory.mktemp("eval")
    workspace = Workspace.create(folder / "ws")
    build_corpus(workspace, folder / "corpus")
    update_index(workspace)
    questions = folder / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return workspace, questions


def test_hybrid_is_not_worse_than_vector_or_text(indexed: tuple[Workspace, Path]) -> None:
    workspace, questions = indexed
    scores = evaluate(workspace, questions, k=3)
    assert set(scores) == {"hybrid", "vector", "text"}
    hybrid, vector, text = scores["hybrid"], scores["vector"], scores["text"]
    assert hybrid.questions == len(QUESTIONS) and len(hybrid.ranks) == len(QUESTIONS)
    assert hybrid.recall_at_k >= max(vector.recall_at_k, text.recall_at_k)
    assert hybrid.recall_at_k >= 0.9
    assert hybrid.mrr >= 0.7
    for score in scores.values():
        hits = [r for r in score.ranks if r]
        assert score.recall_at_k == pytest.approx(len(hits) / len(QUESTIONS))
        assert score.mrr == pytest.approx(sum(1 / r for r in hits) / len(QUESTIONS))


def test_expected_source_matches_a_path_suffix(indexed: tuple[Workspace, Path]) -> None:
    from core.ingest.store import DocumentStore

    workspace, _ = indexed
    record = next(r for r in DocumentStore(workspace).list() if r.title == "Labor categories")
    assert source_matches(record, 1, "reference/labor-categories.csv")
    assert source_matches(record, 1, "labor-categories.csv")
    assert not source_matches(record, 1, "categories.csv")
    assert not source_matches(record, 1, "other/labor-categories.csv")
    assert not source_matches(record, 2, "labor-categories.csv")


def test_bad_question_files_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "x"}\nnot json\n')
    with pytest.raises(RetrievalError, match="line 1.*line 2"):
        read_questions(path)
    path.write_text("\n")
    with pytest.raises(RetrievalError, match="no questions"):
        read_questions(path)
    with pytest.raises(RetrievalError, match="Cannot read"):
        read_questions(tmp_path / "missing.jsonl")


def test_a_bad_question_file_names_the_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Who staffs the SOC?"}\n\n{"expected_source": "x.md"}\n',
                    encoding="utf-8")
    with pytest.raises(RetrievalError, match=r"line 1: expected_source: Field required; "
                                              r"line 3: question: Field required"):
        read_questions(path)
