"""The bundled sample workspace a new user starts from."""

from __future__ import annotations

from pathlib import Path

import resources
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
