"""A heartbeat on the GUI thread: a 10 ms timer whose late ticks show how long the event
loop was blocked (issue 17: no GUI-thread task over 50 ms; a journey fails over 250 ms)."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import sep
from pathlib import Path
from types import FrameType

from desktop.qt import QTimer

TICK_MS = 10
LATE_S = 0.06  # a tick this late: sample where the GUI thread is
SAMPLE_S = 0.02


@dataclass
class Heartbeat:
    gaps_ms: list[float] = field(default_factory=list)
    # where the GUI thread was when a tick ran late (sampled by a watchdog thread): the
    # innermost frames of our own code, most often seen first
    stalls: Counter[str] = field(default_factory=Counter)

    def where(self, top: int = 8) -> str:
        return "\n".join(f"{count:4d} × {frames}" for frames, count in
                         self.stalls.most_common(top))

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
    gui_thread = threading.get_ident()
    done = threading.Event()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        beat.gaps_ms.append((now - last) * 1000 - TICK_MS)
        last = now

    def watch() -> None:
        while not done.wait(SAMPLE_S):
            if time.perf_counter() - last > LATE_S:
                frames = sys._current_frames()
                frame = frames.get(gui_thread)
                if frame is not None:
                    busy = [_innermost(f) for ident, f in frames.items()
                            if ident not in (gui_thread, threading.get_ident())
                            and not _idle(f)]
                    beat.stalls[_ours(frame) + "".join(f"\n        beside {b}" for b in busy)] += 1

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    watchdog = threading.Thread(target=watch, name="heartbeat-watchdog", daemon=True)
    watchdog.start()
    try:
        yield beat
    finally:
        timer.stop()
        done.set()
        watchdog.join()


def _idle(frame: FrameType) -> bool:
    """A thread waiting (a lock, a queue, a socket): not the one holding the GIL."""
    return frame.f_code.co_name in ("wait", "_wait_for_tstate_lock", "get", "select", "poll",
                                    "accept", "recv", "readline", "sleep", "join")


def _innermost(frame: FrameType) -> str:
    stack = traceback.extract_stack(frame)[-3:]
    return " > ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in stack)


def _ours(frame: FrameType) -> str:
    """The frames of the stack that are in our code (core/, desktop/), innermost last."""
    stack = traceback.extract_stack(frame)
    mine = [f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}"
            for f in stack if f"{sep}core{sep}" in f.filename or f"{sep}desktop{sep}" in f.filename]
    return " > ".join(mine[-4:]) or f"{stack[-1].filename}:{stack[-1].lineno}"
