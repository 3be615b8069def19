"""Job ``eval-drafts``: draft held-out pairs with each model and score the drafts.

``evaluate_drafts`` is the plain function (the regression gate calls it too); the job wraps
it with progress (one step per draft), cancel, and a report saved under
``W/evaluations/drafts-<time>.json`` so the app can show the drafts side by side later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.evaluate import (
    DEFAULT_PAIRS,
    EvalPair,
    draft_pairs,
    heldout_pairs,
    read_pairs,
    score_model,
)
from core.fsutil import atomic_write_json
from core.jobs.progress import JobContext
from core.workspace import Workspace

REPORTS = "evaluations"


class EvalDraftsConfig(BaseModel):
    """Config of the ``eval-drafts`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    models: tuple[str, ...] = Field(default=(), description="GGUF model ids or paths "
                                    "(default: the bundled base and the newest model)")
    pairs_file: str | None = Field(default=None, description="JSONL of request/reference")
    dataset: str | None = Field(default=None, description="SFT dataset (default: newest)")
    limit: int = Field(default=DEFAULT_PAIRS, ge=1, le=200)
    max_tokens: int = Field(default=256, ge=16, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    first_token_s: float | None = Field(default=FIRST_TOKEN_S, gt=0)  # None: no target
    prefill_rate: float | None = Field(
        default=None, gt=0, description="tokens/s to size every prompt with (default: the "
        "first local model's, measured once, then kept for every model and draft)")
    retrieval: bool = True
    n_ctx: int = Field(default=2048, ge=512, le=131072)
    format: str = Field(default="auto", pattern="^(auto|chat|document)$")


def default_models(workspace: Workspace) -> tuple[str, ...]:
    """The bundled base GGUF and the model drafting uses by default, when different."""
    from core.generation.runtime import FALLBACK_MODEL, default_model_id
    from core.workspace.registry import ModelRegistry

    chosen = default_model_id(workspace)
    base = FALLBACK_MODEL if ModelRegistry(workspace).exists(FALLBACK_MODEL) else None
    return tuple(dict.fromkeys(m for m in (base, chosen) if m))


def report_paths(workspace: Workspace | None) -> list[Path]:
    """The saved draft-quality reports, newest first."""
    if workspace is None:
        return []
    return sorted((workspace.root / REPORTS).glob("drafts-*.json"), reverse=True)


def load_pairs(workspace: Workspace, config: EvalDraftsConfig) -> list[EvalPair]:
    if config.pairs_file:
        return read_pairs(Path(config.pairs_file))[:config.limit]
    return heldout_pairs(workspace, config.dataset, config.limit)


def _reference_values(workspace: Workspace) -> list[str]:
    from core.retrieval.reference import all_rows

    try:
        return [" ".join(row.fields.values()) for row in all_rows(workspace)]
    except Exception:  # noqa: BLE001  (no index yet: facts are checked against sources)
        return []


def _similarity() -> Callable[[str, str], float] | None:
    try:
        from core.retrieval.embedder import load_embedder

        embedder = load_embedder()
    except Exception:  # noqa: BLE001  (no embedding model: overlap only, said in report)
        return None

    def cosine(a: str, b: str) -> float:
        import numpy as np

        vectors = embedder.embed([a, b])
        x, y = np.asarray(vectors[0]), np.asarray(vectors[1])
        return float(x @ y / ((np.linalg.norm(x) * np.linalg.norm(y)) or 1.0))

    return cosine


def trained_on(workspace: Workspace, model_id: str) -> dict[str, Any]:
    """What a model (or any of its ancestors) was trained on: its datasets, and how many of
    their pairs a teacher model generated, so a report tells a base from a run on
    synthetic pairs."""
    from core.datasets import DatasetStore
    from core.workspace.registry import ModelRegistry

    if not ModelRegistry(workspace).exists(model_id):  # a .gguf path or an endpoint
        return {"datasets": [], "synthetic_pairs": 0, "teachers": []}
    store = DatasetStore(workspace)
    datasets = list(dict.fromkeys(d for m in ModelRegistry(workspace).lineage(model_id)
                                  for d in m.datasets))
    synthetic, teachers = 0, []
    for dataset in datasets:
        try:
            batches = store.get(dataset).sources.get("synthetic", {})
        except Exception:  # noqa: BLE001  (a dataset deleted since: the id is still shown)
            continue
        for batch in batches.values():
            synthetic += int(batch.get("pairs", 0))
            teachers.append(str(batch.get("teacher", "?")))
    return {"datasets": datasets, "synthetic_pairs": synthetic,
            "teachers": list(dict.fromkeys(teachers))}


def evaluate_drafts(workspace: Workspace, models: Sequence[str], pairs: Sequence[EvalPair],
                    config: EvalDraftsConfig,
                    progress: Callable[[int, int, str], None] = lambda *a: None,
                    cancelled: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Every model's drafts of ``pairs`` and their figures, as a JSON-able report."""
    from core.drafting.sources import WorkspaceRetriever
    from core.generation.model import GenerationSettings
    from core.generation.runtime import ModelCache
    from core.serving.backend import open_text_model

    settings = GenerationSettings(temperature=config.temperature, max_tokens=config.max_tokens,
                                  seed=config.seed)
    retriever = WorkspaceRetriever(workspace) if config.retrieval else None
    values = _reference_values(workspace)
    similarity = _similarity()
    total = len(models) * len(pairs)
    scores = []
    # One prompt budget for the whole evaluation: the rate measured when the first local
    # model loaded (or the one asked for), so that every model gets the same room for
    # sources and a rerun with that rate reads the same prompts again, whatever the load.
    rate = config.prefill_rate
    for index, name in enumerate(models):
        cache = ModelCache(n_ctx=config.n_ctx, capacity=1)
        try:  # a local GGUF, or a server (``endpoint:NAME`` or a URL): what analysts get
            model = open_text_model(workspace, name, cache, n_ctx=config.n_ctx)
            if rate is None and config.first_token_s is not None:
                measured = getattr(model, "prefill_rate", None)
                rate = round(measured, 1) if measured else None
            results = draft_pairs(
                model, pairs, retriever, settings, format=config.format,  # type: ignore[arg-type]
                first_token_s=config.first_token_s, prefill_rate=rate,
                progress=lambda done, message, i=index: progress(i * len(pairs) + done, total,
                                                                 message),
                cancelled=cancelled)
        finally:
            cache.close()
        scores.append({**score_model(name, results, pairs, values, similarity),
                       "trained_on": trained_on(workspace, name)})
    return {
        "created": now_iso(),
        "pairs": [p.model_dump(mode="json") for p in pairs],
        "settings": config.model_dump(mode="json"), "models": scores,
        "prompt_budget": {"first_token_s": config.first_token_s, "prefill_rate": rate,
                          "measured": config.prefill_rate is None and rate is not None},
        "similarity": "all-MiniLM-L6-v2 cosine" if similarity else None,
    }


def run_eval_drafts_job(config: EvalDraftsConfig, ctx: JobContext) -> dict[str, Any]:
    workspace = ctx.workspace()
    pairs = load_pairs(workspace, config)
    models = config.models or default_models(workspace)
    ctx.report(0, len(models) * len(pairs),
               f"drafting {len(pairs)} held-out requests with {len(models)} model(s)", force=True)

    def progress(done: int, total: int, message: str) -> None:
        ctx.check_cancelled()
        ctx.report(done, total, message)

    report = evaluate_drafts(workspace, models, pairs, config, progress, ctx.cancelled)
    ctx.check_cancelled()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = workspace.root / REPORTS / f"drafts-{stamp}.json"
    atomic_write_json(path, report)
    return {"report": str(path), "models": [
        {k: v for k, v in m.items() if k != "per_pair"} for m in report["models"]]}
