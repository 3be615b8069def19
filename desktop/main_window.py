"""The main window: hosts one pane per pipeline stage; holds no state or logic."""

from __future__ import annotations

import getpass
from pathlib import Path

from core.ingest.sample import open_or_create_sample, sample_workspace_path
from core.ingest.store import DocumentStore
from core.jobs.store import JobStatus
from core.models.bundled import BASE_MODEL_ID
from core.workspace import Workspace
from core.workspace.audit import ChainCheck
from core.workspace.registry import ModelRegistry
from desktop.dialogs.demo_results import DemoResultsDialog
from desktop.dialogs.doctor import DoctorDialog
from desktop.dialogs.settings import SettingsDialog
from desktop.errors import show_error
from desktop.jobs_monitor import JobMonitor
from desktop.ops import CoreOp
from desktop.panes.documents import DocumentsPane
from desktop.panes.draft import DraftPane
from desktop.panes.export import ExportPane
from desktop.panes.jobs import JobsPane
from desktop.panes.knowledge import KnowledgePane
from desktop.panes.merge import MergePane
from desktop.panes.models import ModelsPane
from desktop.panes.overview import OverviewPane
from desktop.panes.releases import ReleasesPane
from desktop.panes.training import TrainingPane
from desktop.panes.welcome import WelcomePane
from desktop.qt import (
    QAction,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QKeySequence,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSize,
    QStackedWidget,
    QWidget,
)
from desktop.state import AppState
from desktop.widgets.icons import section_icon

