"""Continued pre-training: causal-LM loss on every token of packed domain text.

The ``cpt`` dataset already holds fixed-length ``input_ids`` sequences (packed across
document boundaries by ``core.datasets``), so a plain ``transformers.Trainer`` with a
stacking collator is all it takes: no padding, no wasted tokens. On a CPU its loss is
``core.training.loss.plain_causal_loss`` (one softmax buffer instead of three).
"""

from __future__ import annotations

from typing import Any

from core.training.loss import cpt_trainer_class, loss_path_for
from core.training.recipes import common
from core.training.recipes.base import Recipe

IGNORE = -100


class PackedCollator:
    """Stacks equal-length rows; pads (label -100) only if a row is shorter."""

    def __init__(self, pad_id: int, max_length: int) -> None:
        self.pad_id = pad_id
        self.max_length = max_length

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        sequences = [list(row["input_ids"])[: self.max_length] for row in rows]
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[i, : len(seq)] = 1
        labels = ids.masked_fill(mask == 0, IGNORE)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class CptRecipe(Recipe):
    """setup → train → save → cleanup for continued pre-training."""

    def _sequence_length(self, state: common.RunState) -> int:
        first = state.data.train[0]["input_ids"]
        return min(len(first), state.config.max_length)

    def tokens_per_step(self, state: common.RunState) -> int:
        return state.batch_size * state.grad_accum * self._sequence_length(state)

    def build_trainer(self, state: common.RunState) -> Any:
        from transformers import TrainingArguments

        path = loss_path_for(state.model, state.where.device, state.batch_size,
                             state.config.max_length, len(state.tokenizer))
        if path == "plain" and "plain loss" not in " ".join(state.notes):
            state.notes.append("plain loss: the counted positions only (faster on CPU)")
        heldout = common.heldout_rows(state)
        args = TrainingArguments(**common.trainer_arguments(state, heldout is not None),
                                 remove_unused_columns=False)
        pad_id = state.tokenizer.pad_token_id if state.tokenizer.pad_token_id is not None else 0
        return cpt_trainer_class(path)(
            model=state.model,
            args=args,
            train_dataset=state.data.train,
            eval_dataset=heldout,
            data_collator=PackedCollator(pad_id, state.config.max_length),
            processing_class=state.tokenizer,
        )
