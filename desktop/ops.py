"""Operations: the only way the GUI calls the engine (after Anki's ``CollectionOp``).

``CoreOp(parent, fn).success(cb).failure(cb).run()`` runs ``fn`` on a worker thread and
calls back on the GUI thread; errors go to ``desktop.errors.show_error`` unless a failure
callback is given. Short engine calls only: long work is a job (``JobMonitor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from desktop.errors import show_error
from desktop.qt import QObject, QRunnable, QThreadPool, QWidget, Signal

T = TypeVar("T")
_live: set[CoreOp[Any]] = set()


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.fn = fn
        self.signals = signals

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as error:  # delivered to the GUI thread, never swallowed
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)


class CoreOp(Generic[T]):
    def __init__(self, parent: QWidget | None, fn: Callable[[], T]) -> None:
        self.parent = parent
        self.fn = fn
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._signals = _Signals()

    def success(self, callback: Callable[[T], None]) -> CoreOp[T]:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> CoreOp[T]:
        self._failure = callback
        return self

    def _finish(self) -> None:
        _live.discard(self)

    def _parent_gone(self) -> bool:
        """Whether the widget that asked has been destroyed meanwhile (nobody to tell)."""
        import shiboken6

        return self.parent is not None and not shiboken6.isValid(self.parent)

    def _on_done(self, result: T) -> None:
        self._finish()
        if self._parent_gone():
            return
        if self._success:
            self._success(result)

    def _on_failed(self, error: BaseException) -> None:
        self._finish()
        if self._parent_gone():
            return
        if self._failure:
            self._failure(error)
        else:
            show_error(self.parent, error)

    def run(self) -> None:
        _live.add(self)  # keep the signals alive until the callback has run
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        QThreadPool.globalInstance().start(_Task(self.fn, self._signals))


def wait_for_ops(timeout_ms: int = 10_000) -> bool:
    """Wait for every running operation's thread (used on quit and by tests)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)


def run_write(parent: QWidget, write: Callable[[], Any] | None, report: Callable[[str], None],
              then: Callable[[Any], None] | None = None) -> None:
    """Run a write that a core session handed back (feedback, a saved turn) on a worker
    thread: a text it returns is reported (the status line); ``then`` gets the outcome."""
    if write is None:
        return

    def done(outcome: object) -> None:
        if isinstance(outcome, str):
            report(outcome)
        if then is not None:
            then(outcome)

    CoreOp(parent, write).success(done).run()
