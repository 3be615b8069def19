"""Bridges between the transformers Trainer and a Scriptorium job.

``JobProgressCallback`` reports loss, learning rate, tokens/s and ETA to the job's
progress stream, marks finished checkpoints complete, and turns a cancel request into a
clean stop that saves a checkpoint first (so the run can resume).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from core.jobs.progress import JobContext
from core.training import distributed
from core.training.checkpoints import mark_complete

# Seconds to sleep after each step: a throttle for tests (kill mid-run) and demos.
STEP_DELAY_ENV = "SCRIPTORIUM_TRAIN_STEP_DELAY_S"


class JobProgressCallback(TrainerCallback):
    """Sends Trainer events to ``ctx``; ``tokens_per_step`` lets it compute tokens/s."""

    def __init__(self, ctx: JobContext, tokens_per_step: int, stage: str = "training",
                 eval_is_lm: bool = True) -> None:
        self.ctx = ctx
        self.eval_is_lm = eval_is_lm  # eval_loss is a token NLL (not a DPO/ORPO loss)
        self.tokens_per_step = max(1, tokens_per_step)
        self.stage = stage
        self.stopped_for_cancel = False
        self.history: list[dict[str, float]] = []
        try:
            self.step_delay = float(os.environ.get(STEP_DELAY_ENV, "0") or 0)
        except ValueError:
            self.step_delay = 0.0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs: Any) -> None:
        self.ctx.report(state.global_step, state.max_steps, f"{self.stage}: starting",
                        force=True)

    def on_step_end(self, args: TrainingArguments, state: TrainerState,
                    control: TrainerControl, **kwargs: Any) -> None:
        if self.step_delay > 0:
            time.sleep(self.step_delay)
        distributed.fail_if_asked(state.global_step)
        if self.ctx.cancelled() and not self.stopped_for_cancel:
            self.stopped_for_cancel = True
            control.should_save = True  # keep the work done so far, then stop
            control.should_training_stop = True
            self.ctx.log("cancel requested: saving a checkpoint and stopping")

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        logs = dict(logs or {})
        metrics: dict[str, float] = {}
        for key in ("loss", "learning_rate", "grad_norm", "eval_loss",
                    "rewards/accuracies", "rewards/margins"):
            value = logs.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                metrics[key.replace("/", "_").replace("learning_rate", "lr")] = float(value)
        if "eval_loss" in metrics and self.eval_is_lm:
            metrics["eval_perplexity"] = math.exp(min(metrics["eval_loss"], 50.0))
        if not metrics:
            return
        metrics["step"] = float(state.global_step)
        self.history.append(metrics)
        tokens = state.global_step * self.tokens_per_step
        message = f"{self.stage}: step {state.global_step}/{state.max_steps}"
        shown = {k: v for k, v in metrics.items() if k != "step"}
        self.ctx.report(state.global_step, state.max_steps, message, tokens=tokens, **shown)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        distributed.barrier()  # every rank has written its part (FSDP: its shard)
        if distributed.rank() == 0 and folder.is_dir():
            mark_complete(folder, state.global_step)
