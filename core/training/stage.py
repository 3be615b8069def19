"""Train one stage of the pipeline on the workspace as it is now: build the stage's dataset
from the workspace (text for continued pre-training, pairs for instruction tuning,
analysts' feedback for preference training), then train a LoRA adapter on it, continuing
an earlier stage's adapter when given one.

The guided demo and the adaptation pipeline (retraining on new documents) both run their
stages through ``train_stage``; the training wizard builds its dataset and config step by
step instead, so the analyst can see and change each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.jobs.progress import JobContext
from core.workspace import Workspace

# The document kinds continued pre-training reads (reference tables are looked up, not
# learnt).
TEXT_KINDS = ("rfp", "proposal", "other")


@dataclass(frozen=True)
class StageRun:
    model_id: str  # the adapter registered for the stage
    dataset: str  # the dataset it was trained on
    metrics: dict[str, Any]  # the training job's metrics
    notes: tuple[str, ...] = ()  # what the job said of its settings (max_length, loss path)


def train_stage(workspace: Workspace, recipe: str, ctx: JobContext, *, base: str,
                init_adapter: str | None = None, preset: str = "quick",
                overrides: Sequence[str] = (), seed: int = 0, seq_len: int = 512,
                documents: Sequence[str] = ()) -> StageRun:
    """Build the dataset ``recipe`` trains on (continued pre-training reads ``documents``,
    all text documents when empty) and train it from ``base`` (continuing
    ``init_adapter``); the preset's settings, changed by ``overrides``."""
    from core.datasets.build import build_dataset
    from core.datasets.model import BuildDatasetConfig
    from core.training.config import DATASET_KIND, build_config
    from core.training.job import run_training

    kind = DATASET_KIND[recipe]
    ctx.report(0, 1, f"building the {kind} dataset", force=True)
    values: dict[str, Any] = {"kind": kind, "model": base, "seed": seed}
    if kind == "cpt":
        values.update(seq_len=seq_len, documents=tuple(documents), document_kinds=TEXT_KINDS)
    dataset = build_dataset(workspace, BuildDatasetConfig(**values)).record.id
    config = build_config(recipe, preset=preset, base=base, dataset=dataset,
                          overrides=[*overrides, "resume=false"],
                          extra={"init_adapter": init_adapter} if init_adapter else None)
    result = run_training(config, ctx)
    return StageRun(model_id=str(result["model_id"]), dataset=dataset,
                    metrics=dict(result["metrics"]), notes=tuple(result.get("notes") or ()))
