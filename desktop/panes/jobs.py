"""Jobs pane: every job of the workspace with live progress, ETA, cancel, log and re-run."""

from __future__ import annotations

from core.formatting import format_duration
from core.jobs import JobStatus, JobStore
from core.jobs.progress import ProgressEvent
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.qt import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.dates import local_time

COLUMNS = ["Job", "State", "Progress", "ETA", "Details", "Started"]
REFRESH_MS = 2000


class JobsPane(QWidget):
    def __init__(self, state: AppState, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pane-jobs")
        self.state = state
        self.monitor = monitor
        self.rows: dict[str, int] = {}
        self.bars: dict[str, QProgressBar] = {}

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("jobsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 240)  # a job's title; the rest shows in its tooltip
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._show_selected)

        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.clicked.connect(self._cancel_selected)
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.setObjectName("rerunJob")
        self.rerun_button.clicked.connect(self._rerun_selected)
        self.log = QPlainTextEdit()
        self.log.setObjectName("jobLog")
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("Select a job to see its log.")

        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<h2>Jobs</h2>"))
        buttons.addStretch(1)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.cancel_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.log)
        splitter.setSizes([300, 150])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(splitter)

        monitor.event.connect(self._on_event)
        monitor.finished.connect(self._refresh_on)
        monitor.changed.connect(self.refresh)
        state.workspace_changed.connect(self._refresh_on)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._update_buttons()

    # -- data --------------------------------------------------------------------
    def _store(self) -> JobStore | None:
        return JobStore(self.state.workspace) if self.state.workspace else None

    def _refresh_on(self, *_: object) -> None:
        """A bound slot (not a lambda): Qt drops it when this pane is destroyed."""
        self.refresh()

    def refresh(self) -> None:
        store = self._store()
        jobs = store.list() if store else []
        selected = self.selected_job()
        self.table.setRowCount(len(jobs))
        self.rows.clear()
        self.bars.clear()
        for row, job in enumerate(jobs):
            self.rows[job.id] = row
            self._fill_row(row, job, self.monitor.latest.get(job.id) or store.last_progress(job.id))
        if selected in self.rows:
            self.table.selectRow(self.rows[selected])
        self._update_buttons()

    def _fill_row(self, row: int, job: JobStatus, last: ProgressEvent | None) -> None:
        title = QTableWidgetItem(job.title)
        title.setData(Qt.ItemDataRole.UserRole, job.id)
        title.setToolTip(f"{job.title}\n{job.id}")
        self.table.setItem(row, 0, title)
        self.table.setItem(row, 1, QTableWidgetItem(job.state))
        bar = QProgressBar()
        bar.setObjectName(f"progress-{job.id}")
        bar.setRange(0, 1000)
        self.bars[job.id] = bar
        self.table.setCellWidget(row, 2, bar)
        self.table.setItem(row, 5, QTableWidgetItem(local_time(job.started or job.created)))
        self._show_progress(job.id, last, job)

    def _show_progress(self, job_id: str, event: ProgressEvent | None,
                       job: JobStatus | None = None) -> None:
        row = self.rows.get(job_id)
        bar = self.bars.get(job_id)
        if row is None or bar is None:
            return
        if job is not None and job.state == "succeeded":
            bar.setValue(1000)
        elif event is not None and event.fraction is not None:
            bar.setValue(int(event.fraction * 1000))
        running = job is None or job.state == "running"
        eta = format_duration(event.eta_s) if event and running else ""
        self.table.setItem(row, 3, QTableWidgetItem(eta))
        details = ""
        if job is not None and job.error:
            details = job.error
        elif event is not None:
            metrics = "  ".join(f"{k}={v:.4g}" for k, v in event.metrics.items())
            speed = f"  {event.tokens_per_s:,.0f} tok/s" if event.tokens_per_s else ""
            details = f"{event.message}  {metrics}{speed}".strip()
        self.table.setItem(row, 4, QTableWidgetItem(details))

    def _on_event(self, job_id: str, event: ProgressEvent) -> None:
        if job_id not in self.rows:
            self.refresh()
        if event.type == "progress":
            self._show_progress(job_id, event)
        elif event.type == "state":
            self.refresh()
        if job_id == self.selected_job() and event.type == "log":
            self.log.appendPlainText(event.message)

    def _tick(self) -> None:
        if self.isVisible() and self.selected_job():
            self._show_selected()

    # -- selection and actions ------------------------------------------------------
    def selected_job(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select_job(self, job_id: str) -> None:
        if job_id in self.rows:
            self.table.selectRow(self.rows[job_id])

    def _show_selected(self) -> None:
        store, job_id = self._store(), self.selected_job()
        self._update_buttons()
        if not store or not job_id:
            return
        status = store.get(job_id)
        text = store.log_tail(job_id, 300)
        header = f"{status.title} — {status.state}"
        if status.error:
            header += f"\n{status.error}"
        full = f"{header}\n\n{text}".rstrip()
        if self.log.toPlainText() != full:
            self.log.setPlainText(full)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def _update_buttons(self) -> None:
        job_id = self.selected_job()
        self.cancel_button.setEnabled(bool(job_id) and self.monitor.is_running(job_id or ""))
        self.rerun_button.setEnabled(bool(job_id) and not self.monitor.is_running(job_id or ""))

    def _cancel_selected(self) -> None:
        job_id = self.selected_job()
        if job_id:
            self.monitor.cancel(job_id)
            self.cancel_button.setEnabled(False)

    def _rerun_selected(self) -> None:
        store, job_id = self._store(), self.selected_job()
        if not store or not job_id:
            return

        def start(config: tuple[str, dict]) -> None:
            kind, raw = config
            self.select_job(self.monitor.submit(kind, raw))

        CoreOp(self, lambda: store.config(job_id)).success(start).run()
