"""Instruction tuning: trl's SFTTrainer on prompt/completion pairs, loss on the completion.

Prompts arrive already rendered with the chat template. With ``packing`` (the default)
the examples are tokenized and packed best-fit into rows of ``max_length`` by
``core.training.packing`` (whole examples, attention kept within each example, row
length kept short for CPU attention cost) and handed to SFTTrainer ready-made; without
it SFTTrainer tokenizes and pads them itself. A rendered prompt starts with the BOS token
as text; where the tokenizer adds BOS itself that text is dropped (no doubled BOS).
"""

from __future__ import annotations

from typing import Any

from core.training.loss import LossPath, loss_path_for, sft_trainer_class
from core.training.packing import PackedRowsCollator, pack_pairs
from core.training.recipes import common
from core.training.recipes.base import Recipe


def adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer puts BOS in front of plain text by itself."""
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id


def strip_bos(rows: Any, tokenizer: Any, columns: tuple[str, ...] = ("prompt",)) -> Any:
    """Drop a leading BOS *text* from the given columns (the tokenizer adds the token)."""
    bos = getattr(tokenizer, "bos_token", None)
    if rows is None or not bos or not adds_bos(tokenizer):
        return rows

    def fix(row: dict[str, Any]) -> dict[str, Any]:
        return {c: row[c][len(bos):] if row[c].startswith(bos) else row[c] for c in columns}

    return rows.map(fix)


class SftRecipe(Recipe):
    """setup → train → save → cleanup for supervised fine-tuning."""

    def setup(self) -> common.RunState:
        self.state = common.prepare(self.config, self.ctx, self.workspace, self.output_dir)
        self.packed: tuple[Any, Any] | None = None
        if self.config.packing:
            tokenizer, length = self.state.tokenizer, self.config.max_length
            heldout = common.heldout_rows(self.state)
            self.packed = (
                pack_pairs(self.state.data.train, tokenizer, length, self.config.seed),
                pack_pairs(heldout, tokenizer, length) if heldout is not None else None,
            )
        return self.state

    def tokens_per_step(self, state: common.RunState) -> int:
        per_row = state.config.max_length
        if self.packed is not None and len(self.packed[0]):
            rows = self.packed[0]["input_ids"]
            per_row = max(1, sum(len(r) for r in rows) // len(rows))
        return state.batch_size * state.grad_accum * per_row

    def loss_path(self, state: common.RunState) -> LossPath:
        return loss_path_for(state.model, state.where.device, state.batch_size,
                             state.config.max_length, len(state.tokenizer))

    def build_trainer(self, state: common.RunState) -> Any:
        from trl import SFTConfig

        heldout = common.heldout_rows(state)
        extra: dict[str, Any] = {}
        if self.packed is not None:
            train, heldout = self.packed
            pad = state.tokenizer.pad_token_id if state.tokenizer.pad_token_id is not None else 0
            extra = {"data_collator": PackedRowsCollator(pad)}
            dataset_kwargs: dict[str, Any] | None = {"skip_prepare_dataset": True}
        else:
            train = strip_bos(state.data.train, state.tokenizer)
            heldout = strip_bos(heldout, state.tokenizer)
            dataset_kwargs = None
        args = SFTConfig(
            **common.trainer_arguments(state, heldout is not None),
            max_length=state.config.max_length,
            packing=False,  # packed here when asked: rows, not one flattened batch
            completion_only_loss=True,
            dataset_kwargs=dataset_kwargs,
            remove_unused_columns=self.packed is None,
        )
        path = self.loss_path(state)
        if path == "plain" and "plain loss" not in " ".join(state.notes):
            state.notes.append("plain loss: the counted positions only (faster on CPU)")
        trainer_class = sft_trainer_class(path)
        return trainer_class(model=state.model, args=args, train_dataset=train,
                             eval_dataset=heldout, processing_class=state.tokenizer, **extra)
