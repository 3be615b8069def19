"""Getting drafting ready before the first Send.

The first draft of a session waited for three loads one after the other: the GGUF model
(llama.cpp, then a short speed calibration), the embedding model and the knowledge base's
tables (the first search). ``warm_up`` does them ahead, on a worker thread the app starts
when a workspace opens or another model is picked, into the same process-wide caches the
draft then uses; the first Send then costs what any later one costs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.drafting.sources import WorkspaceRetriever
from core.endpoints import RemoteEndpoint
from core.errors import ScriptoriumError
from core.generation.runtime import ModelCache
from core.retrieval.store import index_paths
from core.serving.backend import open_text_model
from core.workspace import Workspace

WARM_UP_QUERY = "staffing plan and key personnel"  # any query loads what every query needs


@dataclass(frozen=True)
class Readiness:
    """What was made ready, in how long, and what could not be."""

    model: str | None
    model_s: float
    knowledge_s: float
    problems: tuple[str, ...] = ()

    def message(self) -> str:
        if self.problems:
            return "Not ready: " + "; ".join(self.problems)
        return "Ready to draft" + (f" with {self.model}" if self.model else "") + "."


def warm_up(workspace: Workspace, model_id: str | None, cache: ModelCache,
            endpoints: Sequence[RemoteEndpoint] = ()) -> Readiness:
    """Load ``model_id`` (a local one; a remote server is its own business) into ``cache``
    and the knowledge base's search into this process. Errors are reported, not raised:
    the draft will name them again if they still hold."""
    problems: list[str] = []
    name: str | None = None
    start = time.monotonic()
    try:
        model = open_text_model(workspace, model_id, cache, endpoints=tuple(endpoints))
        name = model.name
    except ScriptoriumError as error:
        problems.append(str(error))
    loaded = time.monotonic()
    if index_paths(workspace).manifest.exists():
        try:
            WorkspaceRetriever(workspace).search(WARM_UP_QUERY, k=1)
        except ScriptoriumError as error:
            problems.append(str(error))
    return Readiness(name, round(loaded - start, 3), round(time.monotonic() - loaded, 3),
                     tuple(problems))
