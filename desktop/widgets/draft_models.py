"""The Draft pane's model bar: which model drafts, and the one beside it when comparing.

The pickers list the workspace's GGUF models (the deployed release first) and the remote
endpoints of the user settings; Endpoints… edits those.
"""

from __future__ import annotations

from collections.abc import Callable

from core.drafting.session import ModelOption
from desktop.qt import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget
from desktop.widgets.buttons import button


def _picker(name: str) -> QComboBox:
    """A model picker that shares the row's width instead of growing to its longest label
    (two long model names side by side made the window wider than a laptop's screen)."""
    picker = QComboBox()
    picker.setObjectName(name)
    picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    picker.setMinimumContentsLength(18)
    return picker


class ModelBar(QWidget):
    def __init__(self, edit_endpoints: Callable[[], object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.main = _picker("draftModelA")
        self.other = _picker("draftModelB")
        self.compare = QCheckBox("Side by side with")
        self.compare.setObjectName("draftCompare")
        self.compare.toggled.connect(self.other.setVisible)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model:"))
        layout.addWidget(self.main, 1)
        layout.addWidget(button("Endpoints…", "draftEndpoints", edit_endpoints,
                                "Remote servers (scriptorium serve) to draft with"))
        layout.addWidget(self.compare)
        layout.addWidget(self.other, 1)
        self.other.setVisible(False)

    def set_options(self, options: list[ModelOption]) -> None:
        """List ``options``, keeping each picker's choice where it is still there."""
        for picker in (self.main, self.other):
            current = picker.currentData()
            picker.clear()
            for option in options:
                picker.addItem(option.label, option.id)
            index = picker.findData(current)
            if index >= 0:
                picker.setCurrentIndex(index)

    def chosen(self) -> list[str]:
        """The model to draft with, and the one beside it when comparing."""
        main, other = self.main.currentData(), self.other.currentData()
        if main is None:
            return []
        return [main, other] if self.compare.isChecked() and other else [main]
