"""Generate instruction data: a local teacher model writes instruction pairs from the
workspace's documents (job ``synthesize-pairs``); the pairs wait in the review queue."""

from __future__ import annotations

from typing import Any

from core.jobs import JobStatus
from core.workspace import Workspace
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.buttons import button
from desktop.widgets.job_progress import JobProgress

TASK_LABELS = {
    "qa": ("Questions and answers",
           "questions a proposal reviewer would ask about a passage, answered from it"),
    "section": ("Proposal sections",
                "the requirement a past proposal section answers; your section is the answer"),
    "rewrite": ("Style rewrites",
                "plain notes of a passage; your polished passage is the answer"),
}
WEAK = ("The bundled 270M model is a demonstration teacher: most of its pairs are weak and "
        "the filters remove them. Import a larger model (3B or more) for pairs worth "
        "training on.")


def _choices(workspace: Workspace) -> dict[str, Any]:
    """Teachers (registered GGUF models, the deployed one first; endpoints) and documents."""
    from core.datasets.corpus import live_documents
    from core.generation.runtime import default_model_id, gguf_models
    from core.ingest.store import DocumentStore
    from core.settings import load_settings
    from core.synth.job import SOURCE_KINDS

    default = default_model_id(workspace)
    models = sorted(gguf_models(workspace), key=lambda r: r.id != default)
    teachers = [(r.id, r.id + (" (deployed)" if r.id == default else "")) for r in models]
    teachers += [(f"endpoint:{e.name}", f"{e.name} (endpoint)")
                 for e in load_settings().remote_endpoints]
    documents = [(r.id, r.title, r.kind)
                 for r in live_documents(DocumentStore(workspace), SOURCE_KINDS)]
    return {"teachers": teachers, "documents": documents}


class SynthDialog(QDialog):
    def __init__(self, workspace: Workspace, monitor: JobMonitor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("synthDialog")
        self.setWindowTitle("Generate instruction data")
        self.workspace, self.monitor = workspace, monitor
        self.batch: str | None = None
        intro = QLabel("A model you already have reads your documents and writes instruction "
                       "→ answer pairs from them. Every pair is checked against its passage "
                       "(numbers and codes must be in it, the answer must say what the "
                       "passage says) and waits for you to accept, edit or reject it; only "
                       "accepted pairs join the next SFT dataset.")
        intro.setWordWrap(True)
        self.teacher = QComboBox()
        self.teacher.setObjectName("synthTeacher")
        self.teacher.currentIndexChanged.connect(self._teacher_note)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("synthTeacherNote")
        self.tasks: dict[str, QCheckBox] = {}
        tasks = QVBoxLayout()
        for task, (label, line) in TASK_LABELS.items():
            box = QCheckBox(f"{label} — {line}")
            box.setChecked(task != "rewrite")
            box.toggled.connect(self._update)
            self.tasks[task] = box
            tasks.addWidget(box)
        self.per_chunk = QSpinBox()
        self.per_chunk.setRange(1, 8)
        self.per_chunk.setValue(2)
        self.per_chunk.setToolTip("How many question/answer pairs the teacher is asked for "
                                  "per passage.")
        self.limit = QSpinBox()
        self.limit.setRange(0, 100_000)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("Passages to work through now; running again goes on with the "
                              "rest and keeps what was made.")
        for spin in (self.per_chunk, self.limit):
            spin.setMaximumWidth(120)
        self.documents = QListWidget()
        self.documents.setObjectName("synthDocuments")
        self.documents.itemChanged.connect(self._update)
        form = QFormLayout()
        form.addRow("Teacher model", self.teacher)
        form.addRow("", self.note)
        form.addRow("Pairs to make", tasks)
        form.addRow("Questions per passage", self.per_chunk)
        form.addRow("Passages this run", self.limit)
        form.addRow("From documents", self.documents)
        self.progress = JobProgress(monitor, "synthProgress")
        self.progress.ended.connect(self._ended)
        self.progress.setVisible(False)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setObjectName("synthResult")
        self.start_button = button("Generate", "synthStart", self.start,
                                   "Start generating (a background job; you can close this)")
        self.stop_button = button("Stop", "synthStop", self.progress.cancel,
                                  "Stop after the passage being read; what was made is kept")
        self.review_button = button("Review pairs…", "synthReview", self.open_review,
                                    "Accept, edit or reject the generated pairs")
        self.close_button = button("Close", "synthClose", self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.review_button)
        buttons.addStretch(1)
        for widget in (self.start_button, self.stop_button, self.close_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        layout.addLayout(buttons)
        self.resize(760, 620)
        self._update()
        CoreOp(self, lambda: _choices(workspace)).success(self._fill).run()

    def _fill(self, choices: dict[str, Any]) -> None:
        for value, label in choices["teachers"]:
            self.teacher.addItem(label, value)
        self.documents.blockSignals(True)
        for doc_id, title, kind in choices["documents"]:
            item = QListWidgetItem(f"{title}  ({kind})")
            item.setData(Qt.ItemDataRole.UserRole, doc_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.documents.addItem(item)
        self.documents.blockSignals(False)
        if not choices["teachers"]:
            self.note.setText("No model to generate with: export a model to GGUF or import "
                              "one in Models first.")
        if not choices["documents"]:
            self.result.setText("No RFPs, proposals or other prose documents yet: import "
                                "some in Documents first.")
        self._update()

    def _teacher_note(self) -> None:
        teacher = str(self.teacher.currentData() or "")
        self.note.setText(WEAK if "270m" in teacher.lower() else "")

    def chosen_documents(self) -> list[str]:
        items = [self.documents.item(i) for i in range(self.documents.count())]
        return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items
                if i.checkState() == Qt.CheckState.Checked]

    def config(self) -> dict[str, Any]:
        documents = self.chosen_documents()
        everything = len(documents) == self.documents.count()
        config: dict[str, Any] = {
            "teacher": self.teacher.currentData(),
            "tasks": [t for t, box in self.tasks.items() if box.isChecked()],
            "per_chunk": self.per_chunk.value(),
            "documents": [] if everything else documents}
        if self.limit.value():
            config["limit"] = self.limit.value()
        return config

    def _update(self) -> None:
        running = self.progress.running
        ready = (self.teacher.count() > 0 and bool(self.chosen_documents())
                 and any(box.isChecked() for box in self.tasks.values()))
        self.start_button.setEnabled(ready and not running)
        self.stop_button.setEnabled(running)

    def start(self) -> str:
        self.result.clear()
        self.progress.setVisible(True)
        job_id = self.progress.start("synthesize-pairs", self.config(),
                                     "generate instruction pairs")
        self._update()
        return job_id

    def _ended(self, status: JobStatus) -> None:
        self._update()
        result = status.result or {}
        if status.state == "succeeded":
            self.batch = result.get("batch")
            filtered = ", ".join(f"{n} {check}" for check, n in result["filtered"].items()
                                 if n) or "none"
            left = result.get("items_left", 0)
            self.result.setText(
                f"{result['kept']} of {result['generated']} pairs kept for your review "
                f"(removed by the checks: {filtered})."
                + (f" {left} passages are left: Generate again to go on." if left else ""))
        elif status.state == "cancelled":
            self.result.setText("Stopped. The pairs made so far are kept; Generate again "
                                "goes on from where it stopped.")

    def open_review(self) -> None:
        from desktop.dialogs.synth_review import SynthReviewDialog

        SynthReviewDialog(self.workspace, self, batch=self.batch).open()
