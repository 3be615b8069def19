"""Drafting gets ready ahead of the first Send (issue 17): the picked model is loaded into
the cache the drafts use, the knowledge base's search is loaded, problems are reported."""

from __future__ import annotations

from core.drafting.warmup import warm_up
from core.fsutil import link_or_copy
from core.generation.runtime import ModelCache
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry


def test_warm_up_loads_the_model_once_and_reports_problems(workspace: Workspace) -> None:
    from core.models.bundled import assemble_gguf

    gguf = assemble_gguf()
    record = ModelRecord(id="g", name="GGUF", kind="gguf", architecture="gemma3", format="gguf")
    with ModelRegistry(workspace).create("g", lambda _: record) as folder:
        link_or_copy(gguf, folder / gguf.name)
    cache = ModelCache()
    try:
        ready = warm_up(workspace, "g", cache)
        assert ready.problems == () and ready.model and ready.model_s > 0
        assert ready.message().startswith("Ready to draft with")
        assert len(cache._models) == 1
        again = warm_up(workspace, "g", cache)
        assert again.model_s < ready.model_s and len(cache._models) == 1  # already loaded
        missing = warm_up(workspace, "no-such-model", cache)
        assert missing.problems and "no-such-model" in missing.message()
    finally:
        cache.close()
