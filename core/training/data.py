"""The training data of a run, read through ``core.datasets.DatasetStore``.

This is the one place training reads datasets, so the recipes see a fixed shape:

- ``cpt``: rows ``{"input_ids": [...]}`` of packed fixed-length sequences;
- ``sft``: rows ``{"prompt": str, "completion": str}`` rendered with the chat template;
- ``prefs``: rows ``{"prompt": str, "chosen": str, "rejected": str}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.datasets import DatasetStore
from core.datasets.model import TRAINING_COLUMNS, DatasetError
from core.errors import ConfigError
from core.workspace import Workspace
from core.workspace.registry import DocumentRef


@dataclass(frozen=True)
class TrainingData:
    dataset_id: str
    kind: str
    train: Any  # datasets.Dataset
    heldout: Any  # datasets.Dataset (may be empty)
    documents: tuple[DocumentRef, ...] = ()
    tokenizer: dict[str, Any] = field(default_factory=dict)  # what built the token ids


def load_training_data(workspace: Workspace, dataset_id: str,
                       expected_kind: str | None = None) -> TrainingData:
    """The train and held-out splits of ``dataset_id`` (checked to be ``expected_kind``)."""
    store = DatasetStore(workspace)
    record = store.get(dataset_id)
    if expected_kind and record.kind != expected_kind:
        raise ConfigError(
            f"dataset: {dataset_id!r} is a {record.kind} dataset; this recipe needs a "
            f"{expected_kind} dataset.")
    train, heldout = store.load_training_data(dataset_id)
    missing = [c for c in TRAINING_COLUMNS[record.kind] if c not in train.column_names]
    if missing:
        raise DatasetError(f"Dataset {dataset_id!r} lacks the column(s) {', '.join(missing)}.")
    if len(train) == 0:
        raise DatasetError(f"Dataset {dataset_id!r} has no training rows.")
    return TrainingData(dataset_id, record.kind, train, heldout, tuple(record.documents),
                        dict(record.tokenizer))


def check_tokenizer(data: TrainingData, tokenizer: Any, base_label: str) -> None:
    """A CPT dataset holds token ids: they must come from the model's own tokenizer."""
    if data.kind != "cpt" or not data.tokenizer:
        return
    vocab = data.tokenizer.get("vocab_size")
    eos = data.tokenizer.get("eos_token_id")
    if (vocab is not None and vocab != len(tokenizer)) or (
            eos is not None and eos != tokenizer.eos_token_id):
        raise ConfigError(
            f"dataset: {data.dataset_id!r} was tokenized for another model (vocabulary "
            f"{vocab}, this model's is {len(tokenizer)}).",
            hint=f"build a CPT dataset with the tokenizer of {base_label}")
