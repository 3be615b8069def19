"""A generation worker for the drafting pane: a generator run on its own thread.

``GenerationWorker.start(job)`` runs ``job(cancelled)`` — a generator of drafting events
— on a Python thread and re-emits each event as a signal, which Qt delivers on the GUI
thread. ``stop()`` sets the cancel flag, which the generator checks between tokens, so
the thread ends within a token's time; ``wait()`` joins it (the pane calls both when it
closes, so no thread outlives it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from core.generation.stream import CancelFlag
from desktop.qt import QObject, Signal

Job = Callable[[Callable[[], bool]], Iterator[Any]]


class GenerationWorker(QObject):
    event = Signal(object)  # a SourcesFound, Token or Finished
    failed = Signal(object)  # the exception
    done = Signal()  # the generation is over: every event/failed was handled before it
    _ended = Signal()  # internal: the thread's last act

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._flag = CancelFlag()
        self._busy = False  # cleared on the GUI thread, after every event was handled
        # Emitted from the thread, delivered (queued, so after the thread's events) on the
        # GUI thread: only then is the generation over for the GUI.
        self._ended.connect(self._on_ended)

    @property
    def running(self) -> bool:
        """Whether a generation is under way for the GUI: from ``start`` until the GUI
        thread has handled the thread's last event. Not ``thread.is_alive()``: the thread
        ends before the GUI has handled its events (a caller would see the run over while
        its result is still on the way), or after ``done`` (and would see it running)."""
        return self._busy

    def start(self, job: Job) -> None:
        if self.running:
            raise RuntimeError("a generation is already running")
        self._flag = CancelFlag()
        flag = self._flag
        self._busy = True
        self._thread = threading.Thread(target=self._run, args=(job, flag),
                                        name="scriptorium-generation", daemon=True)
        self._thread.start()

    def _run(self, job: Job, flag: CancelFlag) -> None:
        try:
            for event in job(flag):
                self.event.emit(event)
        except BaseException as error:  # delivered to the GUI thread, never swallowed
            self.failed.emit(error)
        finally:
            self._ended.emit()

    def _on_ended(self) -> None:
        self._busy = False
        self.done.emit()

    def stop(self) -> None:
        """Ask the running generation to stop (returns at once)."""
        self._flag.set()

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Join the thread; True when none is left running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return thread is None or not thread.is_alive()
