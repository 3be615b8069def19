"""Shown when no workspace is open: sample, new, open, recent."""

from __future__ import annotations

from pathlib import Path

from desktop.qt import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget, Signal


class WelcomePane(QWidget):
    open_sample = Signal()
    run_demo = Signal()
    new_workspace = Signal()
    open_workspace = Signal()
    open_recent = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pane-welcome")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h1>Scriptorium</h1><p>Make a small language model yours: "
                                "import documents, train, merge, export and draft — offline.</p>"))
        buttons = QHBoxLayout()
        for text, signal, name in (
            ("Open the sample workspace", self.open_sample, "sampleButton"),
            ("Run the guided demo", self.run_demo, "demoButton"),
            ("New workspace…", self.new_workspace, "newButton"),
            ("Open workspace…", self.open_workspace, "openButton"),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.clicked.connect(signal.emit)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Recent workspaces"))
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.itemActivated.connect(lambda item: self.open_recent.emit(item.text()))
        layout.addWidget(self.recent, 1)

    def set_recent(self, paths: tuple[str, ...]) -> None:
        self.recent.clear()
        for path in paths:
            if Path(path).exists():
                self.recent.addItem(path)
