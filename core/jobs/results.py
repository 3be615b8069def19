"""What each kind of job returns, as types: the job's function returns a plain dict (kept
as is in ``status.json``), the child process checks it against the kind's result model
(``JobKind.result``) and readers ask ``result_of(status, Model)`` instead of reading keys.

Results may carry more than their model names (``extra="allow"``): a reader relies only on
the fields declared here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from core.jobs.store import JobStatus


class JobResult(BaseModel):
    """Any job's result (a kind that declares nothing more)."""

    model_config = ConfigDict(frozen=True, extra="allow")


class TrainResult(JobResult):
    model_id: str
    parents: list[str] = []
    merged_id: str | None = None
    metrics: dict[str, float | None] = {}  # heldout_ppl_before/after, steps, seconds, …
    notes: list[str] = []


class MergeResult(JobResult):
    model_id: str
    parents: list[str] = []
    method: str = ""
    base: str | None = None
    tensors: int = 0


class ExportResult(JobResult):
    model: str
    quants: list[str] = []  # the types made (asked for, or by the model's size)
    f16_perplexity: float | None = None
    tokens_scored: int = 0
    outputs: list[dict[str, Any]] = []  # one per quantization: model_id, label, verified, …
    adaptation: dict[str, Any] = {}
    recommended: dict[str, str] = {}  # quantization → the GGUF to use instead
    verified: bool = False
    usable: bool = False
    warnings: list[str] = []


class CompareResult(JobResult):
    prompts: list[str]
    outputs: dict[str, list[str]]  # model id → one answer per prompt


class EvaluateResult(JobResult):
    perplexity: dict[str, dict[str, float]]  # model id → dataset id → held-out perplexity


class ImportResult(JobResult):
    files: list[dict[str, Any]] = []  # path, status, message, warnings
    summary: dict[str, int] = {}  # status → count
    index: dict[str, Any] = {}  # what updating the knowledge base changed (indexed, …)
    index_error: str | None = None  # why it could not be updated (the import stands)


class EvalDraftsResult(JobResult):
    report: str  # the report's path (W/evaluations/drafts-*.json)
    models: list[dict[str, Any]] = []


R = TypeVar("R", bound=JobResult)


def result_of(status: JobStatus | None, model: type[R]) -> R | None:
    """The succeeded job's result as ``model``; None for a job that did not succeed or
    whose result is not of that shape."""
    if status is None or status.state != "succeeded":
        return None
    try:
        return model.model_validate(status.result)
    except ValidationError:
        return None
