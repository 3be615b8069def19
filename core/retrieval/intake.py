"""The ``import-documents`` and ``populate-sample`` jobs: import, then bring the knowledge
base up to date.

Documents an analyst imports are meant to be searched and cited at once; an import that
left the index behind made the first search say nothing of them. The job imports (the
ingest layer's ``import_paths``), then, unless told not to (``index: false``, `import
--no-index`), updates the index in the same job, so that it holds the heavy-job slot once.
An index that cannot be updated (no room, the embedding model missing) leaves the import
done, with a warning that says how to finish.
"""

from __future__ import annotations

from typing import Any

from core.errors import ScriptoriumError, disk_full, is_disk_full
from core.ingest.job import ImportConfig, run_import
from core.ingest.sample import run_populate_job
from core.ingest.sample_config import PopulateSampleConfig
from core.jobs.progress import JobContext
from core.retrieval.index import update_index


def run_import_job(config: ImportConfig, ctx: JobContext) -> dict[str, Any]:
    result = run_import(config, ctx)
    changed = result["summary"].get("imported", 0) + result["summary"].get("new-version", 0)
    if not config.index or not changed:
        return result
    return result | index_after_import(ctx)


def run_populate_sample_job(config: PopulateSampleConfig, ctx: JobContext) -> dict[str, Any]:
    """The sample documents, imported and indexed: its drafts have sources at once."""
    return dict(run_populate_job(config, ctx)) | index_after_import(ctx)


def index_after_import(ctx: JobContext) -> dict[str, Any]:
    """Update the index in the job that imported; what it changed (``index``) or why it
    could not (``index_error``, logged as a warning: the import stands)."""
    ctx.report(0, 1, "updating the knowledge base with the imported documents", force=True)
    try:
        indexed = update_index(ctx.workspace(), ctx=ctx)
    except (ScriptoriumError, OSError) as error:
        if isinstance(error, OSError) and not is_disk_full(error):
            raise
        message = str(disk_full(error)) if isinstance(error, OSError) else str(error)
        ctx.log(f"The documents are imported, but the knowledge base was not updated: "
                f"{message} (Knowledge → Update index, or `scriptorium index`, once fixed)",
                level="warning")
        return {"index_error": message}
    return {"index": {k: indexed[k] for k in ("indexed", "removed", "unchanged")
                      if k in indexed}}
