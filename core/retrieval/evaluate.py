"""Retrieval evaluation: recall@k and MRR of a question set, for each search mode.

A question file is JSON Lines: ``{"question": ..., "expected_source": ...,
"expected_text": ...}`` where ``expected_source`` is a document's source file name or a
suffix of its source path (``reference/labor-categories.csv``) and the optional
``expected_text`` a substring the retrieved passage must contain (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import validation_message
from core.ingest.model import DocumentRecord
from core.ingest.store import DocumentStore
from core.retrieval.embedder import load_embedder
from core.retrieval.search import SEARCH_MODES, SearchResult, search
from core.retrieval.store import RetrievalError, require_active
from core.workspace import Workspace


class EvalQuestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    question: str
    expected_source: str
    expected_text: str | None = None


class ModeScore(BaseModel):
    model_config = ConfigDict(frozen=True)
    mode: str
    k: int
    questions: int
    recall_at_k: float
    mrr: float
    ranks: tuple[int | None, ...]  # 1-based rank of the first relevant hit, per question


def read_questions(path: Path) -> list[EvalQuestion]:
    """Questions from a JSONL file; every bad line is reported at once."""
    questions, problems = [], []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RetrievalError(f"Cannot read the question file {path}: {error.strerror}.") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate_json(line))
        except ValidationError as error:
            problems.append(f"line {number}: "
                            + validation_message(error, "question").removeprefix(
                                "Invalid question: ").rstrip("."))
    if problems:
        raise RetrievalError(f"{path} has bad lines: {'; '.join(problems[:10])}.")
    if not questions:
        raise RetrievalError(f"{path} holds no questions.")
    return questions


def source_matches(record: DocumentRecord, version: int, expected: str) -> bool:
    """Whether ``expected`` names this document version's source file (a path suffix)."""
    try:
        source = record.version(version)
    except KeyError:
        return False
    want = PurePosixPath(expected.replace("\\", "/")).parts
    for candidate in (source.source_path, source.source_name):
        parts = PurePosixPath(candidate.replace("\\", "/")).parts
        if want and parts[-len(want):] == want:
            return True
    return False


def first_hit(results: Sequence[SearchResult], question: EvalQuestion,
              records: dict[str, DocumentRecord]) -> int | None:
    for rank, result in enumerate(results, 1):
        record = records.get(result.doc_id)
        if record is None or not source_matches(record, result.version, question.expected_source):
            continue
        if question.expected_text and question.expected_text.lower() not in result.text.lower():
            continue
        return rank
    return None


def evaluate(
    workspace: Workspace, questions_path: Path, k: int = 5,
    modes: Sequence[str] = SEARCH_MODES,
) -> dict[str, ModeScore]:
    """recall@k and MRR for each mode over the questions in ``questions_path``."""
    questions = read_questions(questions_path)
    generation = require_active(workspace)
    embedder = load_embedder(generation.settings.embedding_model)
    records = {r.id: r for r in DocumentStore(workspace).list(include_deleted=True)}
    scores: dict[str, ModeScore] = {}
    for mode in modes:
        ranks = [first_hit(search(workspace, q.question, k=k, mode=mode, embedder=embedder,
                                  generation=generation, use_reranker=False), q, records)
                 for q in questions]
        scores[mode] = ModeScore(
            mode=mode, k=k, questions=len(questions),
            recall_at_k=sum(r is not None for r in ranks) / len(ranks),
            mrr=sum(1.0 / r for r in ranks if r) / len(ranks), ranks=tuple(ranks),
        )
    return scores


def scores_json(scores: dict[str, ModeScore]) -> dict[str, Any]:
    return {mode: score.model_dump(mode="json") for mode, score in scores.items()}


__all__ = ["EvalQuestion", "ModeScore", "evaluate", "read_questions", "scores_json"]
