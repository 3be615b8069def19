"""The advanced page's form: one editor per training setting, built from TrainConfig, each
with a readable name and a line that says what it does (``train_labels``)."""

from __future__ import annotations

import typing
from typing import Any

from core.training.config import TrainConfig
from desktop.qt import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from desktop.wizards.train_labels import label

# Chosen on the first page or managed by the wizard itself.
SKIPPED = {"recipe", "base", "dataset", "init_adapter", "name", "resume", "lora"}
LORA_FIELDS = ("r", "alpha", "dropout")
# Integer fields whose 0 means "automatic" (the value 0 itself is sent).
ZERO_IS_AUTO = {"nproc", "max_length"}


def _editor(annotation: Any, value: Any) -> QWidget:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        combo = QComboBox()
        combo.addItems([str(a) for a in typing.get_args(annotation)])
        combo.setCurrentText(str(value))
        return combo
    if annotation is bool:
        box = QCheckBox()
        box.setChecked(bool(value))
        return box
    if annotation is int or (args == [int]):
        spin = QSpinBox()
        spin.setRange(0, 1_000_000)
        if type(None) in typing.get_args(annotation):
            spin.setSpecialValueText("auto")  # 0 shows as "auto" and means None
            spin.setProperty("zeroIsNone", True)
        spin.setValue(int(value or 0))
        return spin
    if annotation is float:
        spin = QDoubleSpinBox()
        spin.setDecimals(6)
        spin.setRange(0.0, 1000.0)
        spin.setSingleStep(0.01)
        spin.setValue(float(value))
        return spin
    line = QLineEdit("" if value is None else str(value))
    return line


def _value(editor: QWidget) -> str:
    if isinstance(editor, QComboBox):
        return editor.currentText()
    if isinstance(editor, QCheckBox):
        return "true" if editor.isChecked() else "false"
    if isinstance(editor, QSpinBox):
        zero_is_none = bool(editor.property("zeroIsNone"))
        return "null" if editor.value() == 0 and zero_is_none else str(editor.value())
    if isinstance(editor, QDoubleSpinBox):
        return repr(editor.value())
    return editor.text()  # type: ignore[attr-defined]


class TrainForm(QWidget):
    """Editors for every field; ``overrides()`` returns ``key=value`` strings that differ."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.editors: dict[str, QWidget] = {}
        self.initial: dict[str, str] = {}

    def load(self, config: TrainConfig) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        for name in LORA_FIELDS:
            field = type(config.lora).model_fields[name]
            self._add(f"lora.{name}", field.annotation, getattr(config.lora, name),
                      field.description or f"LoRA {name}")
        for name, field in TrainConfig.model_fields.items():
            if name in SKIPPED:
                continue
            self._add(name, field.annotation, getattr(config, name), field.description or "")
        self.initial = {key: _value(editor) for key, editor in self.editors.items()}

    def _add(self, key: str, annotation: Any, value: Any, tip: str) -> None:
        editor = _editor(annotation, value)
        if key in ZERO_IS_AUTO and isinstance(editor, QSpinBox):
            editor.setSpecialValueText("auto")  # 0 is a real value meaning "decide for me"
        editor.setObjectName(f"field-{key}")
        name, explanation = label(key)
        editor.setToolTip(f"{explanation}\n(command line: --set {key}=…)".strip())
        self.editors[key] = editor
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 4)
        column.setSpacing(1)
        column.addWidget(editor)
        if explanation:
            note = QLabel(explanation)
            note.setObjectName(f"explain-{key}")
            note.setWordWrap(True)
            note.setStyleSheet("color: #555; font-size: small;")
            column.addWidget(note)
        self.form.addRow(name, cell)

    def overrides(self) -> list[str]:
        return [f"{key}={_value(editor)}" for key, editor in self.editors.items()
                if _value(editor) != self.initial.get(key)]
