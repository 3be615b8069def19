"""The one timestamp format of every record Scriptorium writes (jobs, documents, models,
releases, audit lines): UTC, ISO 8601, to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """Now, as ``2026-12-02T04:13:50+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")
