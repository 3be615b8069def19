"""Releases pane, read top-down: what is deployed now and the releases (promote through the
regression gate, roll back), whether an update is needed and the run that makes it, and
publishing the deployed release to the team.

Each part is a widget of its own (``desktop.widgets.release_list``, ``release_update``,
``publish``); this pane lays them out and refreshes them when the workspace, its models or
a job change. Everything long runs elsewhere: operations on worker threads (``CoreOp``),
the update as an ``adapt`` job followed in the Jobs pane.
"""

from __future__ import annotations

from desktop.jobs_monitor import JobMonitor
from desktop.native import preload_llama
from desktop.qt import QLabel, QVBoxLayout, QWidget
from desktop.state import AppState
from desktop.widgets.publish import PublishBox
from desktop.widgets.release_list import ReleaseList
from desktop.widgets.release_update import UpdateBox


class ReleasesPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        preload_llama()  # before any worker thread touches llama.cpp (the gate does)
        self.setObjectName("pane-releases")
        self.state = state
        self.monitor = monitor
        self.releases = ReleaseList(state)
        self.updates = UpdateBox(state, monitor)
        self.publish = PublishBox(state)

        self.column = QVBoxLayout(self)
        self.column.addWidget(QLabel("<h2>Releases</h2>"))
        self.column.addWidget(self.releases)
        self.column.addWidget(self.updates)
        self.column.addWidget(self.publish)
        self.column.addStretch()
        self.releases.list_toggled.connect(self._share_height)
        self.updates.list_toggled.connect(self._share_height)
        self._share_height()

        # bound methods, not lambdas: Qt drops them when this pane is destroyed
        state.workspace_changed.connect(self.refresh)
        state.models_changed.connect(self.refresh)  # a promotion changes the update's state
        monitor.finished.connect(self.refresh)  # an import, an index or an update ended
        self.refresh()

    def _share_height(self) -> None:
        """The spare height goes to the lists that are shown, shared evenly, else
        below the boxes: a box with no list keeps its natural height, with no blank band."""
        releases = 0 if self.releases.listing.isHidden() else 1
        changes = 0 if self.updates.changes.isHidden() else 1
        self.column.setStretchFactor(self.releases, releases)
        self.column.setStretchFactor(self.updates, changes)
        self.column.setStretch(self.column.count() - 1, 0 if releases or changes else 1)

    def refresh(self, *_: object) -> None:
        """Read everything again and check whether an update is needed."""
        self.releases.refresh()
        self.updates.refresh()
        self.publish.refresh()
