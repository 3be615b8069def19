"""Releases pane: the selected release's date, gate override, lineage and notes."""

from __future__ import annotations

from core.adaptation.lineage import lineage_tree
from core.workspace import Workspace
from core.workspace.releases import Release
from desktop.qt import QTextBrowser, QWidget
from desktop.widgets.dates import local_time


class ReleaseNotes(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("releaseNotes")
        self.setPlaceholderText("Select a release to see what it was trained on.")

    def show_release(self, workspace: Workspace | None, release: Release | None) -> None:
        """Show ``release`` (nothing when None): when, why the gate was overridden, the
        documents, datasets and models it came from, and its notes."""
        if release is None or workspace is None:
            self.clear()
            return
        lines = [f"Release {release.version}, promoted {local_time(release.promoted)}"]
        if release.override:
            lines.append(f"Gate overridden: {release.override}")
        lines += ["", "Lineage (documents → datasets → adapters → merges → GGUF):",
                  *lineage_tree(workspace, release.model_id)]
        if release.notes:
            lines += ["", "Notes:", release.notes]
        self.setPlainText("\n".join(lines))
