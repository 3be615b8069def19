"""Best-fit packing of prompt/completion examples into rows of at most ``max_length``.

Each row holds whole examples one after another; ``position_ids`` restart at 0 for each
example, and no attention mask is passed, so transformers builds a block-diagonal
causal mask per row (an example never attends to its neighbours). Unlike trl's
padding-free BFD, which flattens the whole batch into one long sequence, rows stay
``max_length`` long, so attention costs ``rows × max_length²`` rather than
``(rows × max_length)²`` (what matters on a CPU without FlashAttention).
transformers derives the per-example mask from ``position_ids`` only when no attention
mask and no KV cache are passed: the forward must run with ``use_cache=False``, as
SFTTrainer's ``compute_loss`` does.
"""

from __future__ import annotations

import bisect
from typing import Any

IGNORE = -100


def tokenize_pair(tokenizer: Any, prompt: str, completion: str,
                  max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (prompt masked) of one example, EOS-terminated, truncated."""
    bos = getattr(tokenizer, "bos_token", None)
    adds_bos = not (bos and prompt.startswith(bos))
    prompt_ids = list(tokenizer(prompt, add_special_tokens=adds_bos)["input_ids"])
    answer = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    eos = tokenizer.eos_token_id
    if eos is not None and (not answer or answer[-1] != eos):
        answer.append(eos)
    ids = (prompt_ids + answer)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + answer)[:max_length]
    return ids, labels


def best_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: indices grouped into bins of total length ≤ ``capacity``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (space left, bin index), sorted
    for index in order:
        size = lengths[index]
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            space, number = free.pop(slot)
            bins[number].append(index)
            bisect.insort(free, (space - size, number))
        else:
            bins.append([index])
            bisect.insort(free, (capacity - size, len(bins) - 1))
    return bins


def pack_pairs(rows: Any, tokenizer: Any, max_length: int, seed: int = 0) -> Any:
    """A ``datasets.Dataset`` of packed rows: input_ids, labels, position_ids."""
    import random

    from datasets import Dataset

    examples = [tokenize_pair(tokenizer, r["prompt"], r["completion"], max_length)
                for r in rows]
    examples = [e for e in examples if any(t != IGNORE for t in e[1])]
    packed: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids": []}
    bins = best_fit([len(ids) for ids, _ in examples], max_length)
    random.Random(seed).shuffle(bins)  # mix long and short rows across batches
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for index in members:
            example_ids, example_labels = examples[index]
            ids.extend(example_ids)
            labels.extend(example_labels)
            positions.extend(range(len(example_ids)))
        packed["input_ids"].append(ids)
        packed["labels"].append(labels)
        packed["position_ids"].append(positions)
    return Dataset.from_dict(packed)


class PackedRowsCollator:
    """Pads packed rows to the longest in the batch; the padding is its own segment."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            positions[i, :n] = torch.tensor(row["position_ids"])
            positions[i, n:] = torch.arange(width - n)  # restarts: never attended by real tokens
        return {"input_ids": ids, "labels": labels, "position_ids": positions}
