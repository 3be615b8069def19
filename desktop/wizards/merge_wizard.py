"""Merge wizard: pick compatible models → method, weights and density (with the mergekit
YAML previewed) → run → compare the merge with its sources side by side.

Incompatible models are shown disabled with the reason. The method page checks the whole plan
off the GUI thread (``core.merging.plan``): the base it would use, and every problem; Next
stays off until it can run. When a base and its fine-tunes are ticked for a method that needs
a base, one click makes the base the base. The engine checks again before anything runs.
"""

from __future__ import annotations

import html

from core.errors import ScriptoriumError
from core.jobs import JobStatus
from core.jobs.results import MergeResult, result_of
from core.merging.compat import check_compatible
from core.merging.config import (
    METHOD_TITLES,
    METHODS,
    NEEDS_BASE,
    TAKES_DENSITY,
    MergeConfig,
    merge_yaml,
    parse_merge_config,
)
from core.merging.plan import MergePlan, plan_merge
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QRadioButton,
    QSlider,
    Qt,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from desktop.state import AppState
from desktop.widgets.buttons import button
from desktop.widgets.job_progress import JobProgress
from desktop.wizards.merge_compare import ComparePage

MERGEABLE = ("base", "merged", "adapter")
SLIDER_SCALE = 100


class ModelsPage(QWizardPage):
    """Checkable registry models; once one is ticked, incompatible ones are disabled."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.setTitle("Models to merge")
        self.setSubTitle("Pick two or more models of the same architecture, size and tokenizer.")
        self.state = state
        self.list = QListWidget()
        self.list.setObjectName("mergeModels")
        self.list.itemChanged.connect(self._on_changed)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.note)
        self.records: dict[str, ModelRecord] = {}
        self._anchor: str | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        self.records = {r.id: r for r in registry.list() if r.kind in MERGEABLE}
        self.list.blockSignals(True)
        self.list.clear()
        for record in self.records.values():
            item = QListWidgetItem(f"{record.id}  [{record.kind}, {record.architecture}, "
                                   f"{record.parameters / 1e6:.0f}M]")
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)

    def item(self, model_id: str) -> QListWidgetItem:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == model_id:
                return self.list.item(row)
        raise KeyError(model_id)

    def checked(self) -> list[str]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())
                if self.list.item(r).checkState() == Qt.CheckState.Checked]

    def _on_changed(self, _item: QListWidgetItem) -> None:
        checked = self.checked()
        anchor = checked[0] if checked else None
        if anchor != self._anchor:
            self._anchor = anchor
            self._check_against(anchor)
        self.completeChanged.emit()

    def _check_against(self, anchor: str | None) -> None:
        """Disable every model that cannot be merged with ``anchor`` (computed off-thread)."""
        if anchor is None:
            self._apply({})
            return
        registry = ModelRegistry(self.state.workspace)  # type: ignore[arg-type]
        first = self.records[anchor]
        others = [r for r in self.records.values() if r.id != anchor]

        def reasons() -> dict[str, str]:
            return {other.id: "; ".join(problems) for other in others
                    if (problems := check_compatible([first, other], registry))}

        self.note.setText("Checking compatibility…")
        CoreOp(self, reasons).success(self._apply).run()

    def _apply(self, reasons: dict[str, str]) -> None:
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            model_id = item.data(Qt.ItemDataRole.UserRole)
            reason = reasons.get(model_id)
            flags = item.flags()
            if reason:
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setFlags(flags & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(f"Cannot be merged with {self._anchor}: {reason}")
            else:
                item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("")
        self.list.blockSignals(False)
        self.note.setText(f"{len(reasons)} model(s) disabled: hover them to see why."
                          if reasons else "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return len(self.checked()) >= 2


class _Slider(QWidget):
    """A horizontal slider for a float in [low, high] with its value shown."""

    def __init__(self, low: float, high: float, value: float, name: str) -> None:
        super().__init__()
        self.low, self.high = low, high
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(name)
        self.slider.setRange(int(low * SLIDER_SCALE), int(high * SLIDER_SCALE))
        self.slider.setValue(int(round(value * SLIDER_SCALE)))
        self.label = QLabel()
        self.slider.valueChanged.connect(lambda _: self.label.setText(f"{self.value():.2f}"))
        self.label.setText(f"{self.value():.2f}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)

    def value(self) -> float:
        return self.slider.value() / SLIDER_SCALE


class MethodPage(QWizardPage):
    """Method with one-line explanations, weights/density/t sliders, YAML preview."""

    def __init__(self, models: ModelsPage) -> None:
        super().__init__()
        self.setTitle("How to merge")
        self.models_page = models
        self.methods = {m: QRadioButton(METHOD_TITLES[m]) for m in METHODS}
        self.methods["ties"].setChecked(True)
        self.base = QComboBox()
        self.base.setObjectName("mergeBase")
        self.name = QLineEdit()
        self.name.setPlaceholderText("name of the merged model (optional)")
        self.params = QFormLayout()
        self.params_box = QWidget()
        self.params_box.setLayout(self.params)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("yamlPreview")
        self.preview.setReadOnly(True)
        self.error = QLabel()
        self.error.setObjectName("mergeError")
        self.error.setWordWrap(True)
        method_box = QVBoxLayout()
        for method, radio in self.methods.items():
            radio.setObjectName(f"method-{method}")
            radio.toggled.connect(lambda on, _m=method: on and self._rebuild())
            method_box.addWidget(radio)
        form = QFormLayout()
        form.addRow("Base (for task vectors)", self.base)
        form.addRow("Name", self.name)
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addLayout(method_box)
        left.addLayout(form)
        left.addWidget(self.params_box)
        left.addWidget(self.error)
        left.addStretch(1)
        layout.addLayout(left, 1)
        layout.addWidget(self.preview, 1)
        self.weights: dict[str, _Slider] = {}
        self.densities: dict[str, _Slider] = {}
        self.t: _Slider | None = None
        self.use_parent = button("", "useParentAsBase", self._use_parent,
                                 "Untick it as a model and take the differences from it")
        self.use_parent.setVisible(False)
        left.insertWidget(left.indexOf(self.error) + 1, self.use_parent)
        self.base.currentIndexChanged.connect(lambda _: self.update_preview())
        self.name.textChanged.connect(lambda _: self.update_preview())
        self.config: MergeConfig | None = None
        self.plan: MergePlan | None = None  # for self.config; None while it is checked
        self._serial = 0

    def method(self) -> str:
        return next(m for m, radio in self.methods.items() if radio.isChecked())

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        chosen = self.models_page.checked()
        self.base.clear()
        self.base.addItem("common parent (automatic)", None)
        for model_id, record in self.models_page.records.items():
            if model_id not in chosen and record.kind in ("base", "merged"):
                self.base.addItem(model_id, model_id)
        self.methods["slerp"].setEnabled(len(chosen) == 2)
        if len(chosen) != 2 and self.methods["slerp"].isChecked():
            self.methods["ties"].setChecked(True)
        self._rebuild()

    def _rebuild(self) -> None:
        while self.params.rowCount():
            self.params.removeRow(0)
        self.weights, self.densities, self.t = {}, {}, None
        chosen = self.models_page.checked()
        method = self.method()
        self.base.setEnabled(method in NEEDS_BASE)
        if method == "slerp":
            self.t = _Slider(0.0, 1.0, 0.5, "slider-t")
            self.t.slider.valueChanged.connect(lambda _: self.update_preview())
            self.params.addRow(f"t (0 = {chosen[0]})", self.t)
        else:
            for model_id in chosen:
                weight = _Slider(0.0, 2.0, round(1.0 / len(chosen), 2), f"weight-{model_id}")
                weight.slider.valueChanged.connect(lambda _: self.update_preview())
                self.weights[model_id] = weight
                self.params.addRow(f"weight {model_id}", weight)
                if method in TAKES_DENSITY:
                    density = _Slider(0.05, 1.0, 0.5, f"density-{model_id}")
                    density.slider.valueChanged.connect(lambda _: self.update_preview())
                    self.densities[model_id] = density
                    self.params.addRow(f"density {model_id}", density)
        self.update_preview()

    def raw_config(self) -> dict[str, object]:
        models = []
        for model_id in self.models_page.checked():
            source: dict[str, object] = {"model": model_id}
            if model_id in self.weights:
                source["weight"] = self.weights[model_id].value()
            if model_id in self.densities:
                source["density"] = self.densities[model_id].value()
            models.append(source)
        raw: dict[str, object] = {"method": self.method(), "models": models}
        if self.t is not None:
            raw["t"] = self.t.value()
        if self.method() in NEEDS_BASE and self.base.currentData():
            raw["base"] = self.base.currentData()
        if self.name.text().strip():
            raw["name"] = self.name.text().strip()
        return raw

    def update_preview(self) -> None:
        """Show the YAML at once; check the plan (base, compatibility) on a worker thread."""
        self._serial += 1
        self.plan = None
        self.use_parent.setVisible(False)
        try:
            self.config = parse_merge_config(self.raw_config())
        except ScriptoriumError as error:
            self.config = None
            self._show_problem(error.message)
            self.completeChanged.emit()
            return
        self.preview.setPlainText(merge_yaml(self.config))
        self.error.setText("Checking the merge…")
        config, serial = self.config, self._serial
        workspace = self.models_page.state.workspace
        CoreOp(self, lambda: plan_merge(workspace, config)).success(  # type: ignore[arg-type]
            lambda plan: self._planned(serial, config, plan)).run()
        self.completeChanged.emit()

    def _planned(self, serial: int, config: MergeConfig, plan: MergePlan) -> None:
        if serial != self._serial:
            return  # the choice changed meanwhile: a newer check is on its way
        self.plan = plan
        if config.method in NEEDS_BASE:
            self.base.setItemText(0, f"automatic: {plan.base}" if plan.base and not config.base
                                  else "common parent (automatic)")
            if plan.base:
                self.preview.setPlainText(merge_yaml(config, base=plan.base))
        self.error.setText("")
        if not plan.ok:
            self._show_problem(" ".join(plan.problems))
        if plan.parent_chosen and not plan.ok:
            self.use_parent.setText(f"Use {plan.parent_chosen} as the base")
            self.use_parent.setVisible(True)
        self.completeChanged.emit()

    def _show_problem(self, text: str) -> None:
        self.error.setText(f"<span style='color:#b00'>{html.escape(text)}</span>")

    def _use_parent(self) -> None:
        """Base + its fine-tunes were ticked: untick the base and merge into it."""
        parent = self.plan.parent_chosen if self.plan else None
        if parent is None:
            return
        self.models_page.item(parent).setCheckState(Qt.CheckState.Unchecked)
        if self.base.findData(parent) < 0:
            self.base.addItem(parent, parent)
        self.base.blockSignals(True)
        self.base.setCurrentIndex(self.base.findData(parent))
        self.base.blockSignals(False)
        self._rebuild()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.config is not None and self.plan is not None and self.plan.ok


class RunPage(QWizardPage):
    def __init__(self, method: MethodPage, monitor: JobMonitor) -> None:
        super().__init__()
        self.setTitle("Merging")
        self.method_page, self.monitor = method, monitor
        self.job = JobProgress(monitor, "mergeProgress")
        self.job.ended.connect(self._ended)
        self.bar, self.message = self.job.bar, self.job.label
        layout = QVBoxLayout(self)
        layout.addWidget(self.job)
        layout.addStretch(1)
        self.status: JobStatus | None = None
        self._merged: object = None  # the config of the merge that succeeded

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        """Merge, unless this very merge already succeeded (Back then Next again); after a
        failure, or with another method chosen on Back, it runs again."""
        config = self.method_page.config
        if config is None or self.job.running or (
                self.merged_id() is not None and config == self._merged):
            return
        self.status = None
        self._merged = config
        self.job.start("merge", config, "Merge models")

    def _ended(self, status: JobStatus) -> None:
        self.status = status
        merged = result_of(status, MergeResult)
        if merged is not None:
            self.message.setText(f"Registered {merged.model_id}.")
        self.completeChanged.emit()

    def merged_id(self) -> str | None:
        merged = result_of(self.status, MergeResult)
        return merged.model_id if merged else None

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.merged_id() is not None


class MergeWizard(QWizard):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mergeWizard")
        self.setWindowTitle("Merge models")
        self.resize(980, 680)
        self.models = ModelsPage(state)
        self.method = MethodPage(self.models)
        self.run_page = RunPage(self.method, monitor)
        self.compare = ComparePage(state, self.models.checked, self.run_page.merged_id, monitor)
        for page in (self.models, self.method, self.run_page, self.compare):
            self.addPage(page)
