"""Where a workspace stands, stage by stage, and the one thing to do next.

The pipeline an analyst walks: documents → knowledge base → training data → training →
export → release → drafting (merging is optional). Each stage's state comes from what the
workspace holds (the document store, the index manifest, the dataset store, the model
registry, the release book); ``next_stage`` is the first that needs something done. The
app's Overview pane and ``scriptorium status`` show the same thing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from core.adaptation.changes import check_for_update
from core.datasets.store import DatasetStore
from core.datasets.synthetic import pending_pairs
from core.drafting.conversations import ConversationStore
from core.ingest.store import DocumentStore
from core.retrieval.index import index_status
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

StageState = Literal["todo", "attention", "done", "optional"]
# What a stage's button does in the app (the CLI prints the matching verb instead).
Action = Literal["import", "index", "train", "review", "merge", "export", "releases",
                 "draft"]


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    state: StageState
    summary: str  # what the workspace holds, in a sentence
    action: Action
    action_label: str  # the button: "Import documents…"
    command: str  # the same on the command line

    @property
    def needs_work(self) -> bool:
        return self.state in ("todo", "attention")


@dataclass(frozen=True)
class Overview:
    stages: tuple[Stage, ...]

    @property
    def next_stage(self) -> Stage | None:
        return next((s for s in self.stages if s.needs_work), None)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _documents(workspace: Workspace) -> tuple[Stage, Counter[str]]:
    records = DocumentStore(workspace).list()
    kinds = Counter(r.kind for r in records)
    if not records:
        return Stage("documents", "Documents", "todo", "No documents yet: import your RFPs, "
                     "proposals and reference tables.", "import", "Import documents…",
                     "scriptorium import PATH…"), kinds
    parts = ", ".join(_plural(kinds[k], noun) if k != "other" else f"{kinds[k]} other"
                      for k, noun in (("rfp", "RFP"), ("proposal", "proposal"),
                                      ("reference", "reference table"), ("other", ""))
                      if kinds[k])
    return Stage("documents", "Documents", "done", f"{_plural(len(records), 'document')} "
                 f"({parts}).", "import", "Import more…", "scriptorium import PATH…"), kinds


def _knowledge(workspace: Workspace, has_documents: bool) -> Stage:
    status = index_status(workspace)
    stale = len(status["out_of_date"])
    if not has_documents:
        state, summary = "todo", "Empty until documents are imported."
    elif not status["built"]:
        state, summary = "todo", "Not built: drafts cannot cite your documents yet."
    elif stale:
        state, summary = "attention", (f"{_plural(stale, 'document')} changed since the "
                                       "last update: drafts do not see them yet.")
    else:
        state, summary = "done", (f"Up to date: {_plural(status['documents'], 'document')}, "
                                  f"{status['chunks']:,} passages, "
                                  f"{status['reference_rows']:,} table rows.")
    return Stage("knowledge", "Knowledge base", state, summary, "index",
                 "Update the knowledge base", "scriptorium index")


def _training(workspace: Workspace, kinds: Counter[str]) -> list[Stage]:
    datasets = Counter(d.kind for d in DatasetStore(workspace).list())
    registry = ModelRegistry(workspace)
    models = registry.list()
    tuned = [m for m in models if m.kind == "adapter" or m.documents]
    text = sum(kinds[k] for k in ("rfp", "proposal", "other"))
    waiting = pending_pairs(workspace)
    if waiting:
        data = Stage("datasets", "Training data", "attention",
                     f"{_plural(waiting, 'generated pair')} wait for your review; only the "
                     "ones you accept are used for training.", "review", "Review pairs…",
                     "scriptorium datasets synthetic")
    elif datasets:
        data = Stage("datasets", "Training data", "done", ", ".join(
            f"{n} {k.upper()}" for k, n in sorted(datasets.items())) + " dataset(s).",
            "train", "Build more…", "scriptorium dataset KIND")
    else:
        data = Stage("datasets", "Training data", "todo" if text else "optional",
                     "None yet: the training wizard builds it from your documents."
                     if text else "Needs text documents (RFPs, proposals).", "train",
                     "Train a model…", "scriptorium dataset cpt")
    trained = Stage("training", "Training", "done" if tuned else "todo" if text else
                    "optional", f"{_plural(len(tuned), 'model')} trained on your documents."
                    if tuned else "No model trained on your documents yet.", "train",
                    "Train a model…", "scriptorium train --recipe cpt")
    fine_tunes = [m for m in models if m.kind in ("adapter", "merged") and m.parents]
    merged = [m for m in models if m.kind == "merged"]
    merge = Stage("merge", "Merge (optional)", "done" if merged else "optional",
                  f"{_plural(len(merged), 'merged model')}." if merged else
                  "Combine fine-tunes of the same base, e.g. one for RFP language and one "
                  "for your proposals." if len(fine_tunes) >= 2 else
                  "Needs two fine-tunes of the same base.", "merge", "Merge models…",
                  "scriptorium merge --method ties --models A B")
    covered = {a.id for m in models if m.kind == "gguf" for a in registry.lineage(m.id)}
    unexported = [m for m in tuned if m.id not in covered]
    ggufs = [m for m in models if m.kind == "gguf" and m.parents]
    if unexported:
        count = _plural(len(unexported), "trained model")
        export = Stage("export", "Export", "attention", f"{count} not exported to GGUF yet "
                       "(drafting uses GGUF files).", "export", "Export to GGUF…",
                       f"scriptorium export {unexported[0].id}")
    else:
        export = Stage("export", "Export", "done" if ggufs else "optional" if not tuned else
                       "todo", f"{_plural(len(ggufs), 'GGUF file')} of your models."
                       if ggufs else "Nothing to export yet.", "export", "Export to GGUF…",
                       "scriptorium export MODEL")
    return [data, trained, merge, export]


def _release(workspace: Workspace) -> Stage:
    check = check_for_update(workspace, update_index=False)
    state: StageState = {"no-documents": "optional", "first-release": "todo",
                         "current": "done", "below-threshold": "done",
                         "update-proposed": "attention"}[check.state]
    summary = check.headline()
    tuned = [m for m in ModelRegistry(workspace).list()
             if m.kind == "gguf" and m.parents]
    if check.state == "first-release" and tuned:
        summary = (f"No release yet: promote one of your {_plural(len(tuned), 'GGUF model')} "
                   "so that drafting uses it, or train the first release.")
    return Stage("release", "Release", state, summary, "releases", "Open Releases",
                 "scriptorium release promote MODEL")


def _drafting(workspace: Workspace) -> Stage:
    conversations = ConversationStore(workspace).list()
    return Stage("drafting", "Drafting", "done" if conversations else "optional",
                 f"{_plural(len(conversations), 'conversation')} so far." if conversations
                 else "Draft a section with the knowledge base's sources and citations.",
                 "draft", "Draft…", 'scriptorium draft "…"')


def workspace_overview(workspace: Workspace) -> Overview:
    """Every stage's state; reads files only (no model, no index opened)."""
    documents, kinds = _documents(workspace)
    stages = [documents, _knowledge(workspace, documents.state == "done"),
              *_training(workspace, kinds), _release(workspace), _drafting(workspace)]
    return Overview(tuple(stages))
