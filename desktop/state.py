"""Evented application state: the open workspace and the user settings.

Panes bind to these signals and refresh themselves; nothing else holds app state. A job
that ends reaches them through ``notify`` (the job monitor says what its kind changes), so
no wizard or pane has to announce what its job did.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from core.settings import Settings, load_settings, save_settings
from core.workspace import Workspace
from desktop.qt import QObject, Signal


class AppState(QObject):
    workspace_changed = Signal(object)  # Workspace | None
    settings_changed = Signal(object)  # Settings
    models_changed = Signal()  # models, datasets or releases
    documents_changed = Signal()  # documents or the knowledge-base index

    def __init__(self) -> None:
        super().__init__()
        self.workspace: Workspace | None = None
        self.settings: Settings = load_settings()

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        if workspace is not None:
            self.update_settings(self.settings.with_recent(workspace.root))
        self.workspace_changed.emit(workspace)

    def open_workspace(self, path: Path) -> Workspace:
        workspace = Workspace.open(path)
        self.set_workspace(workspace)
        return workspace

    def create_workspace(self, path: Path, name: str | None = None) -> Workspace:
        workspace = Workspace.create(path, name)
        self.set_workspace(workspace)
        return workspace

    def notify(self, changes: Collection[str]) -> None:
        """Tell every pane that ``changes`` (``core.jobs.kinds.Change``) happened, once."""
        if {"models", "datasets", "releases"} & set(changes):
            self.models_changed.emit()
        if {"documents", "index"} & set(changes):
            self.documents_changed.emit()

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings
        try:
            save_settings(settings)
        except OSError:
            pass
        self.settings_changed.emit(settings)
