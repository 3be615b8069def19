"""Releases pane: "Publish on the network…": serve the deployed release to the team.

Starting the server (``core.serving.publish``) loads the model and waits until it answers,
so it runs as an operation off the GUI thread; the server then runs in its own session,
shown here with its address and token until "Stop publishing" (or
``scriptorium serve --stop``) ends it.
"""

from __future__ import annotations

from core.serving.engines import DEFAULT_PARALLEL, ENGINE_LABELS
from core.serving.publish import publish, published, unpublish
from core.serving.server import ServeConfig
from core.serving.state import ServerState
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.group_box import explanation

HOSTS = [("0.0.0.0", "the local network"), ("127.0.0.1", "this computer only")]


class PublishBox(QGroupBox):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Share with your team", parent)
        self.setObjectName("publishBox")
        self.state = state
        self.busy = False
        self.host = QComboBox()
        self.host.setObjectName("publishHost")
        for value, label in HOSTS:
            self.host.addItem(label, value)
        self.port = QSpinBox()
        self.port.setObjectName("publishPort")
        self.port.setRange(1024, 65535)
        self.port.setValue(8765)
        self.parallel = QSpinBox()
        self.parallel.setObjectName("publishParallel")
        self.parallel.setRange(1, 16)
        self.parallel.setValue(DEFAULT_PARALLEL)
        self.parallel.setToolTip("How many drafts the server writes at the same time; more "
                                 "analysts than this wait their turn. Each takes memory for "
                                 "its own context window.")
        self.publish_button = QPushButton("Publish on the network…")
        self.publish_button.setObjectName("publishButton")
        self.publish_button.setToolTip("Serve the deployed release with llama.cpp's server; "
                                       "analysts add it in Draft → Endpoints…")
        self.publish_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop publishing")
        self.stop_button.setObjectName("unpublishButton")
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel()
        self.status.setObjectName("publishStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(explanation(
            "Let colleagues draft with the deployed release from their own computers: publish "
            "it here, then they add the address and token shown in Draft → Endpoints…"))
        row = QHBoxLayout()
        row.addWidget(QLabel("On"))
        row.addWidget(self.host)
        row.addWidget(QLabel("port"))
        row.addWidget(self.port)
        row.addWidget(QLabel("for"))
        row.addWidget(self.parallel)
        row.addWidget(QLabel("analysts at once"))
        row.addWidget(self.publish_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        if self.busy:  # a start or stop is under way: its result will be shown
            return
        workspace = self.state.workspace
        running = published(workspace) if workspace is not None else None
        self._show(running)

    def _show(self, running: ServerState | None) -> None:
        self.busy = False
        if running is None:
            self.status.setText("Not published.")
        else:
            engine = ENGINE_LABELS.get(running.engine, running.engine)
            at_once = (f"up to {running.parallel} analysts at once" if running.parallel > 1
                       else "one analyst at a time")
            where = " or ".join(running.share_urls or (running.url,))
            self.status.setText(f"Serving {running.model} ({engine}, {at_once}).\n"
                                f"Colleagues add: address {where} — token {running.token}")
        has_workspace = self.state.workspace is not None
        self.publish_button.setEnabled(has_workspace and running is None)
        self.stop_button.setEnabled(running is not None)

    def start(self) -> None:
        workspace = self.state.workspace
        if workspace is None or self.busy:
            return
        config = ServeConfig(host=self.host.currentData(), port=self.port.value(),
                             threads=self.state.settings.threads or None,
                             parallel=self.parallel.value())
        self.busy = True
        self.publish_button.setEnabled(False)
        self.status.setText("Starting the server…")
        CoreOp(self, lambda: publish(workspace, config)[1]).success(self._show).failure(
            self._failed).run()

    def stop(self) -> None:
        workspace = self.state.workspace
        if workspace is None or self.busy:
            return
        self.busy = True
        self.stop_button.setEnabled(False)
        CoreOp(self, lambda: unpublish(workspace)).success(lambda _: self._show(None)).failure(
            self._failed).run()

    def _failed(self, error: BaseException) -> None:
        from desktop.errors import show_error

        self.busy = False
        self.refresh()
        show_error(self, error)
