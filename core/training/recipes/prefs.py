"""Preference alignment on prompt/chosen/rejected pairs: trl's DPO and ORPO trainers.

DPO needs a reference model: the same PEFT model with its adapter off (trl's ``"ref"``
adapter when there is one), so no second copy is loaded. Its log-probabilities of each
pair's chosen and rejected answers do not change while training, so when a run reads the
pairs over several epochs they are computed once, in one pass before the first step (trl's
``precompute_ref_log_probs``), not again in every epoch (``reference_once``;
``bench/bench_preference.py`` measures it). On a CPU DPO's LM head is the plain one of
``core.training.plainhead`` (only the counted positions projected; with LoRA's frozen
output layer a chunk of them at a time, so any batch fits) instead of trl's tiled head.
ORPO needs no reference: it adds an odds-ratio term to the SFT loss on the chosen answer.
"""

from __future__ import annotations

from typing import Any

from core.training import distributed
from core.training.config import TrainConfig
from core.training.loss import loss_path_for
from core.training.plainhead import preference_trainer_class
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

    def extra_arguments(self, state: common.RunState) -> dict[str, Any]:
        return {}

    def build_trainer(self, state: common.RunState) -> Any:
        config_class, trainer_class = self.trainer_classes()
        heldout = common.heldout_rows(state)
        train, heldout = (strip_bos(state.data.train, state.tokenizer),
                          strip_bos(heldout, state.tokenizer))
        args = config_class(**common.trainer_arguments(state, heldout is not None),
                            beta=state.config.beta, max_length=state.config.max_length,
                            **self.extra_arguments(state))
        return trainer_class(model=state.model, args=args, train_dataset=train,
                             eval_dataset=heldout, processing_class=state.tokenizer)


def computes_reference_once(config: TrainConfig, world_size: int) -> bool:
    """Whether DPO computes the reference pass once, before training. It costs what the
    per-step passes of one epoch cost plus a hash of the model (trl's cache key), so it
    pays when the run reads each pair more than once: ``auto`` does it for runs of several
    epochs (``always`` also for runs cut short by ``max_steps``). Not across processes:
    trl writes the log-probabilities to a temporary file that rank 0 names for every
    rank, and in-memory datasets get one per process."""
    if config.reference_once == "never" or world_size > 1:
        return False
    if config.reference_once == "always":
        return True
    return config.max_steps is None and config.epochs > 1


def reference_once(state: common.RunState) -> bool:
    """``computes_reference_once`` for this run."""
    return computes_reference_once(state.config, distributed.world_size())


class DpoRecipe(_PreferenceRecipe):
    use_plain_head = False

    def plain_head(self, state: common.RunState) -> bool:
        """Whether the run takes the plain LM head (``core.training.plainhead``): on a
        CPU, when a step's logits (or, LoRA, a chunk of them) fit in memory."""
        path = loss_path_for(state.model, state.where.device, 2 * state.batch_size,
                             state.config.max_length, len(state.tokenizer))
        return path == "plain"

    def build_trainer(self, state: common.RunState) -> Any:
        self.use_plain_head = self.plain_head(state)
        if self.use_plain_head and "plain LM head" not in " ".join(state.notes):
            state.notes.append("plain LM head: the counted positions only (faster on CPU)")
        return super().build_trainer(state)

    def extra_arguments(self, state: common.RunState) -> dict[str, Any]:
        if not reference_once(state):
            return {}
        state.ctx.log(f"reference log-probabilities of {len(state.data.train)} pairs: "
                      "computed once, before the first step")
        return {"precompute_ref_log_probs": True,
                "precompute_ref_batch_size": state.batch_size}

    def trainer_classes(self) -> tuple[Any, Any]:
        from trl import DPOConfig, DPOTrainer

        return DPOConfig, preference_trainer_class(DPOTrainer, self.use_plain_head)


class OrpoRecipe(_PreferenceRecipe):
    def trainer_classes(self) -> tuple[Any, Any]:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOConfig, ORPOTrainer
