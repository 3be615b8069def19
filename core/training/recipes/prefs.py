"""Preference alignment on prompt/chosen/rejected pairs: trl's DPO and ORPO trainers.

DPO needs a reference model: trl keeps a frozen copy of the starting adapter (or the
base with the adapter off) inside the same PEFT model, so no second model is loaded.
ORPO needs none: it adds an odds-ratio term to the SFT loss on the chosen answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.jobs.progress import JobContext
from core.training.config import TrainConfig
from core.training.outcome import TrainOutcome
from core.training.recipes import common
from core.training.recipes.sft import strip_bos
from core.workspace import Workspace


class _PreferenceRecipe:
    """Shared shape of the two preference recipes (setup / train / save / cleanup)."""

    eval_is_lm = False  # eval_loss is the preference loss, not a token NLL

    def __init__(self, config: TrainConfig, ctx: JobContext, workspace: Workspace,
                 output_dir: Path) -> None:
        self.config = config
        self.ctx = ctx
        self.workspace = workspace
        self.output_dir = output_dir
        self.state: common.RunState | None = None

    def setup(self) -> common.RunState:
        self.state = common.prepare(self.config, self.ctx, self.workspace, self.output_dir)
        return self.state

    def tokens_per_step(self, state: common.RunState) -> int:
        # chosen and rejected are both run through the model
        return 2 * state.batch_size * state.grad_accum * state.config.max_length

    def datasets(self, state: common.RunState) -> tuple[Any, Any]:
        heldout = common.heldout_rows(state)
        return (strip_bos(state.data.train, state.tokenizer),
                strip_bos(heldout, state.tokenizer))

    def build_trainer(self, state: common.RunState) -> Any:
        raise NotImplementedError

    def train(self, resume_from: Path | None) -> TrainOutcome:
        assert self.state is not None
        return common.train_with_retry(self.state, self.build_trainer, resume_from,
                                       self.tokens_per_step, self.eval_is_lm)

    def save(self, folder: Path) -> None:
        assert self.state is not None
        common.save_adapter(self.state, folder)

    def cleanup(self) -> None:
        if self.state is not None:
            common.release(self.state)


class DpoRecipe(_PreferenceRecipe):
    def build_trainer(self, state: common.RunState) -> Any:
        from trl import DPOConfig, DPOTrainer

        train, heldout = self.datasets(state)
        args = DPOConfig(
            **common.trainer_arguments(state, heldout is not None),
            beta=state.config.beta,
            max_length=state.config.max_length,
        )
        return DPOTrainer(model=state.model, args=args, train_dataset=train,
                          eval_dataset=heldout, processing_class=state.tokenizer)


class OrpoRecipe(_PreferenceRecipe):
    def build_trainer(self, state: common.RunState) -> Any:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        train, heldout = self.datasets(state)
        args = ORPOConfig(
            **common.trainer_arguments(state, heldout is not None),
            beta=state.config.beta,
            max_length=state.config.max_length,
        )
        return ORPOTrainer(model=state.model, args=args, train_dataset=train,
                           eval_dataset=heldout, processing_class=state.tokenizer)
