"""Terminal output for the CLI: tables, JSON, and a progress line with ETA."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from core.formatting import format_duration
from core.jobs.progress import ProgressEvent


def print_json(value: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout  # looked up at call time, so redirection works
    stream.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def progress_text(event: ProgressEvent, width: int = 28) -> str:
    """``[#######-----]  42%  ETA 01:10  message  loss=1.23``"""
    parts = []
    if event.fraction is not None:
        filled = int(event.fraction * width)
        parts.append(f"[{'#' * filled}{'-' * (width - filled)}] {event.fraction * 100:3.0f}%")
    else:
        parts.append(f"step {event.step}")
    parts.append(f"ETA {format_duration(event.eta_s)}")
    if event.tokens_per_s:
        parts.append(f"{event.tokens_per_s:,.0f} tok/s")
    if event.message:
        parts.append(event.message)
    parts.extend(f"{k}={v:.4g}" for k, v in event.metrics.items())
    return "  ".join(parts)


class ProgressPrinter:
    """Shows job events: a rewritten line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, as_json: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.as_json = as_json
        self.tty = self.stream.isatty()
        self._last_percent = -10

    def __call__(self, event: ProgressEvent) -> None:
        if self.as_json:
            self.stream.write(event.to_line() + "\n")
        elif event.type == "log":
            self._newline()
            self.stream.write(f"{event.level}: {event.message}\n")
        elif event.type == "progress":
            text = progress_text(event)
            if self.tty:
                self.stream.write("\r" + text[:160].ljust(100))
            else:
                percent = int((event.fraction or 0) * 100)
                if percent >= self._last_percent + 10 or event.metrics or percent == 100:
                    self._last_percent = percent
                    self.stream.write(text + "\n")
        self.stream.flush()

    def _newline(self) -> None:
        if self.tty:
            self.stream.write("\n")

    def close(self) -> None:
        self._newline()
        self.stream.flush()
