"""The drafting pane's generation settings: temperature, top-p, length, knowledge base and
prompt format, in one row."""

from __future__ import annotations

from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.session import DraftOptions
from core.generation.model import GenerationSettings
from desktop.qt import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)
from desktop.widgets.draft_outcome import FORMAT_TIP

PROMPT_FORMATS = (("auto", "Automatic"), ("chat", "Chat"), ("document", "Document"))


def format_picker(object_name: str) -> QComboBox:
    """Automatic / Chat / Document; the item data is the engine's ``format`` value."""
    picker = QComboBox()
    picker.setObjectName(object_name)
    for value, label in PROMPT_FORMATS:
        picker.addItem(label, value)
    picker.setToolTip("How the request is put to the model. Automatic decides from the "
                      "model's history.\n" + FORMAT_TIP)
    return picker


class DraftSettings(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("draftTemperature")
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.7)
        self.temperature.setToolTip("Higher values give more varied wording; 0 always gives "
                                    "the same draft.")
        self.top_p = QDoubleSpinBox()
        self.top_p.setObjectName("draftTopP")
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(0.9)
        self.top_p.setToolTip("Top-p: lower values keep to the model's most likely words.")
        self.max_tokens = QSpinBox()
        self.max_tokens.setObjectName("draftMaxTokens")
        self.max_tokens.setRange(1, 8192)
        self.max_tokens.setValue(512)
        self.max_tokens.setToolTip("The longest answer, in tokens (a token is about ¾ of a "
                                   "word).")
        self.retrieval = QCheckBox("Use knowledge base")
        self.retrieval.setObjectName("draftRetrieval")
        self.retrieval.setChecked(True)
        self.quick = QCheckBox("Quick start")
        self.quick.setObjectName("draftQuickStart")
        self.quick.setChecked(True)
        self.quick.setToolTip(
            f"Show the model only as much of the sources as it reads in about "
            f"{FIRST_TOKEN_S:g} s on this computer, the parts closest to your request, so the "
            "first words come quickly.\nUntick to give it every source that fits: slower to "
            "start on a computer without a graphics card.")
        self.format = format_picker("draftFormat")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Temperature", self.temperature), ("Top-p", self.top_p),
                              ("Max tokens", self.max_tokens),
                              ("Prompt format", self.format)):
            layout.addWidget(QLabel(label))
            layout.addWidget(widget)
        layout.addWidget(self.retrieval)
        layout.addWidget(self.quick)
        self.retrieval.toggled.connect(self.quick.setEnabled)

    def generation(self) -> GenerationSettings:
        return GenerationSettings(temperature=round(self.temperature.value(), 3),
                                  top_p=round(self.top_p.value(), 3),
                                  max_tokens=self.max_tokens.value())

    def first_token_s(self) -> float | None:
        """The first-token target of the prompt budget (None: every source that fits)."""
        return FIRST_TOKEN_S if self.quick.isChecked() else None

    def prompt_format(self) -> str:
        """"auto", "chat" or "document"."""
        return str(self.format.currentData())

    def options(self) -> DraftOptions:
        return DraftOptions(settings=self.generation(), retrieval=self.retrieval.isChecked(),
                            format=self.prompt_format(), first_token_s=self.first_token_s())
