"""The one place the app shows errors."""

from __future__ import annotations

import logging
import traceback

from core.errors import ScriptoriumError, disk_full, is_disk_full
from desktop.qt import QMessageBox, QWidget

log = logging.getLogger(__name__)


def error_text(error: BaseException) -> tuple[str, str | None]:
    """The message for the user, and details (a traceback) for bugs only."""
    if isinstance(error, ScriptoriumError):
        return str(error), None
    if is_disk_full(error):
        return str(disk_full(error)), None  # type: ignore[arg-type]
    details = "".join(traceback.format_exception(error))
    return f"Something went wrong: {type(error).__name__}: {error}", details


def show_error(parent: QWidget | None, error: BaseException, title: str = "Scriptorium") -> None:
    message, details = error_text(error)
    if details:
        log.error("unexpected error\n%s", details)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorBox")
    box.open()
