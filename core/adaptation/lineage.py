"""A model's lineage as an analyst reads it: each model with its recipe, back to its base,
with the datasets it was trained on and their documents (the Releases pane's "what is
this trained on")."""

from __future__ import annotations

from core.workspace import Workspace
from core.workspace.registry import ModelRegistry
from core.workspace.releases import describe


def lineage_tree(workspace: Workspace, model_id: str, *, max_documents: int = 8) -> list[str]:
    """The model's lineage as indented lines, from the model back to its base: each
    model with its recipe, the datasets it was trained on and their documents."""
    from core.datasets import DatasetError, DatasetStore
    from core.ingest.store import DocumentStore

    registry = ModelRegistry(workspace)
    datasets = DatasetStore(workspace)
    titles = {r.id: r.title for r in DocumentStore(workspace).list(include_deleted=True)}
    lines: list[str] = []
    seen: set[str] = set()

    def walk(current: str, depth: int) -> None:
        pad = "    " * depth
        if current in seen or not registry.exists(current):
            lines.append(f"{pad}← {current}" + ("" if current in seen else " (removed)"))
            return
        seen.add(current)
        record = registry.get(current)
        lines.append(f"{pad}{'← ' if depth else ''}{describe(record)}")
        for dataset_id in record.datasets:
            try:
                dataset = datasets.get(dataset_id)
            except DatasetError:
                lines.append(f"{pad}    dataset {dataset_id} (removed)")
                continue
            docs = [f"{titles.get(ref.document_id, ref.document_id)} v{ref.version}"
                    for ref in dataset.documents]
            shown = ", ".join(docs[:max_documents])
            more = f" and {len(docs) - max_documents} more" if len(docs) > max_documents else ""
            lines.append(f"{pad}    dataset {dataset_id} ({dataset.kind}): "
                         f"{shown or 'no documents recorded'}{more}")
        for parent in record.parents:
            walk(parent, depth + 1)

    walk(model_id, 0)
    return lines