SECTIONS = ["Overview", "Documents", "Training", "Merge", "Export", "Knowledge", "Draft", "Models",
            "Releases", "Jobs"]  # each with its icon in resources/icons, named in lower case


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, monitor: JobMonitor) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.state = state
        self.monitor = monitor
        self.resize(1200, 780)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sections")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setIconSize(QSize(16, 16))
        self.stack = QStackedWidget()
        self.welcome = WelcomePane()
        self.stack.addWidget(self.welcome)
        self.panes: dict[str, QWidget] = {
            "Overview": OverviewPane(state, monitor, self.do_action),
            "Documents": DocumentsPane(state, monitor),
            "Training": TrainingPane(state, monitor),
            "Merge": MergePane(state, monitor),
            "Export": ExportPane(state, monitor),
            "Knowledge": KnowledgePane(state, monitor),
            "Draft": DraftPane(state, monitor),
        }
        self.panes["Models"] = ModelsPane(state, monitor)
        self.panes["Releases"] = ReleasesPane(state, monitor)
        self.panes["Jobs"] = JobsPane(state, monitor)
        for name in SECTIONS:
            self.sidebar.addItem(QListWidgetItem(section_icon(name.lower()), name))
            self.stack.addWidget(self.panes[name])
        self.sidebar.currentRowChanged.connect(self._on_section)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._build_menus()

        self.welcome.open_sample.connect(self.open_sample)
        self.welcome.run_demo.connect(self.run_demo)
        self.demo_jobs: set[str] = set()
        self.demo_results: DemoResultsDialog | None = None
        self.doctor: DoctorDialog | None = None
        self.audit_warning = QLabel()  # shown while the open workspace's audit log is altered
        self.audit_warning.setObjectName("auditWarning")
        self.audit_warning.setStyleSheet("color: #b00020; font-weight: bold")
        self.audit_warning.setVisible(False)
        self.statusBar().addPermanentWidget(self.audit_warning)
        self.acknowledge_button = QPushButton("Acknowledge…")
        self.acknowledge_button.setObjectName("acknowledgeAudit")
        self.acknowledge_button.setToolTip("Record that you have looked into the change, so "
                                           "that work in this workspace can go on")
        self.acknowledge_button.clicked.connect(self.acknowledge_audit)
        self.acknowledge_button.setVisible(False)
        self.statusBar().addPermanentWidget(self.acknowledge_button)
        self.welcome.new_workspace.connect(self.new_workspace)
        self.welcome.open_workspace.connect(self.open_workspace)
        self.welcome.open_recent.connect(lambda path: self.open_path(Path(path)))
        state.workspace_changed.connect(self._on_workspace)
        state.settings_changed.connect(lambda _: self._fill_recent())
        monitor.changed.connect(self._update_status)
        monitor.finished.connect(self._on_job_finished)
        monitor.data_changed.connect(state.notify)
        self._on_workspace(state.workspace)

    # -- menus ------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, slot, shortcut in (
            ("&New workspace…", self.new_workspace, QKeySequence.StandardKey.New),
            ("&Open workspace…", self.open_workspace, QKeySequence.StandardKey.Open),
        ):
            action = QAction(text, self)
            action.setShortcut(shortcut)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        settings = QAction("&Settings…", self)
        settings.setObjectName("settingsAction")
        settings.triggered.connect(self.edit_settings)
        file_menu.addAction(settings)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        demo = QAction("Run the guided &demo", self)
        demo.setObjectName("demoAction")
        demo.triggered.connect(self.run_demo)
        help_menu.addAction(demo)
        doctor = QAction("&Check this installation…", self)
        doctor.setObjectName("doctorAction")
        doctor.triggered.connect(lambda: self.show_doctor())
        help_menu.addAction(doctor)
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.state.settings.recent_workspaces:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self.state.settings.recent_workspaces))
        self.welcome.set_recent(self.state.settings.recent_workspaces)

    # -- sections -----------------------------------------------------------------------
    def do_action(self, action: str) -> None:
        """What an Overview stage's button does: a wizard, a job or a pane."""
        section = {"import": "Documents", "index": "Knowledge", "train": "Training",
                   "review": "Training", "merge": "Merge", "export": "Export",
                   "releases": "Releases", "draft": "Draft"}[action]
        self.show_section(section)
        pane = self.panes[section]
        if action == "import":
            pane.open_import_wizard()  # type: ignore[attr-defined]
        elif action == "index":
            pane.reindex()  # type: ignore[attr-defined]
        elif action in ("train", "merge"):
            pane.open_wizard()  # type: ignore[attr-defined]
        elif action == "review":
            pane.review_pairs()  # type: ignore[attr-defined]

    def show_section(self, name: str) -> None:
        self.sidebar.setCurrentRow(SECTIONS.index(name))

    def current_section(self) -> str | None:
        row = self.sidebar.currentRow()
        return SECTIONS[row] if self.state.workspace and row >= 0 else None

    def _on_section(self, row: int) -> None:
        if self.state.workspace is None or row < 0:
            self.stack.setCurrentWidget(self.welcome)
        else:
            self.stack.setCurrentWidget(self.panes[SECTIONS[row]])

    def _on_workspace(self, workspace: Workspace | None) -> None:
        self.monitor.set_workspace(workspace)
        self.sidebar.setEnabled(workspace is not None)
        if workspace is None:
            self.setWindowTitle("Scriptorium")
            self.stack.setCurrentWidget(self.welcome)
        else:
            self.setWindowTitle(f"{workspace.name} — Scriptorium")
            self.show_section("Overview")
            self._on_section(self.sidebar.currentRow())
        self.audit_warning.setVisible(False)
        self.acknowledge_button.setVisible(False)
        if workspace is not None:  # the whole log is read: off the GUI thread
            CoreOp(self, workspace.audit.check).success(
                lambda check, ws=workspace: self._show_audit(ws, check)).failure(
                lambda _error: None).run()
        self._update_status()

    def _show_audit(self, workspace: Workspace, check: ChainCheck) -> None:
        if workspace is not self.state.workspace or check.ok:
            return
        self.audit_warning.setText(f"Audit log altered at entry {check.first_bad_line}: "
                                   "nothing can be recorded")
        self.audit_warning.setToolTip(
            f"{check.reason}. The entries before it are intact. Until someone acknowledges "
            "it, nothing in this workspace can be done (every action is recorded). Tell "
            f"whoever administers it; `scriptorium audit verify -w {workspace.root}` gives "
            "the details.")
        self.audit_warning.setVisible(True)
        self.acknowledge_button.setVisible(True)

    def acknowledge_audit(self) -> None:
        workspace = self.state.workspace
        if workspace is None or not self.ask_acknowledge():
            return
        user = getpass.getuser()
        CoreOp(self, lambda: workspace.audit.acknowledge(by=user)).success(
            lambda _check: self._acknowledged()).run()

    def ask_acknowledge(self) -> bool:
        """Asks the user (a method, so tests can answer)."""
        answer = QMessageBox.question(
            self, "Acknowledge the change to the audit log",
            "The audit log of this workspace was changed outside Scriptorium. Acknowledge "
            "only once you know why. Your acknowledgement is recorded in the log, with your "
            "name, and work can go on.")
        return answer == QMessageBox.StandardButton.Yes

    def _acknowledged(self) -> None:
        self.audit_warning.setVisible(False)
        self.acknowledge_button.setVisible(False)
        self.statusBar().showMessage("Acknowledged: the audit log records it.", 10_000)

    def _update_status(self) -> None:
        workspace = self.state.workspace
        running = len(self.monitor.handles)
        text = f"Workspace: {workspace.root}" if workspace else "No workspace open"
        if running:
            text += f"   |   {running} job{'s' if running > 1 else ''} running"
        self.statusBar().showMessage(text)

    def _on_job_finished(self, job_id: str, status: JobStatus) -> None:
        if status.state == "failed":
            self.statusBar().showMessage(f"{status.title} failed: {status.error}", 15000)
        if job_id in self.demo_jobs:
            self.demo_jobs.discard(job_id)
            if status.state == "succeeded" and status.result:
                self.show_demo_results(status.result)

    # -- workspace actions -----------------------------------------------------------
    def open_path(self, path: Path) -> None:
        try:
            self.state.open_workspace(path)
        except Exception as error:
            show_error(self, error)

    def open_sample(self) -> None:
        """Open (creating on first use) the sample workspace; import the base model if needed."""
        try:
            workspace, created = open_or_create_sample(sample_workspace_path(self.state.settings))
            self.state.set_workspace(workspace)
        except Exception as error:
            show_error(self, error)
            return
        if created or not DocumentStore(workspace).list():
            self.monitor.submit("populate-sample", {})
        self.ensure_base_model()

    def run_demo(self) -> None:
        """Open the sample workspace and run every stage on it as one job (``demo``)."""
        try:
            workspace, _ = open_or_create_sample(sample_workspace_path(self.state.settings))
            if self.state.workspace is None or self.state.workspace.root != workspace.root:
                self.state.set_workspace(workspace)
        except Exception as error:
            show_error(self, error)
            return
        if any(self.monitor.handles):
            self.statusBar().showMessage(
                "Jobs are running in the sample workspace: run the demo when they are "
                "done, or cancel them in Jobs.", 15000)
            self.show_section("Jobs")
            return
        job_id = self.monitor.submit("demo", {}, "Guided demo")
        self.demo_jobs.add(job_id)
        self.show_section("Jobs")
        self.panes["Jobs"].select_job(job_id)  # type: ignore[attr-defined]

    def show_demo_results(self, summary: dict) -> None:
        if self.demo_results is not None:
            self.demo_results.close()
        self.demo_results = DemoResultsDialog(summary, self)
        self.demo_results.open_draft.connect(self._open_demo_draft)
        self.demo_results.show()  # not modal: the app stays usable

    def show_doctor(self, first_run: bool = False) -> DoctorDialog:
        """The installation report (``scriptorium doctor``), not modal; checks run at once."""
        if self.doctor is not None:
            self.doctor.close()
        workspace = self.state.workspace.root if self.state.workspace else None
        self.doctor = DoctorDialog(self, first_run=first_run, workspace=workspace)
        self.doctor.show()
        self.doctor.run_checks()
        return self.doctor

    def _open_demo_draft(self, proposal_id: str) -> None:
        self.show_section("Draft")
        self.panes["Draft"].show_proposal(proposal_id)  # type: ignore[attr-defined]

    def ensure_base_model(self) -> None:
        """Start the base-model import when the open workspace lacks it (and none runs)."""
        workspace = self.state.workspace
        if workspace is None or ModelRegistry(workspace).exists(BASE_MODEL_ID):
            return
        if any(h.status.kind == "import-base-model" for h in self.monitor.handles.values()):
            return
        job_id = self.monitor.submit("import-base-model", {})
        self.show_section("Jobs")
        self.panes["Jobs"].select_job(job_id)  # type: ignore[attr-defined]

    def open_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open workspace", self.state.settings.workspaces_dir
        )
        if folder:
            self.open_path(Path(folder))

    def new_workspace(self) -> None:
        name, ok = QInputDialog.getText(self, "New workspace", "Name of the new workspace:")
        if not ok or not name.strip():
            return
        parent = QFileDialog.getExistingDirectory(
            self, "Where to create it", self.state.settings.workspaces_dir
        )
        if not parent:
            return
        folder = Path(parent) / "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        try:
            self.state.create_workspace(folder, name.strip())
        except Exception as error:
            show_error(self, error)
            return
        self.ensure_base_model()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.state.settings, self)
        if dialog.exec():
            self.state.update_settings(dialog.result_settings())
            self.monitor.threads = self.state.settings.threads or None

    # -- quitting ----------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        if self.monitor.handles:
            box = QMessageBox(self)
            box.setWindowTitle("Jobs are running")
            box.setText(f"{len(self.monitor.handles)} job(s) are still running.")
            keep = box.addButton("Quit, let them finish", QMessageBox.ButtonRole.AcceptRole)
            stop = box.addButton("Cancel the jobs and quit", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton("Don't quit", QMessageBox.ButtonRole.RejectRole)
            box.exec()
            if box.clickedButton() is stop:
                self.monitor.cancel_all()
            elif box.clickedButton() is not keep:
                event.ignore()
                return
        self.panes["Draft"].shutdown()  # type: ignore[attr-defined]  (stops generation threads)
        event.accept()
