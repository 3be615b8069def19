"""Review generated pairs: each pair beside the passage it was made from; accept it (as it
is or edited), reject it, or accept every pair the filter shows. Only accepted pairs join
SFT datasets."""

from __future__ import annotations

from typing import Any

from core.datasets.synthetic import SynthPair
from core.workspace import Workspace
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    Qt,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.buttons import button
from desktop.widgets.dates import local_time

STATE_FILTERS = {"Waiting for review": ("pending",), "Accepted": ("accepted", "edited"),
                 "Rejected": ("rejected",), "All": ("pending", "accepted", "edited", "rejected")}
TASK_NAMES = {"qa": "Question", "section": "Section", "rewrite": "Rewrite"}
STATE_NAMES = {"pending": "to review", "accepted": "accepted", "edited": "edited, accepted",
               "rejected": "rejected"}


def _load(workspace: Workspace) -> tuple[list[dict[str, Any]], dict[str, list[SynthPair]]]:
    from core.datasets.synthetic import list_batches, pairs

    batches = list_batches(workspace)
    return batches, {b["id"]: pairs(workspace, b["id"]) for b in batches}


def _text_box(name: str, read_only: bool = False) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setObjectName(name)
    box.setReadOnly(read_only)
    return box


class SynthReviewDialog(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None, *,
                 batch: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("synthReviewDialog")
        self.setWindowTitle("Review generated pairs")
        self.workspace = workspace
        self.wanted_batch = batch
        self.batches: list[dict[str, Any]] = []
        self.pairs: dict[str, list[SynthPair]] = {}
        self.shown: list[SynthPair] = []
        self.batch = QComboBox()
        self.batch.setObjectName("reviewBatch")
        self.state_filter = QComboBox()
        self.state_filter.addItems(list(STATE_FILTERS))
        self.task_filter = QComboBox()
        self.task_filter.addItem("All kinds", "")
        for task, name in TASK_NAMES.items():
            self.task_filter.addItem(name + "s", task)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Only pairs containing…")
        for widget in (self.batch, self.state_filter, self.task_filter):
            widget.currentIndexChanged.connect(self._show_list)
        self.search.textChanged.connect(self._show_list)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Batch"))
        filters.addWidget(self.batch, 2)
        filters.addWidget(self.state_filter, 1)
        filters.addWidget(self.task_filter, 1)
        filters.addWidget(self.search, 2)

        self.list = QListWidget()
        self.list.setObjectName("reviewPairs")
        self.list.currentRowChanged.connect(self._show_pair)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.source = _text_box("reviewSource", read_only=True)
        self.instruction = _text_box("reviewInstruction")
        self.response = _text_box("reviewResponse")
        self.figures = QLabel()
        self.figures.setWordWrap(True)
        source_side = QWidget()
        left = QVBoxLayout(source_side)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.where)
        left.addWidget(self.source)
        pair_side = QWidget()
        right = QVBoxLayout(pair_side)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(QLabel("<b>Instruction</b> (you may edit it)"))
        right.addWidget(self.instruction, 1)
        right.addWidget(QLabel("<b>Answer</b> (you may edit it)"))
        right.addWidget(self.response, 2)
        right.addWidget(self.figures)
        detail = QSplitter(Qt.Orientation.Horizontal)
        detail.addWidget(source_side)
        detail.addWidget(pair_side)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.list)
        body.addWidget(detail)
        body.setStretchFactor(1, 2)

        self.summary = QLabel()
        self.summary.setObjectName("reviewSummary")
        self.summary.setWordWrap(True)
        self.accept_button = button("Accept", "reviewAccept", self.accept_pair,
                                    "Keep this pair (with your edits) for the next SFT dataset")
        self.reject_button = button("Reject", "reviewReject", self.reject_pair,
                                    "Leave this pair out of every dataset")
        self.accept_all_button = button("Accept all shown", "reviewAcceptAll", self.accept_shown,
                                        "Accept every pair in the list that waits for review")
        close = button("Close", "reviewClose", self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for widget in (self.accept_all_button, self.reject_button, self.accept_button, close):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(body, 1)
        layout.addLayout(buttons)
        self.resize(1100, 700)
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def reload(self, keep: str | None = None) -> None:
        CoreOp(self, lambda: _load(self.workspace)).success(
            lambda loaded: self._loaded(*loaded, keep=keep)).run()

    def _loaded(self, batches: list[dict[str, Any]], pairs: dict[str, list[SynthPair]], *,
                keep: str | None) -> None:
        self.batches, self.pairs = batches, pairs
        current = self.batch.currentData() or self.wanted_batch
        self.batch.blockSignals(True)
        self.batch.clear()
        for record in reversed(batches):
            states = record["states"]
            self.batch.addItem(f"{local_time(record.get('created'))} — "
                               f"{record.get('teacher', '?')}, {states['pending']} to review",
                               record["id"])
        index = self.batch.findData(current) if current else 0
        self.batch.setCurrentIndex(max(0, index))
        self.batch.blockSignals(False)
        self._show_list(keep=keep)

    def _show_list(self, *_: object, keep: str | None = None) -> None:
        batch = self.batch.currentData()
        states = STATE_FILTERS[self.state_filter.currentText()]
        task = self.task_filter.currentData()
        needle = self.search.text().strip().casefold()
        self.shown = [p for p in self.pairs.get(batch, []) if p.state in states
                      and (not task or p.task == task)
                      and (not needle or needle in (p.instruction + " " + p.response).casefold())]
        self.list.blockSignals(True)
        self.list.clear()
        for pair in self.shown:
            asked = pair.generated if pair.task in ("section", "rewrite") and pair.generated \
                else pair.instruction
            item = QListWidgetItem(f"{TASK_NAMES.get(pair.task, pair.task)} · "
                                   f"{STATE_NAMES[pair.state]} · {' '.join(asked.split())[:160]}")
            item.setToolTip(pair.instruction[:600])
            self.list.addItem(item)
        self.list.blockSignals(False)
        ids = [p.id for p in self.shown]
        self.list.setCurrentRow(ids.index(keep) if keep in ids else (0 if ids else -1))
        self._show_pair(self.list.currentRow())
        self._summarize(batch)

    def _summarize(self, batch: str | None) -> None:
        pairs = self.pairs.get(batch, [])
        if not self.batches:
            self.summary.setText("No generated pairs yet: use Generate pairs… in "
                                 "Training first.")
            return
        waiting = sum(p.state == "pending" for p in pairs)
        accepted = sum(p.accepted for p in pairs)
        rejected = sum(p.state == "rejected" for p in pairs)
        self.summary.setText(f"{waiting} to review · {accepted} accepted · {rejected} rejected"
                             " — accepted pairs join the next SFT dataset you build.")

    def current(self) -> SynthPair | None:
        row = self.list.currentRow()
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def _show_pair(self, row: int) -> None:
        pair = self.shown[row] if 0 <= row < len(self.shown) else None
        self.source.setPlainText(pair.source if pair else "")
        self.instruction.setPlainText(pair.instruction if pair else "")
        self.response.setPlainText(pair.response if pair else "")
        self.where.setText(f"<b>Passage it was made from</b> — {pair.where}" if pair else "")
        figures = []
        if pair and "overlap" in pair.figures:
            figures.append(f"{pair.figures['overlap']:.0%} of the teacher's words are in the "
                           "passage")
        if pair and "similarity" in pair.figures:
            figures.append(f"meaning similarity {pair.figures['similarity']:.2f}")
        self.figures.setText("; ".join(figures))
        for widget in (self.accept_button, self.reject_button, self.instruction, self.response):
            widget.setEnabled(pair is not None)
        self.accept_all_button.setEnabled(any(p.state == "pending" for p in self.shown))

    # -- decisions -------------------------------------------------------------------------
    def _decide(self, decision: str, **text: str) -> None:
        from core.datasets.synthetic import review

        pair = self.current()
        if pair is None:
            return
        following = self.shown[self.shown.index(pair) + 1:]
        keep = following[0].id if following else None
        CoreOp(self, lambda: review(self.workspace, pair.batch, pair.id, decision,  # type: ignore[arg-type]
                                    **text)).success(lambda _: self.reload(keep)).run()

    def accept_pair(self) -> None:
        pair = self.current()
        if pair is None:
            return
        instruction = self.instruction.toPlainText().strip()
        response = self.response.toPlainText().strip()
        if (instruction, response) != (pair.instruction, pair.response):
            self._decide("edited", instruction=instruction, response=response)
        else:
            self._decide("accepted")

    def reject_pair(self) -> None:
        self._decide("rejected")

    def accept_shown(self) -> None:
        """Accept the pairs the list shows that wait for review (the same filter)."""
        from core.datasets.synthetic import accept_remaining

        batch = self.batch.currentData()
        if not batch:
            return
        task = self.task_filter.currentData() or None
        needle = self.search.text().strip() or None
        CoreOp(self, lambda: accept_remaining(self.workspace, batch, task=task,
                                              contains=needle)).success(
            lambda _: self.reload()).run()
