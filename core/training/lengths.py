"""``max_length: 0`` (auto): a run's sequences as long as its dataset's longest example.

An example longer than ``max_length`` loses the end of its answer, and one whose prompt
alone fills it is left out (``core.datasets.lengths``). The SFT, DPO and ORPO recipes
default to auto: the longest example, rounded up to ``ROUND`` tokens, at most
``AUTO_CEILING``. A length set by hand is kept, and the plan says how many examples it
cuts. CPT rows are packed to the dataset's ``seq_len``: auto is that.
"""

from __future__ import annotations

import math
from typing import Any

from core.datasets.lengths import Lengths, example_tokens
from core.datasets.store import DatasetStore
from core.errors import ScriptoriumError
from core.training.config import TrainConfig
from core.workspace import Workspace

AUTO_CEILING = 2048  # attention and logits grow with it; longer examples are cut, and said
ROUND = 64
FALLBACK = 512  # a dataset built before its lengths were recorded, its rows not counted


def dataset_lengths(workspace: Workspace, dataset_id: str, *,
                    read_rows: bool = True) -> Lengths | None:
    """The lengths of a dataset's examples: from its summary, else (``read_rows``) from
    its rows' token counts; None when neither has them (or for CPT)."""
    store = DatasetStore(workspace)
    record = store.get(dataset_id)
    if record.kind == "cpt":
        return None
    if (found := Lengths.from_summary(record.summary)) is not None or not read_rows:
        return found
    counted = [example_tokens(row) for split in ("train", "heldout")
               for row in store.rows(dataset_id, split)]
    if not counted or any(pair is None for pair in counted):
        return None
    return Lengths.of(pair for pair in counted if pair is not None)


def fitted(lengths: Lengths) -> int:
    """The auto ``max_length`` for these examples."""
    return min(AUTO_CEILING, max(ROUND, -(-lengths.longest // ROUND) * ROUND))


def length_note(lengths: Lengths, max_length: int, auto: bool, *, named: str = "") -> str:
    """What ``max_length`` does to the examples, in a sentence ("" when a length set by
    hand holds them all). ``named``: the setting's name where the reader knows it by
    another ("Longest passage" in the app); it defaults to ``max_length``."""
    cut, left_out = lengths.cut(max_length), lengths.dropped(max_length)
    plural = "s" if lengths.count != 1 else ""
    setting = f"{named} {max_length} tokens" if named else f"max_length {max_length}"
    automatic = "automatic" if named else "auto"
    if not cut:
        return (f"{setting} ({automatic}): holds the longest of its {lengths.count} "
                f"example{plural}, {lengths.longest} tokens." if auto else "")
    lost = f"; {left_out} are left out (the prompt alone is longer)" if left_out else ""
    whole = -(-lengths.longest // ROUND) * ROUND
    holds = ", which holds them all" if fitted(lengths) >= lengths.longest else ""
    advice = (f"; set it to {whole} to keep them whole, if memory allows" if auto
              else f"; {automatic} would pick {fitted(lengths)}{holds}")
    head = f"{setting} ({automatic}, the most it picks)" if auto else setting
    return (f"{head}: {cut} of {lengths.count} example{plural} are longer and lose the end "
            f"of their answer{lost}{advice}.")


def resolve_max_length(config: TrainConfig, workspace: Workspace, *, read_rows: bool = True,
                       named: str = "") -> tuple[TrainConfig, str]:
    """``config`` with ``max_length`` set (auto resolved), and what it does to the
    dataset's examples in a sentence ("" when nothing to say; ``named`` as in
    ``length_note``). ``read_rows=False`` reads only the dataset's record (quick enough
    for the GUI thread)."""
    if config.max_length and config.recipe == "cpt":
        return config, ""
    try:  # a probe may measure a base before its dataset is built
        if config.recipe == "cpt":
            seq_len = _cpt_seq_len(workspace, config.dataset)
            return config.model_copy(update={"max_length": seq_len}), ""
        lengths = dataset_lengths(workspace, config.dataset, read_rows=read_rows)
        why = "the dataset's lengths were not recorded; build it again to fit them"
    except ScriptoriumError as error:
        lengths, why = None, error.message[:1].lower() + error.message[1:].rstrip(".")
    if lengths is None or not lengths.count:
        if config.max_length:
            return config, ""
        setting = f"{named} {FALLBACK} tokens" if named else f"max_length {FALLBACK}"
        return config.model_copy(update={"max_length": FALLBACK}), (
            f"{setting} ({'automatic' if named else 'auto'}): {why}.")
    length = config.max_length or fitted(lengths)
    return (config.model_copy(update={"max_length": length}),
            length_note(lengths, length, auto=not config.max_length, named=named))


def _cpt_seq_len(workspace: Workspace, dataset_id: str) -> int:
    raw: Any = DatasetStore(workspace).get(dataset_id).config.get("seq_len")
    return int(raw) if isinstance(raw, int) and raw > 0 else FALLBACK


def planned_steps(config: TrainConfig, workspace: Workspace, *,
                  read_rows: bool = True) -> int | None:
    """The optimizer steps a run of ``config`` (its ``max_length`` resolved) makes:
    ``max_steps``, or its epochs over the training split, packed rows for SFT; None when
    the dataset does not say (its record has no count)."""
    if config.max_steps:
        return config.max_steps
    try:
        record = DatasetStore(workspace).get(config.dataset)
    except ScriptoriumError:
        return None
    train = record.summary.get("train")
    if not isinstance(train, int) or train <= 0:
        return None
    rows = train
    if config.recipe == "sft" and config.packing:
        lengths = dataset_lengths(workspace, config.dataset, read_rows=read_rows)
        if lengths is not None and lengths.count:
            rows = max(1, round(lengths.packed_rows(config.max_length) * train / lengths.count))
    per_epoch = math.ceil(math.ceil(rows / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(config.epochs * per_epoch))
