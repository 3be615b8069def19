"""Times as the analyst reads them: the workstation's local time, to the minute.

The engine stores UTC ISO stamps (``2026-12-02T10:34:25+00:00``); panes show
``2 Dec 2026 11:34``, in the local time zone.
"""

from __future__ import annotations

from datetime import datetime


def local_time(stamp: str | None) -> str:
    """``stamp`` (ISO 8601, with or without its zone: UTC assumed) in local time; the
    stamp itself when it cannot be read, "" for none."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        from datetime import UTC

        when = when.replace(tzinfo=UTC)
    local = when.astimezone()
    return f"{local.day} {local:%b %Y %H:%M}"
