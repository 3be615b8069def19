"""The retraining run (job kind ``adapt``): new data plus replay, the last release's
stages, export, the regression gate — one job, one progress bar.

1. what changed since the deployed release (reference tables are indexed at once);
2. a CPT dataset of the new and changed text documents plus a replay sample of the
   documents the release was trained on (``replay_ratio`` earlier tokens per new token,
   so the model does not forget them);
3. the training stages of the deployed release (CPT, then SFT, then DPO/ORPO when it
   had them), each continuing from the previous stage; the first continues from the
   release's adapter or starts fresh from the base (``start``);
4. export of the last adapter (merged into its base) to one quantized GGUF (or Q8_0
   when that type rounds the adaptation away: ``core.export.gain``);
5. the regression gate against the deployed release; with ``promote`` the candidate is
   released when the gate passes.

Each stage runs in its own folder under the job's folder; progress is reported as one
bar over all stages.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.adaptation.changes import check_for_update, load_policy, trained_versions
from core.adaptation.gate import run_gate
from core.errors import ConfigError
from core.ingest.store import DocumentStore
from core.jobs.progress import JobContext
from core.jobs.stages import STEPS, StageContext
from core.training.stage import TEXT_KINDS, train_stage
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry
from core.workspace.releases import promote, read_releases_quietly

Stage = Literal["cpt", "sft", "dpo", "orpo"]
DEFAULT_BASE = "gemma3-270m"
DEFAULT_STAGES: tuple[Stage, ...] = ("cpt", "sft")


class AdaptRunConfig(BaseModel):
    """Config of the ``adapt`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    base: str | None = Field(
        default=None, description="base model (default: the release's, else the bundled one)")
    start: Literal["adapter", "base"] = Field(
        default="adapter", description="continue from the release's adapter, or from the base")
    stages: tuple[Stage, ...] | None = Field(
        default=None, description="training stages (default: those of the deployed release)")
    replay_ratio: float | None = Field(default=None, ge=0.0, le=4.0,
                                       description="default: the workspace policy's")
    preset: str = "quick"
    training_overrides: tuple[str, ...] = Field(
        default=(), description="key=value settings applied to every stage")
    seq_len: int = Field(default=256, ge=16, le=8192, description="tokens per CPT row")
    quant: str | None = None  # GGUF type (default: by the model's size, core.export.config)
    pre_tokenizer: str | None = Field(
        default=None, description="llama.cpp pre-tokenizer name, for tokenizers it cannot tell")
    promote: bool = Field(default=False, description="release the candidate if the gate passes")
    tolerance: float | None = Field(default=None, ge=0.0, le=1.0)
    seed: int = 42


def release_plan(workspace: Workspace, deployed: str | None) -> dict[str, Any]:
    """The deployed release's base, adapter and training stages (oldest stage first)."""
    if deployed is None:
        return {"base": DEFAULT_BASE, "adapter": None, "stages": DEFAULT_STAGES}
    lineage = ModelRegistry(workspace).lineage(deployed)
    adapters = [r for r in lineage if r.kind == "adapter"]
    bases = [r for r in lineage if r.kind == "base"]
    stages = tuple(dict.fromkeys(
        str(r.config.get("recipe")) for r in reversed(adapters)
        if r.config.get("recipe") in ("cpt", "sft", "dpo", "orpo")))
    return {"base": bases[0].id if bases else DEFAULT_BASE,
            "adapter": adapters[0].id if adapters else None,
            "stages": stages or DEFAULT_STAGES}


def choose_documents(workspace: Workspace, new: list[str], trained: dict[str, int],
                     new_tokens: int, ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """The new documents, and a random replay sample of earlier ones worth about
    ``ratio × new_tokens`` tokens (whole documents)."""
    store = DocumentStore(workspace)
    earlier = [r for r in store.list() if r.id in trained and r.id not in new
               and r.kind in TEXT_KINDS]
    random.Random(seed).shuffle(earlier)
    budget, replay = ratio * new_tokens, []
    for record in earlier:
        if budget <= 0:
            break
        replay.append(record.id)
        budget -= (record.latest.characters + 3) // 4
    return new, replay


def run_adaptation(workspace: Workspace, config: AdaptRunConfig,
                   ctx: JobContext) -> dict[str, Any]:
    """The whole retraining run; returns the candidate, its lineage and the gate."""
    policy = load_policy(workspace)
    ratio = policy.replay_ratio if config.replay_ratio is None else config.replay_ratio
    ctx.report(0, STEPS, "checking what changed", force=True)
    check = check_for_update(workspace)
    book = read_releases_quietly(workspace)
    deployed = check.reference_model
    plan = release_plan(workspace, deployed)
    stages = config.stages or plan["stages"]
    new = [c.document_id for c in check.text_changes if c.change != "removed"]
    if "cpt" in stages and not new:
        raise ConfigError("There is no new or changed text to train on since the deployed "
                          "release.", hint="import the new documents first, or choose stages "
                          "without cpt to re-run alignment only")
    trained = trained_versions(workspace, deployed) if deployed else {}
    new_ids, replay = choose_documents(workspace, new, trained, check.new_tokens, ratio,
                                       config.seed)
    steps = [*stages, "export", "gate"]
    count = len(steps)
    init = plan["adapter"] if config.start == "adapter" else None
    base = config.base or plan["base"]
    adapters: list[str] = []
    datasets: dict[str, str] = {}
    for index, stage in enumerate(stages):
        ctx.check_cancelled()
        stage_ctx = StageContext(ctx, ctx.job_dir / f"{index + 1}-{stage}", index, count, stage)
        run = train_stage(workspace, stage, stage_ctx, base=base, init_adapter=init,
                          preset=config.preset, overrides=config.training_overrides,
                          seed=config.seed, seq_len=config.seq_len,
                          documents=new_ids + replay)
        init = run.model_id
        datasets[stage] = run.dataset
        adapters.append(init)
        ctx.log(f"{stage}: adapter {init} on dataset {datasets[stage]}")
    if init is None:
        raise ConfigError("No training stage ran, so there is no candidate to export.")
    ctx.check_cancelled()
    from core.export import parse_export_config
    from core.export.job import export_model

    export_ctx = StageContext(ctx, ctx.job_dir / "export", len(stages), count, "export")
    export: dict[str, Any] = {"model": init, "quants": [config.quant] if config.quant else []}
    if config.pre_tokenizer:
        export["pre_tokenizer"] = config.pre_tokenizer
    exported = export_model(workspace, parse_export_config(export), export_ctx)
    # the file of that type, or the more precise one the export fell back on to keep the gain
    candidate = exported["recommended"][config.quant or exported["quants"][0]]
    for warning in exported["warnings"]:
        ctx.log(f"export: {warning}", level="warning")
    ctx.check_cancelled()
    ctx.report(int((count - 1) / count * STEPS), STEPS,
               f"{count}/{count} gate: comparing with the deployed release", force=True)
    tolerance = policy.tolerance if config.tolerance is None else config.tolerance
    gate = run_gate(workspace, candidate, tolerance=tolerance)
    released = None
    if config.promote and gate["passed"]:
        released = promote(workspace, candidate, gate=gate).version
    ctx.report(STEPS, STEPS, "done", force=True)
    workspace.audit.record("adapt.run", candidate=candidate, deployed=deployed,
                           stages=list(stages), new_documents=len(new_ids),
                           replay_documents=len(replay), gate=gate["passed"],
                           released=released)
    return {"candidate": candidate, "deployed": deployed,
            "deployed_release": book.deployed if book else None,
            "stages": list(stages), "adapters": adapters, "datasets": datasets,
            "new_documents": new_ids, "replay_documents": replay,
            "replay_ratio": ratio, "gate": gate, "released": released,
            "export_warnings": exported["warnings"]}


def run_adapt_job(config: AdaptRunConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``adapt``."""
    return run_adaptation(ctx.workspace(), config, ctx)
