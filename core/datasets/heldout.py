"""The held-out text behind a model: the ``heldout_text`` rows of the CPT datasets in its
lineage (documents no training run saw), for perplexity checks after training, export and
before a release."""

from __future__ import annotations

from core.datasets.model import DatasetError
from core.datasets.store import DatasetStore
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry


def cpt_datasets(workspace: Workspace, model_id: str) -> list[str]:
    """The CPT datasets that ``model_id`` or any of its ancestors was trained on."""
    store = DatasetStore(workspace)
    found = []
    for record in ModelRegistry(workspace).lineage(model_id):
        for dataset_id in record.datasets:
            try:
                if store.get(dataset_id).kind == "cpt" and dataset_id not in found:
                    found.append(dataset_id)
            except DatasetError:
                continue  # a dataset removed since: nothing to score from it
    return found


def heldout_text(workspace: Workspace, datasets: list[str]) -> str:
    """The held-out documents' raw text of ``datasets``, one after the other."""
    store = DatasetStore(workspace)
    texts = [row["text"] for dataset_id in datasets
             for row in store.rows(dataset_id, "heldout_text") if row.get("text")]
    return "\n\n".join(texts)
