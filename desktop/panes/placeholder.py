"""A stage that a later release fills: says what it will do and what works today."""

from __future__ import annotations

from desktop.qt import QLabel, Qt, QVBoxLayout, QWidget


class PlaceholderPane(QWidget):
    def __init__(self, title: str, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"pane-{title.lower()}")
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h2>{title}</h2>")
        body = QLabel(description)
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(heading)
        layout.addWidget(body)
        layout.addStretch(1)
