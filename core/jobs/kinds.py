"""The kinds of job the child process can run.

Each kind names its config class and its function as import strings, so listing kinds
never imports torch. A job function is ``fn(config, ctx) -> dict`` (the result). Each kind
also says what its jobs change in the workspace (``changes``), so the app refreshes every
view of that data once, when such a job ends, whoever started it, and whether it is heavy
(uses every core, so it waits for its turn: ``core.jobs.slots``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, JobError, validation_message

Change = Literal["models", "documents", "index", "datasets", "releases"]


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    config: str  # "module:Class"
    function: str  # "module:function"
    changes: tuple[Change, ...] = ()  # what a job of this kind may change, even if it fails
    result: str = "JobResult"  # its result model in core.jobs.results
    heavy: bool = True  # uses every core: waits for its turn (core.jobs.slots)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "import-base-model",
            "Import the bundled base model",
            "core.models.bundled:ImportBaseConfig",
            "core.models.bundled:run_import_job",
            ("models",),
        ),
        JobKind(
            "check-model",
            "Check what a model folder or GGUF file can go through (reads headers only)",
            "core.modelstore.check:CheckModelConfig",
            "core.modelstore.check:run_check_job",
            heavy=False,
        ),
        JobKind(
            "import-model",
            "Import a base model (a Hugging Face folder or a GGUF file)",
            "core.modelstore.importer:ImportModelConfig",
            "core.modelstore.importer:run_import_model_job",
            ("models",),
        ),
        JobKind(
            "import-documents",
            "Import documents",
            "core.ingest.job:ImportConfig",
            "core.retrieval.intake:run_import_job",
            ("documents", "index"),
            result="ImportResult",
        ),
        JobKind(
            "train",
            "Fine-tune a model (LoRA: CPT, SFT, DPO, ORPO)",
            "core.training.config:TrainConfig",
            "core.training.job:run_train_job",
            ("models",),
            result="TrainResult",
        ),
        JobKind(
            "index-documents",
            "Index documents for retrieval",
            "core.retrieval.index:IndexDocumentsConfig",
            "core.retrieval.index:run_index_job",
            ("index",),
        ),
        JobKind(
            "build-dataset",
            "Build a training dataset (CPT, SFT or preferences)",
            "core.datasets.model:BuildDatasetConfig",
            "core.datasets.job:run_build_job",
            ("datasets",),
            heavy=False,
        ),
        JobKind(
            "probe-training",
            "Measure a training config on this machine (a few real steps)",
            "core.training.probe:ProbeConfig",
            "core.training.probe:run_probe_job",
        ),
        JobKind(
            "synthesize-pairs",
            "Generate instruction pairs from documents with a local teacher model",
            "core.synth.job:SynthConfig",
            "core.synth.job:run_synth_job",
            ("datasets",),
        ),
        JobKind(
            "merge",
            "Merge models (linear, SLERP, TIES, DARE-TIES, task arithmetic)",
            "core.merging.config:MergeConfig",
            "core.merging.job:run_merge_job",
            ("models",),
            result="MergeResult",
        ),
        JobKind(
            "adapt",
            "Retrain on what changed, export and compare with the deployed release",
            "core.adaptation.pipeline:AdaptRunConfig",
            "core.adaptation.pipeline:run_adapt_job",
            ("models", "datasets", "index", "releases"),
        ),
        JobKind(
            "export",
            "Export a model to GGUF and quantize it",
            "core.export.config:ExportConfig",
            "core.export.job:run_export_job",
            ("models",),
            result="ExportResult",
        ),
        JobKind(
            "eval-drafts",
            "Evaluate draft quality (echo, citations, facts, similarity)",
            "core.drafting.eval_job:EvalDraftsConfig",
            "core.drafting.eval_job:run_eval_drafts_job",
            result="EvalDraftsResult",
        ),
        JobKind(
            "compare-models",
            "Compare models on prompts",
            "core.training.compare:CompareConfig",
            "core.training.compare:run_compare_job",
            result="CompareResult",
        ),
        JobKind(
            "evaluate-models",
            "Held-out perplexity of models on datasets",
            "core.training.compare:EvaluateConfig",
            "core.training.compare:run_evaluate_job",
            result="EvaluateResult",
        ),
        JobKind(
            "populate-sample",
            "Import the sample documents",
            "core.ingest.sample_config:PopulateSampleConfig",
            "core.retrieval.intake:run_populate_sample_job",
            ("documents", "index"),
        ),
        JobKind(
            "draft-proposal",
            "Draft a proposal for an RFP",
            "core.drafting.job:DraftProposalConfig",
            "core.drafting.job:run_proposal_job",
            heavy=False,
        ),
        JobKind(
            "demo",
            "The guided demo: every stage on the sample workspace",
            "core.demo.pipeline:DemoConfig",
            "core.demo.pipeline:run_demo_job",
            ("models", "documents", "datasets", "index", "releases"),
        ),
        JobKind(
            "selftest",
            "Job system self-test",
            "core.jobs.selftest:SelfTestConfig",
            "core.jobs.selftest:run_selftest",
            heavy=False,
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
        raise ConfigError(validation_message(error, f"{kind} config")) from error


def check_result(kind: str, result: dict[str, Any]) -> None:
    """Raise ``JobError`` when a job's result is not of its kind's declared shape (a bug)."""
    from core.jobs import results

    model: type[BaseModel] = getattr(results, get_kind(kind).result)
    try:
        model.model_validate(result)
    except ValidationError as error:
        raise JobError(validation_message(error, f"{kind} result")) from error


def job_function(kind: str) -> Callable[..., dict[str, Any]]:
    return _load(get_kind(kind).function)
