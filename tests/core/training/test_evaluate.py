"""Held-out loss: projecting only the positions that count gives the full computation's
number, for CPT, SFT and preference rows, with or without ``logits_to_keep``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from core.training.evaluate import IGNORE, heldout_loss, labelled_examples

ROWS = {
    "sft": [{"prompt": "Context: the contractor shall deliver the monthly status report "
                       "within 30 days under FAR 52.212. Question: when is the report due?",
             "completion": "Within 30 days."},
            {"prompt": "Summarise the security plan.", "completion": "The vendor secures "
                                                                      "cloud hosting."}],
    "dpo": [{"prompt": "Who reviews the transition schedule?",
             "chosen": "The program office reviews it weekly.", "rejected": "Nobody."}],
}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    return model.eval(), AutoTokenizer.from_pretrained(str(tiny_model_dir))


def full_logits_loss(model: Any, tokenizer: Any, rows: list[dict], kind: str) -> tuple[float, int]:
    """The plain computation: every position's logits, shifted, the ignored ones masked."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for ids, labels in labelled_examples(rows, kind, tokenizer, 256):
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            target = torch.tensor(labels[1:])
            total += float(torch.nn.functional.cross_entropy(
                logits, target, ignore_index=IGNORE, reduction="sum"))
            count += int((target != IGNORE).sum())
    return total / count, count


class NoLogitsToKeep:
    """A model class whose forward does not take ``logits_to_keep``."""

    def __init__(self, model: Any) -> None:
        self.model, self.training = model, False

    def parameters(self) -> Any:
        return self.model.parameters()

    def eval(self) -> NoLogitsToKeep:
        return self

    def __call__(self, *, input_ids: Any) -> Any:
        return self.model(input_ids=input_ids)


@pytest.mark.parametrize("kind", ["sft", "dpo", "cpt"])
def test_the_positions_that_count_give_the_full_loss(model_and_tokenizer: tuple,
                                                     kind: str) -> None:
    model, tokenizer = model_and_tokenizer
    if kind == "cpt":
        rows = [{"input_ids": tokenizer("The agency migrates the help desk on site.")
                 ["input_ids"]}]
    else:
        rows = ROWS[kind]
    expected, tokens = full_logits_loss(model, tokenizer, rows, kind)
    loss, counted = heldout_loss(model, tokenizer, rows, kind, 256)
    assert counted == tokens > 0
    assert math.isclose(loss, expected, rel_tol=1e-5)
    plain, _ = heldout_loss(NoLogitsToKeep(model), tokenizer, rows, kind, 256)
    assert math.isclose(plain, expected, rel_tol=1e-5)
    if kind == "sft":  # only the completion counts: far fewer tokens than the rows hold
        assert counted < sum(len(ids) for ids, _ in labelled_examples(rows, kind,
                                                                      tokenizer, 256)) / 2
