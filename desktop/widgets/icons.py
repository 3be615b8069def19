"""The app's icons by name: the SVGs in ``resources/icons``, as a QIcon or in rich text.

Status marks (``done``, ``todo``, ``attention``, ``optional``; the installation checks'
``ok``, ``warn``, ``fail``; ``warning`` for a draft that failed the quality checks), one
icon per section of the main window (its name in lower case) and a few for buttons. They are
drawn on a 16-pixel grid, one colour each, so they read at 16 pixels.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import resources
from desktop.qt import QApplication, QIcon, QLabel, QPainter, QPalette, QPixmap, QSize, QUrl

FOLDER = resources.path("icons")
SIZE = 16


class UnknownIcon(LookupError):
    """No SVG of that name in ``resources/icons``."""


def icon_path(name: str) -> Path:
    """The SVG file of icon ``name``; raises ``UnknownIcon`` when there is none."""
    path = FOLDER / f"{name}.svg"
    if not name or "/" in name or not path.is_file():
        known = ", ".join(sorted(p.stem for p in FOLDER.glob("*.svg")))
        raise UnknownIcon(f"no icon named {name!r} in {FOLDER} (there are: {known})")
    return path


@cache
def icon(name: str) -> QIcon:
    """Icon ``name`` (cached: one QIcon per name for the life of the app)."""
    return QIcon(str(icon_path(name)))


@cache
def section_icon(name: str) -> QIcon:
    """Icon ``name`` for a list's items: on a selected item, in the highlighted text's colour
    (the style's own tint of a selected icon leaves a dark drawing dim on the highlight)."""
    drawn = QIcon(str(icon_path(name)))
    colour = QApplication.palette().color(QPalette.ColorRole.HighlightedText)
    for size in (SIZE, 2 * SIZE):  # 2×: high-density screens
        tinted = QPixmap(drawn.pixmap(QSize(size, size)))
        painter = QPainter(tinted)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(tinted.rect(), colour)
        painter.end()
        drawn.addPixmap(tinted, QIcon.Mode.Selected)
    return drawn


def icon_html(name: str, size: int = SIZE) -> str:
    """An ``<img>`` of icon ``name`` for rich text (a QLabel's, a QTextBrowser's)."""
    url = QUrl.fromLocalFile(str(icon_path(name))).toString()
    return f'<img src="{url}" width="{size}" height="{size}" style="vertical-align: middle">'


def set_icon_label(label: QLabel, name: str, size: int = SIZE) -> None:
    """Show icon ``name`` in ``label``, sharp on high-density screens; name it for tests."""
    label.setPixmap(icon(name).pixmap(QSize(size, size), label.devicePixelRatioF()))
    label.setProperty("icon", name)
