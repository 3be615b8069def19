"""The bundled sample workspace a new user starts from."""

from __future__ import annotations

from pathlib import Path

import resources
from core.ingest.sample_config import PopulateSampleConfig
from core.jobs.progress import JobContext
from core.settings import Settings
from core.workspace.workspace import Workspace

SAMPLE_NAME = "Sample: Northwind Analytic Systems"


def sample_source() -> Path:
    """The sample documents shipped in ``resources/sample``."""
    return resources.path("sample")


def sample_workspace_path(settings: Settings) -> Path:
    """Where the sample workspace lives: ``<workspaces folder>/sample``."""
    return Path(settings.workspaces_dir).expanduser() / "sample"


def open_or_create_sample(root: Path) -> tuple[Workspace, bool]:
    """Open the sample workspace at ``root``, creating it if needed; True when created."""
    if Workspace.is_workspace(root):
        return Workspace.open(root), False
    return Workspace.create(root, SAMPLE_NAME), True


# Sample folders and the kind their documents are given.
SAMPLE_KINDS = {"rfps": "rfp", "proposals": "proposal", "reference": "reference", "pairs": "other"}


def populate_sample(workspace: Workspace, ctx: JobContext | None = None) -> dict[str, object]:
    """Import the bundled sample documents into ``workspace``; safe to run again.

    Each folder of ``resources/sample/documents`` gets its kind (rfps → rfp, proposals →
    proposal, reference → reference, pairs → other); the suggested RFP ↔ proposal pairs
    are recorded; ``feedback/preferences.jsonl`` is copied into ``W/feedback/``. Files
    already imported are left alone. ``ctx`` (a ``JobContext``) receives progress.
    """
    from core.fsutil import atomic_write_bytes
    from core.ingest.guess import best_pairs, suggest_pairs
    from core.ingest.importer import import_paths
    from core.ingest.store import DocumentStore

    documents = sample_source() / "documents"
    folders = [(documents / name, kind) for name, kind in SAMPLE_KINDS.items()
               if (documents / name).is_dir()]
    progress = ctx.report if ctx is not None else None
    cancelled = ctx.cancelled if ctx is not None else None
    results = []
    for folder, kind in folders:
        report = import_paths(workspace, [folder], kind, progress=progress, cancelled=cancelled)
        results.extend(report.files)
    store = DocumentStore(workspace)
    paired = []
    unpaired = {r.id for r in store.list() if not r.paired_with}
    suggestions = [s for s in suggest_pairs(store)
                   if s.rfp_id in unpaired and s.proposal_id in unpaired]
    for suggestion in best_pairs(suggestions):
        store.pair(suggestion.rfp_id, suggestion.proposal_id)
        paired.append((suggestion.rfp_id, suggestion.proposal_id))
    feedback = sample_source() / "feedback" / "preferences.jsonl"
    if feedback.is_file():
        target = workspace.feedback_dir / feedback.name
        data = feedback.read_bytes()
        if not target.exists() or target.read_bytes() != data:
            atomic_write_bytes(target, data)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return {"counts": counts, "paired": paired,
            "failed": [f"{r.name}: {r.message}" for r in results if r.status == "failed"]}


def run_populate_job(config: PopulateSampleConfig, ctx: JobContext) -> dict[str, object]:
    """Job kind ``populate-sample``: import the sample documents with progress."""
    return populate_sample(ctx.workspace(), ctx)
