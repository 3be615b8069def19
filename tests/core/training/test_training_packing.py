"""SFT packing: best fit within the row length, and a packed row scores exactly like its
examples one by one (attention never crosses from one example into the next)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.training.packing import IGNORE, PackedRowsCollator, best_fit, pack_pairs


def test_best_fit_fills_rows_without_overflow() -> None:
    lengths = [60, 50, 40, 30, 20, 10, 70, 64, 5, 1]
    bins = best_fit(lengths, 64)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 64 or len(b) == 1 for b in bins)
    assert len(bins) == 6  # 70 | 64 | 60+1 | 50+10 | 40+20 | 30+5+... fits in six


def test_a_packed_row_scores_like_its_examples_apart(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    rows = [{"prompt": "<bos><start_of_turn>user\nWho reviews the plan?<end_of_turn>\n"
                       "<start_of_turn>model\n", "completion": f"The agency {word}.<end_of_turn>\n"}
            for word in ("reviews it", "tests the security plan weekly", "does")]
    packed = pack_pairs(rows, tokenizer, max_length=128)
    assert len(packed) == 1  # all three fit in one row
    batch = PackedRowsCollator(tokenizer.pad_token_id)([packed[0], packed[0]])
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"][:1],
                       position_ids=batch["position_ids"][:1], use_cache=False).logits
    nll_packed = torch.nn.functional.cross_entropy(
        logits[0, :-1], batch["labels"][0, 1:], ignore_index=IGNORE, reduction="sum")

    nll_apart = 0.0
    positions = packed[0]["position_ids"]
    bounds = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
    for begin, end in zip(bounds, bounds[1:]):
        ids = torch.tensor([packed[0]["input_ids"][begin:end]])
        labels = torch.tensor(packed[0]["labels"][begin:end])
        with torch.no_grad():
            part = model(input_ids=ids).logits
        nll_apart += float(torch.nn.functional.cross_entropy(
            part[0, :-1], labels[1:], ignore_index=IGNORE, reduction="sum"))
    # the packed row also scores each example's first token from the previous example's
    # last position; those labels are prompt tokens (masked), so the sums must agree
    assert float(nll_packed) == pytest.approx(nll_apart, rel=1e-4)
