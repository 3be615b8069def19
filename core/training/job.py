"""The ``train`` job: plan, check, run a recipe, evaluate, register the result.

Checkpoints go to ``runs/<job>/checkpoints``; a checkpoint is trusted only with its
completion marker. ``resume: <run id>`` continues from that run's newest complete
checkpoint; ``resume: true`` picks the newest unfinished run of the same recipe, base and
dataset that has one. On success the adapter (safetensors) is registered with its
lineage, config, dataset, documents and metrics, and the config is written beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.errors import ConfigError, JobCancelled
from core.fsutil import atomic_write_yaml, require_free_space
from core.jobs.progress import JobContext
from core.jobs.store import JobStore
from core.training import distributed
from core.training.checkpoints import discard_incomplete, latest_complete
from core.training.config import TrainConfig
from core.training.estimate import lora_parameters, model_shape
from core.training.evaluate import heldout_loss, perplexity
from core.training.lengths import resolve_max_length
from core.training.modeling import placement
from core.training.outcome import TrainOutcome
from core.training.recipes import recipe_class
from core.training.recipes.common import RunState, save_merged
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry, new_model_id

CHECKPOINTS = "checkpoints"
CONFIG_FILE = "train_config.yaml"


def checkpoints_dir(workspace: Workspace, run_id: str) -> Path:
    return workspace.root / "runs" / run_id / CHECKPOINTS


def find_resume_checkpoint(workspace: Workspace, config: TrainConfig,
                           current_run: str) -> Path | None:
    """The checkpoint to resume from, or None (``resume: false``)."""
    if config.resume is False:
        return None
    if isinstance(config.resume, str):
        folder = checkpoints_dir(workspace, config.resume)
        if not (workspace.root / "runs" / config.resume).is_dir():
            raise ConfigError(f"resume: there is no run {config.resume!r} in this workspace.")
        discard_incomplete(folder)
        found = latest_complete(folder)
        if found is None:
            raise ConfigError(f"resume: run {config.resume!r} has no complete checkpoint.")
        return found
    store = JobStore(workspace)
    for status in sorted(store.list(), key=lambda s: s.created, reverse=True):
        if status.id == current_run or status.kind != "train" or status.state == "succeeded":
            continue
        try:
            _, raw = store.config(status.id)
        except Exception:  # noqa: BLE001 - an unreadable old run is just not a candidate
            continue
        if all(raw.get(k) == getattr(config, k) for k in ("recipe", "base", "dataset")):
            folder = checkpoints_dir(workspace, status.id)
            discard_incomplete(folder)
            found = latest_complete(folder)
            if found is not None:
                return found
    return None


def estimate_checkpoint_bytes(trainable: int, total: int, config: TrainConfig) -> int:
    """Disk a run needs: checkpoints (adapter + two Adam moments), adapter, merged model."""
    per_checkpoint = trainable * 4 * 3 + (8 << 20)  # fp32 weights + moments, tokenizer etc.
    need = per_checkpoint * (config.keep_checkpoints + 1) + trainable * 4
    if config.merge_full_model:
        need += total * 4
    return need


def _record(config: TrainConfig, state: RunState, kind: str, parents: tuple[str, ...],
            metrics: dict[str, float], run_id: str, fmt: str) -> ModelRecord:
    base = state.source.record
    name = config.name or f"{base.name if base else config.base} + {config.recipe.upper()}"
    return ModelRecord(
        id="pending", name=name if kind == "adapter" else f"{name} (merged)", kind=kind,
        architecture=base.architecture if base else type(state.model).__name__,
        model_type=base.model_type if base else "",
        parameters=base.parameters if base else 0,
        format=fmt, parents=parents,
        config={**config.to_yaml_dict(), "run": run_id},
        documents=state.data.documents, datasets=(config.dataset,),
        metrics=metrics, source=f"train job {run_id} ({config.recipe})",
    )


def run_training(config: TrainConfig, ctx: JobContext, *,
                 trained_elsewhere: bool = False) -> dict[str, Any]:
    """Run one training job end to end; returns ids and metrics.

    ``trained_elsewhere``: the ranks were started outside this process (a cluster
    bundle's torchrun or Slurm step); evaluate and register what they left.
    """
    workspace = ctx.workspace()
    config, length_note = resolve_max_length(config, workspace)
    if length_note:
        ctx.log(length_note)
    run_id = ctx.job_dir.name
    output_dir = ctx.job_dir / CHECKPOINTS
    discard_incomplete(output_dir)
    resume_from = find_resume_checkpoint(workspace, config, run_id)
    nproc = 1 if trained_elsewhere else distributed.resolve_nproc(config)
    recipe = recipe_class(config.recipe)(config, ctx, workspace, output_dir)
    try:
        if resume_from:
            ctx.log(f"resuming from {resume_from.parent.parent.name}/{resume_from.name}")
        outcome: TrainOutcome | None = None
        if trained_elsewhere:
            outcome, nproc = distributed.read_outcome(ctx.job_dir)
            _raise_if_cancelled(outcome, run_id)
        elif nproc > 1:  # the ranks train; this process evaluates and registers
            shape = model_shape(workspace, config.base)  # checked before the ranks start
            require_free_space(ctx.job_dir, estimate_checkpoint_bytes(
                lora_parameters(shape, config.lora.r), shape.parameters, config),
                "training checkpoints")
            outcome = distributed.launch(config, ctx, nproc, placement(config).device,
                                         resume_from)
            _raise_if_cancelled(outcome, run_id)
        state = recipe.setup()
        trainable, total = state.model.get_nb_trainable_parameters()
        require_free_space(ctx.job_dir, estimate_checkpoint_bytes(trainable, total, config),
                           "training checkpoints")
        rows, kind = state.data.heldout, state.data.kind
        has_heldout = rows is not None and len(rows) > 0
        before = (heldout_loss(state.model, state.tokenizer, rows, kind, config.max_length,
                               config.eval_samples)[0] if has_heldout else float("nan"))
        ctx.check_cancelled()
        if outcome is None:
            outcome = recipe.train(resume_from)
            _raise_if_cancelled(outcome, run_id)
        else:
            distributed.load_trained_adapter(
                state.model, distributed.folder(ctx.job_dir) / distributed.ADAPTER)
        after = (heldout_loss(state.model, state.tokenizer, rows, kind, config.max_length,
                              config.eval_samples)[0] if has_heldout else float("nan"))
        metrics = {
            "heldout_ppl_before": perplexity(before), "heldout_ppl_after": perplexity(after),
            "heldout_loss_before": before, "heldout_loss_after": after,
            "train_loss": outcome.train_loss, "final_loss": outcome.final_loss,
            "steps": float(outcome.steps), "tokens": float(outcome.tokens),
            "seconds": round(outcome.seconds, 3),
            "prepare_seconds": round(outcome.prepare_seconds, 3),
            "trainable_parameters": float(trainable), "processes": float(nproc),
        }
        result = register_outputs(workspace, config, state, recipe, metrics, run_id)
        atomic_write_yaml(ctx.job_dir / CONFIG_FILE, config.to_yaml_dict())
        shutil.rmtree(output_dir, ignore_errors=True)  # registered: checkpoints are spent
        shutil.rmtree(distributed.folder(ctx.job_dir) / distributed.ADAPTER, ignore_errors=True)
        ctx.report(outcome.steps, outcome.steps, "done", force=True,
                   heldout_ppl_before=metrics["heldout_ppl_before"],
                   heldout_ppl_after=metrics["heldout_ppl_after"])
        notes = [*([length_note] if length_note else []), *state.notes]
        return {**result, "metrics": metrics, "notes": notes}
    finally:
        recipe.cleanup()


def _raise_if_cancelled(outcome: TrainOutcome, run_id: str) -> None:
    if outcome.stopped_for_cancel:
        raise JobCancelled(
            f"The job was cancelled at step {outcome.steps}; resume it with "
            f"`scriptorium train --resume {run_id}`.")


def register_outputs(workspace: Workspace, config: TrainConfig, state: RunState, recipe: Any,
                     metrics: dict[str, float], run_id: str) -> dict[str, Any]:
    registry = ModelRegistry(workspace)
    base_id = state.source.record.id if state.source.record else None
    parents = tuple(p for p in (base_id, config.init_adapter) if p)
    prefix = config.name or f"{base_id or 'model'}-{config.recipe}"
    adapter_id = new_model_id(prefix)
    record = _record(config, state, "adapter", parents, metrics, run_id, "peft")
    with registry.create(adapter_id, lambda folder: record) as folder:
        recipe.save(folder)
        atomic_write_yaml(folder / CONFIG_FILE, config.to_yaml_dict())
    result: dict[str, Any] = {"model_id": adapter_id, "parents": list(parents)}
    if config.merge_full_model:
        merged_id = new_model_id(f"{prefix}-merged")
        merged = _record(config, state, "merged", (*parents, adapter_id), metrics, run_id,
                         "safetensors")
        with registry.create(merged_id, lambda folder: merged) as folder:
            save_merged(state, folder)
            atomic_write_yaml(folder / CONFIG_FILE, config.to_yaml_dict())
        result["merged_id"] = merged_id
    return result


def run_train_job(config: TrainConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``train``."""
    return run_training(config, ctx)
