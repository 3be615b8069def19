"""Overview: the workspace's pipeline, stage by stage, with the one thing to do next.

A view of ``core.overview``: each stage (documents, knowledge base, training data,
training, merge, export, release, drafting) shows its state and what the workspace holds,
with a button that does it (opens the wizard, starts the job or shows the pane); the first
stage that needs work is offered at the top as the next step. It is read on a worker thread
whenever a job ends or the workspace's data changes, from the app or the command line.
"""

from __future__ import annotations

from collections.abc import Callable

from core.overview import Overview, Stage, workspace_overview
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.icons import set_icon_label

# each stage's state is shown as the icon of that name, with these words as its tooltip
STATE_WORDS = {"done": "Done", "todo": "To do", "attention": "Needs attention",
               "optional": "Optional"}


class OverviewPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, act: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pane-overview")
        self.state, self.act = state, act
        self.overview: Overview | None = None
        self._serial = 0
        self.next_label = QLabel("Reading the workspace…")
        self.next_label.setObjectName("overviewNext")
        self.next_label.setWordWrap(True)
        self.next_button = QPushButton()
        self.next_button.setObjectName("overviewNextButton")
        self.next_button.setVisible(False)
        self.next_button.clicked.connect(self._do_next)
        next_box = QGroupBox("Next step")
        next_layout = QVBoxLayout(next_box)
        next_layout.addWidget(self.next_label)
        button_row = QHBoxLayout()
        button_row.addWidget(self.next_button)
        button_row.addStretch(1)
        next_layout.addLayout(button_row)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(2, 1)
        stages = QGroupBox("Your pipeline")
        stages.setLayout(self.grid)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Overview</h2>"))
        layout.addWidget(next_box)
        layout.addWidget(stages)
        layout.addStretch(1)
        self.rows: dict[str, tuple[QLabel, QLabel, QPushButton]] = {}
        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self._refresh_on)
        state.documents_changed.connect(self._refresh_on)
        monitor.finished.connect(self._refresh_on)
        self.refresh()

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        workspace = self.state.workspace
        if workspace is None:
            return
        self._serial += 1
        serial = self._serial
        CoreOp(self, lambda: workspace_overview(workspace)).success(
            lambda overview: self._show(serial, overview)).run()

    def _show(self, serial: int, overview: Overview) -> None:
        if serial != self._serial:
            return  # a newer reading is on its way
        self.overview = overview
        for row, stage in enumerate(overview.stages):
            mark, title, button = self._row(row, stage.key)
            set_icon_label(mark, stage.state)
            mark.setToolTip(STATE_WORDS[stage.state])
            title.setText(f"<b>{stage.title}</b><br>{stage.summary}")
            button.setText(stage.action_label)
            button.setToolTip(f"On the command line: {stage.command}")
        upcoming = overview.next_stage
        if upcoming is None:
            self.next_label.setText("Every stage is done. Draft with your release, or import "
                                    "new documents to keep the model current.")
            self.next_button.setVisible(False)
        else:
            self.next_label.setText(f"<b>{upcoming.title}:</b> {upcoming.summary}")
            self.next_button.setText(upcoming.action_label)
            self.next_button.setVisible(True)

    def _row(self, row: int, key: str) -> tuple[QLabel, QLabel, QPushButton]:
        if key not in self.rows:
            mark, title = QLabel(), QLabel()
            mark.setObjectName(f"stageState-{key}")
            mark.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
            title.setWordWrap(True)
            title.setObjectName(f"stage-{key}")
            button = QPushButton()
            button.setObjectName(f"stageAction-{key}")
            button.clicked.connect(lambda _=False, k=key: self._do(k))
            self.grid.addWidget(mark, row, 0)
            self.grid.addWidget(title, row, 1, 1, 2)
            self.grid.addWidget(button, row, 3)
            self.rows[key] = (mark, title, button)
        return self.rows[key]

    def stage(self, key: str) -> Stage | None:
        stages = self.overview.stages if self.overview else ()
        return next((s for s in stages if s.key == key), None)

    def _do(self, key: str) -> None:
        stage = self.stage(key)
        if stage is not None:
            self.act(stage.action)

    def _do_next(self) -> None:
        upcoming = self.overview.next_stage if self.overview else None
        if upcoming is not None:
            self.act(upcoming.action)
