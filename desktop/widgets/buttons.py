"""A push button in one line: text, object name (for tests), what it does, its tip."""

from __future__ import annotations

from collections.abc import Callable

from desktop.qt import QPushButton


def button(text: str, name: str, clicked: Callable[[], object], tip: str = "") -> QPushButton:
    widget = QPushButton(text)
    widget.setObjectName(name)
    widget.clicked.connect(lambda: clicked())
    if tip:
        widget.setToolTip(tip)
    return widget
