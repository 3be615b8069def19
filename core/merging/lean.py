"""Lower-memory equivalents of three mergekit steps, installed only while we run a merge.

mergekit 0.1.5 keeps, per tensor, the densest form of every intermediate, and reads every
tensor once per model. For a large tensor (Gemma 3's 262k × 640 embedding, 168 M values)
this is what sets the peak memory of a TIES merge (8.1 GB for the 270M):

- ``sparsify.magnitude`` ranks the whole tensor with ``argsort`` (an int64 index per value
  plus the sort's own buffers) to keep its largest ``density`` share. :func:`magnitude`
  finds the same cut — the k-th largest magnitude — by bisection on the float bits with
  counts taken in chunks, and keeps exactly k values (ties at the cut: the first ones in
  order). Same kept set as an exact ranking; no index tensor.
- task-arithmetic merges (TIES, DARE, task arithmetic, breadcrumbs) build a stack of deltas
  even where every model's tensor equals the base's — every tensor a LoRA never touched,
  the embedding included. :func:`_unchanged_or_merge` returns the base tensor there (the
  result mergekit would compute: base + 0), without the stack.
- every model reads its own copy of every tensor, so a tensor three models share (a LoRA
  leaves the embedding as the base's) is in memory three times. A folded adapter written
  with only its changed tensors (:func:`core.merging.fold.fold_adapter`, ``changed_only``)
  names its base; :func:`_shared_load` reads its other tensors from that base, and any
  tensor already in memory for the same file, name and dtype is handed out again rather
  than read twice. The pass-through above then sees the very base tensor.

All three are patched in by :func:`installed` around one merge and restored after it; the
merge tests compare the results with mergekit's own.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_CHUNK = 1 << 22  # values per counting pass (16 MiB of float32)
_INF_BITS = 0x7F800000  # the bit pattern of +inf as int32; finite magnitudes lie below


def _count_at_least(bits: Any, threshold: int) -> int:
    total = 0
    for start in range(0, bits.numel(), _CHUNK):
        total += int((bits[start:start + _CHUNK] >= threshold).sum())
    return total


def kth_largest_bits(magnitudes: Any, k: int) -> int:
    """The int32 bit pattern of the k-th largest of non-negative float32 ``magnitudes``.

    Non-negative IEEE floats order as their bit patterns do, so a bisection over integers
    finds the exact value in at most 32 counting passes.
    """
    import torch

    bits = magnitudes.view(torch.int32)
    low, high = 0, _INF_BITS + 1  # invariant: count(>= low) >= k > count(>= high)
    while high - low > 1:
        middle = (low + high) // 2
        if _count_at_least(bits, middle) >= k:
            low = middle
        else:
            high = middle
    return low


def magnitude(tensor: Any, density: float, rescale_norm: Any = None) -> Any:
    """mergekit's ``sparsify.magnitude`` (keep the ``density`` share of largest magnitudes,
    optionally rescaled to the original norm) without ranking the whole tensor."""
    import torch
    from mergekit.sparsify import rescaled_masked_tensor

    if density >= 1:
        return tensor
    if density <= 0 or tensor.numel() == 0:
        return torch.zeros_like(tensor)
    count = tensor.numel()
    k = max(1, int(density * count))
    magnitudes = tensor.abs().reshape(-1).float()
    nonzero = int(torch.count_nonzero(magnitudes))
    if nonzero <= k:  # every non-zero value is kept: the masked tensor is the tensor
        return tensor
    cut_bits = kth_largest_bits(magnitudes, k)
    cut = torch.tensor([cut_bits], dtype=torch.int32).view(torch.float32)[0]
    mask = torch.empty(count, dtype=tensor.dtype)
    above = 0
    for start in range(0, count, _CHUNK):
        part = magnitudes[start:start + _CHUNK] > cut
        mask[start:start + _CHUNK] = part
        above += int(part.sum())
    if above < k:  # values equal to the cut fill the rest, in order
        ties = torch.nonzero(magnitudes == cut).reshape(-1)[:k - above]
        mask[ties] = 1
    del magnitudes
    return rescaled_masked_tensor(tensor, mask.reshape_as(tensor), rescale_norm)


def _unchanged_or_merge(original: Any) -> Any:
    def merge_group(self: Any, group: Any, /, **parameters: Any) -> Any:
        import torch

        base = group.base.tensor if group.base is not None else None
        if base is not None and group.non_base and all(
                entry.tensor is base or (entry.tensor.dtype == base.dtype
                                         and torch.equal(entry.tensor, base))
                for entry in group.non_base):
            return base
        return original(self, group, **parameters)

    merge_group.__doc__ = original.__doc__
    return merge_group


def _shared_load(original: Any) -> Any:
    """``LoadTensor.execute`` that reads a changed-only fold's other tensors from its base
    and hands out a tensor still in memory instead of reading it again."""
    from mergekit.common import ModelReference
    from mergekit.io.tasks import LoaderCache

    from core.merging.fold import folded_base

    live: weakref.WeakValueDictionary[tuple, Any] = weakref.WeakValueDictionary()
    bases: dict[str, Path | None] = {}

    def execute(self: Any) -> Any:
        path = str(self.model.model.path)
        if path not in bases:
            bases[path] = folded_base(Path(path))
        task = self
        base = bases[path]
        if base is not None:
            names = [self.tensor, *(self.aliases or ()), *(self.tied_names or ())]
            own = LoaderCache().get(self.model).index.tensor_paths
            if not any(name in own for name in names):
                reference = ModelReference.model_validate({"model": {"path": str(base)}})
                task = self.model_copy(update={"model": reference})
        key = (str(task.model.model.path), self.tensor, self.dtype, self.device)
        found = live.get(key)
        if found is None:
            found = original(task)
            # safetensors hands out views of the file's memory map: closing the loader's
            # handle lets each tensor's pages go with the tensor, not with the whole merge
            LoaderCache().get(task.model).flush()
            if found is not None:
                live[key] = found
        return found

    return execute


@contextmanager
def installed() -> Iterator[None]:
    """Use the lean steps inside mergekit for the duration of one merge."""
    from mergekit import sparsify
    from mergekit.io.tasks import LoadTensor
    from mergekit.merge_methods.generalized_task_arithmetic import (
        GeneralizedTaskArithmeticMerge,
    )

    original_magnitude = sparsify.magnitude
    original_merge_group = GeneralizedTaskArithmeticMerge.merge_group
    original_execute = LoadTensor.execute
    sparsify.magnitude = magnitude
    GeneralizedTaskArithmeticMerge.merge_group = _unchanged_or_merge(original_merge_group)
    LoadTensor.execute = _shared_load(original_execute)
    try:
        yield
    finally:
        sparsify.magnitude = original_magnitude
        GeneralizedTaskArithmeticMerge.merge_group = original_merge_group
        LoadTensor.execute = original_execute
