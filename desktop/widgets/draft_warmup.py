"""Getting the Draft pane ready ahead of the first Send (``core.drafting.warmup``).

``Warmer.run(workspace, model_id)`` loads the picked model and the knowledge base's search
on a worker thread, once per workspace and model, and says so on the pane's status line
("Getting ready…", then "Ready to draft with …" or what is missing).
"""

from __future__ import annotations

from collections.abc import Callable

from core.drafting.session import DraftSession
from core.drafting.warmup import Readiness, warm_up
from core.workspace import Workspace
from desktop.ops import CoreOp
from desktop.qt import QLabel, QWidget


class Warmer:
    def __init__(self, parent: QWidget, session: DraftSession, status: QLabel,
                 busy: Callable[[], bool]) -> None:
        self.parent, self.session, self.status, self.busy = parent, session, status, busy
        self.ready_for: tuple[object, str] | None = None  # (workspace folder, model)

    def run(self, workspace: Workspace | None, model_id: str | None) -> None:
        if workspace is None or model_id is None or self.busy() or \
                self.ready_for == (workspace.root, model_id):
            return
        self.ready_for = (workspace.root, model_id)
        self.status.setText(f"Getting ready: loading {model_id} and the knowledge base…")
        cache, endpoints = self.session.cache, self.session.endpoints
        CoreOp(self.parent, lambda: warm_up(workspace, model_id, cache, endpoints)).success(
            self._ready).run()

    def _ready(self, readiness: Readiness) -> None:
        if not self.busy() and self.status.text().startswith("Getting ready"):
            self.status.setText(readiness.message())
