"""Durations and sizes as people read them, for the CLI and the app alike."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """``01:05`` or ``1:02:05``; ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_size(size: float) -> str:
    """Bytes in decimal units: ``512 B``, ``1.1 GB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
