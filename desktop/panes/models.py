"""Models pane: the registry as a lineage tree, with details, checksums and removal."""

from __future__ import annotations

import json
from pathlib import Path

from core.formatting import format_size
from core.models.bundled import BASE_MODEL_ID
from core.models.resolve import exported_gguf
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.dialogs.compare_drafts import CompareDraftsDialog
from desktop.dialogs.import_model import ImportModelDialog
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    Qt,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.dates import local_time

COLUMNS = ["Model", "Kind", "Architecture", "Parameters", "Size", "Created"]


def lineage_forest(records: list[ModelRecord]) -> dict[str | None, list[ModelRecord]]:
    """Children by parent id (each model under its first parent that exists; roots at None)."""
    ids = {r.id for r in records}
    forest: dict[str | None, list[ModelRecord]] = {}
    for record in records:
        parent = next((p for p in record.parents if p in ids), None)
        forest.setdefault(parent, []).append(record)
    return forest


def details_html(record: ModelRecord, chain: list[ModelRecord]) -> str:
    rows = [
        ("Id", record.id), ("Name", record.name), ("Kind", record.kind),
        ("Architecture", f"{record.architecture} ({record.model_type})"),
        ("Parameters", f"{record.parameters:,}"), ("Size", format_size(record.size_bytes)),
        ("Created", local_time(record.created)), ("Source", record.source or "-"),
        ("Lineage", " ← ".join(r.id for r in chain)),
        ("Datasets", ", ".join(record.datasets) or "-"),
        ("Documents", f"{len(record.documents)} document versions" if record.documents else "-"),
        ("Metrics", ", ".join(f"{k}={v:.4g}" for k, v in record.metrics.items()) or "-"),
    ]
    table = "".join(f"<tr><th align=left>{k}</th><td>{v}</td></tr>" for k, v in rows)
    config = json.dumps(record.config, indent=2, sort_keys=True)
    return f"<table>{table}</table><h4>Config that produced it</h4><pre>{config}</pre>"


class ModelsPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-models")
        self.state = state
        self.monitor = monitor
        self.tree = QTreeWidget()
        self.tree.setObjectName("modelsTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemSelectionChanged.connect(self._show_selected)
        self.details = QTextBrowser()
        self.details.setObjectName("modelDetails")
        self.status = QLabel()
        self.status.setObjectName("modelsStatus")

        self.import_button = QPushButton("Import bundled base model")
        self.import_button.setObjectName("importBase")
        self.import_button.clicked.connect(self._import_base)
        self.import_model_button = QPushButton("Import a base model…")
        self.import_model_button.setObjectName("importModel")
        self.import_model_button.setToolTip("Bring a model your team has (a Hugging Face "
                                            "folder or a GGUF file): checked first, then "
                                            "stored once on this computer.")
        self.import_model_button.clicked.connect(lambda: self.import_model())
        self.verify_button = QPushButton("Verify checksums")
        self.verify_button.setObjectName("verifyModel")
        self.verify_button.clicked.connect(self._verify_selected)
        self.cluster_button = QPushButton("Import a cluster run…")
        self.cluster_button.setObjectName("importClusterRun")
        self.cluster_button.setToolTip("Register the adapter of a finished cluster bundle "
                                       "(its result/ folder) with its lineage and logs.")
        self.cluster_button.clicked.connect(self._choose_cluster_run)
        self.compare_button = QPushButton("Compare drafts…")
        self.compare_button.setObjectName("compareDrafts")
        self.compare_button.setToolTip("Let up to four models draft the same held-out requests "
                                       "and compare the drafts and their scores.")
        self.compare_button.clicked.connect(lambda: self.compare_drafts())
        self.compare_dialog: CompareDraftsDialog | None = None
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("removeModel")
        self.remove_button.clicked.connect(self._remove_selected)

        header = QHBoxLayout()
        header.addWidget(QLabel("<h2>Models</h2>"))
        header.addStretch(1)
        for button in (self.import_button, self.import_model_button, self.cluster_button,
                       self.compare_button,
                       self.verify_button, self.remove_button):
            header.addWidget(button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.details)
        splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

        state.workspace_changed.connect(self._refresh_on)
        state.models_changed.connect(self.refresh)
        monitor.finished.connect(self._refresh_on)
        self.refresh()

    def _registry(self) -> ModelRegistry | None:
        return ModelRegistry(self.state.workspace) if self.state.workspace else None

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        registry = self._registry()
        records = registry.list() if registry else []
        selected = self.selected_model()
        self.tree.clear()
        forest = lineage_forest(records)

        def add(parent_item: QTreeWidgetItem | None, record: ModelRecord) -> None:
            item = QTreeWidgetItem([
                record.name if record.name != record.id else record.id, record.kind,
                record.architecture, f"{record.parameters / 1e6:,.0f}M",
                format_size(record.size_bytes), local_time(record.created),
            ])
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(0, record.id)
            if parent_item is None:
                self.tree.addTopLevelItem(item)
            else:
                parent_item.addChild(item)
            for child in forest.get(record.id, []):
                add(item, child)
            if record.id == selected:
                self.tree.setCurrentItem(item)

        for root in forest.get(None, []):
            add(None, root)
        self.tree.expandAll()
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        has_base = bool(registry and registry.exists(BASE_MODEL_ID))
        self.import_button.setEnabled(bool(registry) and not has_base)
        self.import_button.setVisible(bool(registry) and not has_base)
        self.import_model_button.setEnabled(bool(registry))
        self.compare_button.setEnabled(bool(registry))
        self.status.setText(f"{len(records)} models" if registry else "No workspace open.")
        self._show_selected()

    def selected_model(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _show_selected(self) -> None:
        registry, model_id = self._registry(), self.selected_model()
        self.verify_button.setEnabled(bool(model_id))
        self.remove_button.setEnabled(bool(model_id))
        if registry and not self.tree.topLevelItemCount():
            self.details.setHtml("<p>No models in this workspace yet. Import the bundled "
                                 "base model, or bring your own with <b>Import a base "
                                 "model…</b> (a Hugging Face folder or a GGUF file).</p>")
            return
        if not registry or not model_id:
            self.details.setHtml("<p>Select a model to see its lineage and config.</p>")
            return
        record = registry.get(model_id)
        self.details.setHtml(details_html(record, registry.lineage(model_id)))

    def compare_drafts(self, models: tuple[str, ...] | None = None) -> CompareDraftsDialog:
        """The Compare drafts dialog (not modal), with the selected model ticked when it is
        a GGUF or has been exported to one; the one already open when a comparison runs."""
        dialog = self.compare_dialog
        if dialog is not None and (dialog.isVisible() or dialog.job_id is not None):
            dialog.show()
            dialog.raise_()
            return dialog
        registry, selected = self._registry(), self.selected_model()
        if models is None:
            gguf = exported_gguf(registry, selected) if registry and selected else None
            models = (gguf,) if gguf else ()
        if dialog is not None:
            dialog.deleteLater()
        self.compare_dialog = CompareDraftsDialog(self.state, self.monitor, self, models)
        self.compare_dialog.show()
        return self.compare_dialog

    def _import_base(self) -> None:
        self.monitor.submit("import-base-model", {})
        self.import_button.setEnabled(False)
        self.status.setText("Importing the bundled base model — follow it in Jobs.")

    def import_model(self) -> ImportModelDialog:
        dialog = ImportModelDialog(self.monitor, self)
        dialog.open()
        return dialog

    def _choose_cluster_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A finished cluster bundle")
        if folder:
            self.import_cluster_run(Path(folder))

    def import_cluster_run(self, folder: Path) -> None:
        from core.training.cluster import import_run

        workspace = self.state.workspace
        if workspace is None:
            return
        self.status.setText(f"Checking and importing {folder.name}…")

        def done(record: ModelRecord) -> None:
            self.status.setText(f"Imported {record.id} ({record.source}).")
            self.state.models_changed.emit()

        CoreOp(self, lambda: import_run(workspace, folder)).success(done).failure(
            lambda error: self.status.setText(f"Not imported: {error}")).run()

    def _verify_selected(self) -> None:
        registry, model_id = self._registry(), self.selected_model()
        if not registry or not model_id:
            return
        self.status.setText(f"Checking {model_id}…")

        def done(bad: list[str]) -> None:
            self.status.setText(
                f"{model_id}: {len(bad)} file(s) missing or altered: {', '.join(bad)}" if bad
                else f"{model_id}: every file matches its checksum."
            )

        CoreOp(self, lambda: registry.verify(model_id)).success(done).run()

    def _remove_selected(self) -> None:
        registry, model_id = self._registry(), self.selected_model()
        if not registry or not model_id:
            return
        answer = QMessageBox.question(
            self, "Remove model", f"Remove {model_id} and its files from this workspace?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        CoreOp(self, lambda: registry.remove(model_id)).success(
            lambda _: self.state.models_changed.emit()
        ).run()
