"""What a pane's group boxes share: a one-line explanation of what the box is for, and a
line for the outcome of the last action."""

from __future__ import annotations

from desktop.qt import QLabel


def explanation(text: str) -> QLabel:
    """A word-wrapped note, in grey under a box's title, for someone new to this part."""
    note = QLabel(text)
    note.setObjectName("explanation")
    note.setWordWrap(True)
    note.setStyleSheet("color: #555;")
    return note


class MessageLine(QLabel):
    """A box's line for the outcome of its last action: hidden while there is none."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setWordWrap(True)
        self.hide()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setVisible(bool(text))
