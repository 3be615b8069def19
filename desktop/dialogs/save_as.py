"""Ask where to save an export, suggesting a file name made from its title."""

from __future__ import annotations

import re
from pathlib import Path

from desktop.qt import QFileDialog, QWidget

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')  # not allowed in a file name somewhere


def file_name(title: str, suffix: str) -> str:
    """``title`` as a file name: no path separators or reserved characters, 60 at most."""
    stem = _UNSAFE.sub("-", title).strip(" .-")[:60].rstrip(" .-")
    return (stem or "export") + suffix


def ask_save_path(parent: QWidget, caption: str, title: str, suffix: str,
                  filters: str = "") -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, caption, file_name(title, suffix), filters)
    return Path(path) if path else None
