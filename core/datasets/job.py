"""The ``build-dataset`` job: ``build_dataset`` in a child process, with progress."""

from __future__ import annotations

from typing import Any

from core.datasets.build import build_dataset
from core.datasets.model import BuildDatasetConfig
from core.jobs.progress import JobContext


def run_build_job(config: BuildDatasetConfig, ctx: JobContext) -> dict[str, Any]:
    """Build one dataset version; the result names it and carries its summary."""
    result = build_dataset(ctx.workspace(), config, progress=ctx.report,
                           check_cancelled=ctx.check_cancelled)
    record = result.record
    if result.reused:
        ctx.log(f"inputs and config unchanged since {record.id}; reused it")
    return {"dataset_id": record.id, "kind": record.kind, "version": record.version,
            "reused": result.reused, "documents": len(record.documents),
            "summary": record.summary}
