"""Start the desktop app."""

from __future__ import annotations

import sys
from pathlib import Path

import resources
from core import __version__
from desktop.errors import show_error
from desktop.jobs_monitor import JobMonitor
from desktop.main_window import MainWindow
from desktop.native import preload_ml_libraries
from desktop.ops import wait_for_ops
from desktop.qt import (
    QApplication,
    QIcon,
    QPainter,
    QPixmap,
    QSplashScreen,
    Qt,
    QTimer,
)
from desktop.state import AppState


def build(workspace: Path | None = None, sample: bool = False) -> MainWindow:
    """Create the window (an application must exist); opens ``workspace`` or the sample."""
    state = AppState()
    monitor = JobMonitor(threads=state.settings.threads or None)
    window = MainWindow(state, monitor)
    if sample:
        window.open_sample()
    elif workspace is not None:
        window.open_path(workspace)
        window.ensure_base_model()
    elif state.settings.recent_workspaces and Path(state.settings.recent_workspaces[0]).exists():
        window.open_path(Path(state.settings.recent_workspaces[0]))
    return window


def first_run_check(window: MainWindow) -> bool:
    """Show the installation report on the first start of this version; True if shown."""
    state = window.state
    if state.settings.checked_version == __version__:
        return False
    state.update_settings(state.settings.model_copy(update={"checked_version": __version__}))
    window.show_doctor(first_run=True)
    return True


def starting_splash(picture: QPixmap) -> QSplashScreen:
    """Shown while the libraries load (a few seconds; longer on the first start)."""
    canvas = QPixmap(420, 200)
    canvas.fill(Qt.GlobalColor.white)
    splash = QSplashScreen(canvas)
    splash.setPixmap(_with_picture(canvas, picture))
    splash.show()
    return splash


def _with_picture(canvas: QPixmap, picture: QPixmap) -> QPixmap:
    painter = QPainter(canvas)
    painter.drawPixmap((canvas.width() - 96) // 2, 20, 96, 96, picture)
    painter.end()
    return canvas


def _splash_says(splash: QSplashScreen, app: QApplication, text: str) -> None:
    splash.showMessage(f"Starting Scriptorium {__version__}\n{text}",
                       Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter)
    app.processEvents()


def run(workspace: Path | None = None, sample: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Scriptorium")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Scriptorium")
    icon = QIcon(str(resources.path("icons/scriptorium.svg")))
    app.setWindowIcon(icon)
    splash = starting_splash(icon.pixmap(128, 128))
    preload_ml_libraries(lambda text: _splash_says(splash, app, text))
    window = build(workspace, sample)
    window.show()
    splash.finish(window)
    first_run_check(window)

    def excepthook(kind, error, tb) -> None:  # noqa: ANN001
        show_error(window, error)

    sys.excepthook = excepthook
    QTimer.singleShot(0, lambda: None)
    code = app.exec()
    wait_for_ops(5000)
    return int(code)
