"""What every recipe shares: loading the starting point, Trainer arguments, the OOM retry,
saving the adapter. Recipes call these functions; there is no recipe base class.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ScriptoriumError
from core.jobs.progress import JobContext
from core.training import distributed
from core.training.callbacks import JobProgressCallback
from core.training.checkpoints import checkpoint_step, latest_complete
from core.training.config import DATASET_KIND, TrainConfig
from core.training.data import TrainingData, check_tokenizer, load_training_data
from core.training.modeling import (
    BaseSource,
    Placement,
    attach_adapter,
    load_base_model,
    load_tokenizer,
    placement,
    resolve_adapter,
    resolve_base,
)
from core.training.outcome import TrainOutcome
from core.workspace import Workspace
from core.workspace.registry import ModelRecord


class OutOfMemoryError(ScriptoriumError):
    """Training ran out of (GPU or CPU) memory."""


@dataclass
class RunState:
    """Everything a recipe holds between setup and cleanup."""

    config: TrainConfig
    ctx: JobContext
    workspace: Workspace
    output_dir: Path
    where: Placement
    source: BaseSource
    data: TrainingData
    init_adapter: ModelRecord | None = None
    model: Any = None
    tokenizer: Any = None
    trainer: Any = None
    callback: JobProgressCallback | None = None
    batch_size: int = 0
    grad_accum: int = 0
    notes: list[str] = field(default_factory=list)


def prepare(config: TrainConfig, ctx: JobContext, workspace: Workspace,
            output_dir: Path) -> RunState:
    """Resolve and load model, tokenizer, adapter and data (the shared part of setup)."""
    import torch

    where = placement(config)
    source = resolve_base(workspace, config.base)
    adapter_record, adapter_path = (None, None)
    if config.init_adapter:
        adapter_record, adapter_path = resolve_adapter(workspace, config.init_adapter)
    data = load_training_data(workspace, config.dataset, DATASET_KIND[config.recipe])
    if config.deterministic:
        from transformers import enable_full_determinism

        enable_full_determinism(config.seed, warn_only=True)
    torch.manual_seed(config.seed)
    ctx.report(0, 1, f"loading {source.label}", force=True)
    tokenizer = load_tokenizer(source)
    check_tokenizer(data, tokenizer, source.label)
    model = load_base_model(source, where, config.quantize_4bit)
    model = attach_adapter(model, config, adapter_path)
    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    return RunState(config, ctx, workspace, output_dir, where, source, data, adapter_record,
                    model, tokenizer, batch_size=config.batch_size, grad_accum=config.grad_accum)


def trainer_arguments(state: RunState, has_eval: bool) -> dict[str, Any]:
    """Keyword arguments shared by TrainingArguments and trl's configs."""
    config = state.config
    eval_on = has_eval and config.eval_every > 0
    return {
        "output_dir": str(state.output_dir),
        "per_device_train_batch_size": state.batch_size,
        "per_device_eval_batch_size": state.batch_size,
        "gradient_accumulation_steps": state.grad_accum,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.scheduler,
        "warmup_steps": config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        "max_steps": config.max_steps or -1,
        "num_train_epochs": config.epochs,
        "logging_steps": config.log_every,
        "logging_first_step": True,
        "eval_strategy": "steps" if eval_on else "no",
        "eval_steps": config.eval_every if eval_on else None,
        "save_strategy": "steps",
        "save_steps": config.save_every,
        "save_total_limit": config.keep_checkpoints,
        "seed": config.seed,
        "data_seed": config.seed,
        "full_determinism": config.deterministic,
        "use_cpu": state.where.device == "cpu",
        "bf16": state.where.dtype == "bfloat16",
        "fp16": state.where.dtype == "float16",
        "activation_checkpointing": config.gradient_checkpointing,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": state.where.device == "cuda",
        "report_to": [],
        "disable_tqdm": True,
        "save_only_model": False,
        **distributed.strategy_arguments(config, state.model, state.where.device),
    }


def heldout_rows(state: RunState) -> Any:
    heldout = state.data.heldout
    if heldout is None or len(heldout) == 0:
        return None
    return heldout.select(range(min(len(heldout), state.config.eval_samples)))


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def train_with_retry(state: RunState, build_trainer: Callable[[RunState], Any],
                     resume_from: Path | None, tokens_per_step: Callable[[RunState], int],
                     eval_is_lm: bool = True) -> TrainOutcome:
    """Build the trainer and train; on out-of-memory halve the batch (doubling gradient
    accumulation, so the effective batch stays) and go on from the last checkpoint, down to
    a batch of one."""
    world = distributed.world_size()
    while True:
        state.callback = JobProgressCallback(
            state.ctx, tokens_per_step(state) * world, stage=state.config.recipe,
            eval_is_lm=eval_is_lm)
        building = time.monotonic()
        state.trainer = build_trainer(state)
        prepare_seconds = time.monotonic() - building
        if world > 1 and state.where.device == "cpu":
            distributed.enable_cpu_fsdp(state.trainer)
        state.trainer.add_callback(state.callback)
        started = time.monotonic()
        try:
            result = state.trainer.train(
                resume_from_checkpoint=str(resume_from) if resume_from else None)
            break
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
            if not is_out_of_memory(error):
                raise
            state.trainer = None
            _free_memory()
            if not state.config.oom_retry or state.batch_size <= 1 or world > 1:
                raise OutOfMemoryError(
                    f"Training ran out of memory at batch size {state.batch_size} and "
                    f"{state.config.max_length} tokens a sequence.",
                    hint="use a smaller batch_size (raise grad_accum to keep the effective "
                    "batch), a shorter max_length, gradient_checkpointing=true, or QLoRA on a GPU",
                ) from error
            state.batch_size //= 2
            state.grad_accum *= 2
            resume_from = latest_complete(state.output_dir) or resume_from
            state.notes.append(f"out of memory: retried with batch size {state.batch_size}")
            state.ctx.log(f"out of memory; retrying with batch size {state.batch_size} "
                          f"and gradient accumulation {state.grad_accum}", level="warning")
    seconds = time.monotonic() - started
    history = tuple(state.callback.history)
    losses = [h["loss"] for h in history if "loss" in h]
    trainer_state = state.trainer.state
    steps = int(trainer_state.global_step)
    first_step = checkpoint_step(resume_from) or 0 if resume_from else 0
    train_loss = float(result.training_loss) if result else math.nan
    return TrainOutcome(
        steps=steps,
        train_loss=train_loss,
        final_loss=losses[-1] if losses else math.nan,
        seconds=seconds,
        tokens=max(0, steps - first_step) * tokens_per_step(state) * world,
        stopped_for_cancel=state.callback.stopped_for_cancel,
        history=history,
        prepare_seconds=prepare_seconds,
    )


def save_adapter(state: RunState, folder: Path) -> None:
    """The adapter as safetensors, with the tokenizer (never pickle)."""
    state.model.save_pretrained(str(folder), safe_serialization=True,
                                selected_adapters=["default"])
    state.tokenizer.save_pretrained(str(folder))


def save_merged(state: RunState, folder: Path) -> None:
    """The base with the adapter merged in, as a full safetensors model."""
    model = state.model
    for name in list(model.peft_config):
        if name != "default":
            model.delete_adapter(name)
    merged = model.merge_and_unload()
    merged.save_pretrained(str(folder), safe_serialization=True)
    state.tokenizer.save_pretrained(str(folder))
    state.model = None


def release(state: RunState) -> None:
    state.trainer = None
    state.model = None
    _free_memory()
