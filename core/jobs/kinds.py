"""The kinds of job the child process can run.

Each kind names its config class and its function as import strings, so listing kinds
never imports torch. A job function is ``fn(config, ctx) -> dict`` (the result).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, JobError


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    config: str  # "module:Class"
    function: str  # "module:function"


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "import-base-model",
            "Import the bundled base model",
            "core.models.bundled:ImportBaseConfig",
            "core.models.bundled:run_import_job",
        ),
        JobKind(
            "import-documents",
            "Import documents",
            "core.ingest.job:ImportConfig",
            "core.ingest.job:run_import_job",
        ),
        JobKind(
            "train",
            "Fine-tune a model (LoRA: CPT, SFT, DPO, ORPO)",
            "core.training.config:TrainConfig",
            "core.training.job:run_train_job",
        ),
        JobKind(
            "index-documents",
            "Index documents for retrieval",
            "core.retrieval.index:IndexDocumentsConfig",
            "core.retrieval.index:run_index_job",
        ),
        JobKind(
            "build-dataset",
            "Build a training dataset (CPT, SFT or preferences)",
            "core.datasets.model:BuildDatasetConfig",
            "core.datasets.job:run_build_job",
        ),
        JobKind(
            "merge",
            "Merge models (linear, SLERP, TIES, DARE-TIES, task arithmetic)",
            "core.merging.config:MergeConfig",
            "core.merging.job:run_merge_job",
        ),
        JobKind(
            "adapt",
            "Retrain on what changed, export and compare with the deployed release",
            "core.adaptation.pipeline:AdaptRunConfig",
            "core.adaptation.pipeline:run_adapt_job",
        ),
        JobKind(
            "export",
            "Export a model to GGUF and quantize it",
            "core.export.config:ExportConfig",
            "core.export.job:run_export_job",
        ),
        JobKind(
            "eval-drafts",
            "Evaluate draft quality (echo, citations, facts, similarity)",
            "core.drafting.eval_job:EvalDraftsConfig",
            "core.drafting.eval_job:run_eval_drafts_job",
        ),
        JobKind(
            "compare-models",
            "Compare models on prompts",
            "core.training.compare:CompareConfig",
            "core.training.compare:run_compare_job",
        ),
        JobKind(
            "evaluate-models",
            "Held-out perplexity of models on datasets",
            "core.training.compare:EvaluateConfig",
            "core.training.compare:run_evaluate_job",
        ),
        JobKind(
            "populate-sample",
            "Import the sample documents",
            "core.workspace.sample_config:PopulateSampleConfig",
            "core.workspace.sample:run_populate_job",
        ),
        JobKind(
            "draft-proposal",
            "Draft a proposal for an RFP",
            "core.drafting.job:DraftProposalConfig",
            "core.drafting.job:run_proposal_job",
        ),
        JobKind(
            "demo",
            "The guided demo: every stage on the sample workspace",
            "core.demo.pipeline:DemoConfig",
            "core.demo.pipeline:run_demo_job",
        ),
        JobKind(
            "selftest",
            "Job system self-test",
            "core.jobs.selftest:SelfTestConfig",
            "core.jobs.selftest:run_selftest",
        ),
    )
}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def get_kind(name: str) -> JobKind:
    if name not in KINDS:
        raise JobError(f"Unknown job kind {name!r} (known: {', '.join(sorted(KINDS))}).")
    return KINDS[name]


def validate_config(kind: str, raw: dict[str, Any]) -> BaseModel:
    """Validate a raw config for ``kind``; every problem is reported at once."""
    config_class: type[BaseModel] = _load(get_kind(kind).config)
    try:
        return config_class.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"Invalid {kind} config: {problems}.") from error


def job_function(kind: str) -> Callable[..., dict[str, Any]]:
    return _load(get_kind(kind).function)
