"""A heartbeat on the GUI thread: a 10 ms timer whose late ticks show how long the event
loop was blocked (issue 17: no GUI-thread task over 50 ms; a journey fails over 250 ms)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from desktop.qt import QTimer

TICK_MS = 10


@dataclass
class Heartbeat:
    gaps_ms: list[float] = field(default_factory=list)

    @property
    def worst_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    def p99_ms(self) -> float:
        ordered = sorted(self.gaps_ms)
        return ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0


@contextmanager
def heartbeat() -> Iterator[Heartbeat]:
    """Record the time between ticks while the block runs (drive the GUI with qtbot waits)."""
    beat = Heartbeat()
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        beat.gaps_ms.append((now - last) * 1000 - TICK_MS)
        last = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    try:
        yield beat
    finally:
        timer.stop()
