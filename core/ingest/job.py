"""The import half of the ``import-documents`` job: ``import_paths`` with progress."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import JobCancelled
from core.ingest.importer import import_paths
from core.ingest.limits import MB, IngestLimits
from core.ingest.model import DocumentKind
from core.jobs.progress import JobContext


class ImportConfig(BaseModel):
    """Config of the ``import-documents`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    paths: list[str] = Field(min_length=1, description="absolute files or folders")
    kind: DocumentKind | None = Field(default=None, description="None: guess each document's kind")
    kinds: dict[str, DocumentKind] = Field(default_factory=dict, description="per file path")
    recursive: bool = True
    max_file_mb: float = Field(default=200, gt=0)
    timeout_s: float = Field(default=120, gt=0)
    workers: int | None = Field(default=None, ge=1, le=32)
    index: bool = Field(default=True, description="update the knowledge base afterwards, so "
                        "that the documents can be searched and cited at once")


def run_import(config: ImportConfig, ctx: JobContext) -> dict[str, Any]:
    """Import, report per file, keep going after failures (the ``import-documents`` job
    then updates the index: ``core.retrieval.intake``)."""
    limits = IngestLimits(max_file_bytes=int(config.max_file_mb * MB), timeout_s=config.timeout_s)
    report = import_paths(
        ctx.workspace(),
        config.paths,
        config.kind,
        config.recursive,
        progress=lambda step, total, message: ctx.report(step, total, message, force=True),
        cancelled=ctx.cancelled,
        limits=limits,
        workers=config.workers,
        kinds=config.kinds,
    )
    for result in report.failed:
        ctx.log(f"{result.name}: {result.message}", level="warning")
    if report.cancelled:
        raise JobCancelled(f"The import was cancelled ({report.summary()} so far).")
    return report.model_dump(mode="json") | {"summary": report.counts}
