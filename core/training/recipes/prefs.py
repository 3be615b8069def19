"""Preference alignment on prompt/chosen/rejected pairs: trl's DPO and ORPO trainers.

DPO needs a reference model: trl keeps a frozen copy of the starting adapter (or the
base with the adapter off) inside the same PEFT model, so no second model is loaded.
ORPO needs none: it adds an odds-ratio term to the SFT loss on the chosen answer.
"""

from __future__ import annotations

from typing import Any

from core.training.recipes import common
from core.training.recipes.base import Recipe
from core.training.recipes.sft import strip_bos


class _PreferenceRecipe(Recipe):
    """DPO and ORPO differ only in trl's config and trainer classes."""

    eval_is_lm = False  # eval_loss is the preference loss, not a token NLL

    def tokens_per_step(self, state: common.RunState) -> int:
        # chosen and rejected are both run through the model
        return 2 * state.batch_size * state.grad_accum * state.config.max_length

    def trainer_classes(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def build_trainer(self, state: common.RunState) -> Any:
        config_class, trainer_class = self.trainer_classes()
        heldout = common.heldout_rows(state)
        train, heldout = (strip_bos(state.data.train, state.tokenizer),
                          strip_bos(heldout, state.tokenizer))
        args = config_class(**common.trainer_arguments(state, heldout is not None),
                            beta=state.config.beta, max_length=state.config.max_length)
        return trainer_class(model=state.model, args=args, train_dataset=train,
                             eval_dataset=heldout, processing_class=state.tokenizer)


class DpoRecipe(_PreferenceRecipe):
    def trainer_classes(self) -> tuple[Any, Any]:
        from trl import DPOConfig, DPOTrainer

        return DPOConfig, DPOTrainer


class OrpoRecipe(_PreferenceRecipe):
    def trainer_classes(self) -> tuple[Any, Any]:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOConfig, ORPOTrainer
