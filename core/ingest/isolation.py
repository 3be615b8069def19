"""Parse each file in a separate process, with a time limit and a memory cap.

``IsolatedParser`` keeps one worker process (``core.ingest.worker``) and reuses it from
file to file, for ``RECYCLE_AFTER`` files, then starts a fresh one (whatever a parser
library leaks or fragments goes with it); a file that times out, exhausts memory or
crashes the parser costs only that file: the worker is killed and the next file starts
a fresh one.
``ParserPool`` runs several of them side by side (or several ``core.ingest.host``
parsers: warm workers kept between imports).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import core
from core.ingest.errors import (
    IngestError,
    ParseMemoryError,
    ParserCrashed,
    ParseTimeout,
    error_from_name,
)
from core.ingest.limits import IngestLimits
from core.ingest.parsers import ParseResult

_PROJECT_ROOT = Path(core.__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 120.0
Task = tuple[Path, str]  # a file and its format
READ_AHEAD = 4  # files queued per parser: a long file does not leave the others idle
RECYCLE_AFTER = 400  # files one worker reads before a fresh one takes over (leaks, heap)
ANSWERED_OK = b'{"ok": true, '  # how core.ingest.worker begins a successful answer


def child_env() -> dict[str, str]:
    """This process's environment, with this checkout first on the module path: what a
    ``python -m core.ingest...`` child needs to import the same code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


class IsolatedParser:
    """One parser process, started on first use and replaced after any failure."""

    def __init__(self, limits: IngestLimits | None = None,
                 recycle_after: int = RECYCLE_AFTER) -> None:
        self.limits = limits or IngestLimits()
        self.recycle_after = max(1, recycle_after)
        self._answered = 0  # files the running worker has answered
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._pump: threading.Event | None = None  # set when the reader thread ends
        self._sent: deque[tuple[str, str]] = deque()  # requests the worker has not answered
        self._aborted = False

    def __enter__(self) -> IsolatedParser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._aborted:
            raise ParserCrashed("The import was stopped.")
        env = child_env()
        env["PYTHONUNBUFFERED"] = "1"
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = "1"  # one parser, one thread; and no big per-thread arenas
        process = subprocess.Popen(
            [sys.executable, "-m", "core.ingest.worker", str(self.limits.memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        lines: queue.Queue[bytes | None] = queue.Queue()

        finished = threading.Event()

        def pump() -> None:
            assert process.stdout is not None
            try:
                for line in process.stdout:
                    lines.put(line)
            finally:
                lines.put(None)
                finished.set()

        self._pump, self._answered = finished, 0
        threading.Thread(target=pump, daemon=True, name="ingest-worker-reader").start()
        self._process, self._lines = process, lines
        ready = self._read(STARTUP_TIMEOUT_S)
        if not ready or not json.loads(ready).get("ready"):
            self._kill()
            raise ParserCrashed("The document parser could not start; see the log for why.")
        return process

    def _read(self, timeout: float) -> bytes | None:
        """The worker's next answer line as it came (``None``: the worker is gone)."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            if self._pump is not None:
                # The reader thread ends at the pipe's end of file. (An Event, not join():
                # join() from a thread Python did not start, such as a Qt worker, leaves
                # a dummy Thread object behind.)
                self._pump.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout):
                if stream:
                    try:
                        stream.close()
                    except OSError:
                        pass
        self._process, self._pump = None, None
        self._sent.clear()  # sent to the dead worker: sent again when asked for

    def close(self) -> None:
        """Stop the worker (politely: end of input, then kill if it lingers)."""
        self.end_input()
        self.reap()

    def end_input(self) -> None:
        """Tell the worker there is no more work (it exits once done); returns at once."""
        if self._process is not None and self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass

    def reap(self, timeout: float = 5.0) -> None:
        """Wait for a worker told ``end_input`` to exit (its output's end), killing it
        after ``timeout``. Waits on the reader's end, not by polling the process."""
        if self._process is None:
            return
        if self._pump is not None:
            self._pump.wait(timeout)
        self._kill()

    def parse(self, path: Path, format: str, then: Task | None = None) -> ParseResult:
        """Parse and clean ``path`` as ``format`` in the worker; raises ``IngestError``.

        ``then``, the file the next call will ask for, is sent to the worker at once, so
        that it starts on it without waiting for this process to ask; the time limit of
        each file still starts when the worker is done with the one before. A worker that
        dies without answering is replaced and the file tried once more (the worker may
        have died before it ever saw the file); what was sent ahead is sent again.
        """
        answer = json.loads(self.parse_raw(path, format, then))
        return ParseResult.from_json(answer["result"])

    def parse_raw(self, path: Path, format: str, then: Task | None = None) -> bytes:
        """``parse``, answered with the worker's own JSON line (``{"ok": true, "result":
        ...}``) undecoded, for passing on (``core.ingest.host``); raises ``IngestError``."""
        try:
            return self._parse_once(path, format, then)
        except ParserCrashed:
            if self._aborted:
                raise
            return self._parse_once(path, format, then)

    def idle(self) -> bool:
        """Whether it may take another file at once: not aborted, nothing sent ahead."""
        return not self._aborted and not self._sent

    def abort(self) -> None:
        """Kill the worker now and start no other (a parse under way fails)."""
        self._aborted = True
        self._kill()

    def start(self) -> subprocess.Popen[bytes]:
        """The running worker process, started if needed (it takes a fraction of a second)."""
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self._process is not None:
            self._kill()
        return self._start()

    def _send(self, process: subprocess.Popen[bytes], path: Path, format: str) -> None:
        absolute = str(Path(path).absolute())
        request = {"path": absolute, "format": format, "limits": self.limits.model_dump()}
        assert process.stdin is not None
        process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
        process.stdin.flush()
        self._sent.append((absolute, format))

    def _parse_once(self, path: Path, format: str, then: Task | None = None) -> bytes:
        name = Path(path).name
        if not self._sent and self._answered >= self.recycle_after:
            self.close()  # it has read its share: a fresh worker takes the next files
        if self._sent and self._sent[0] != (str(Path(path).absolute()), format):
            self._kill()  # not the file sent ahead (never expected): start afresh
        # A file sent ahead belongs to the worker it was sent to, dead or alive: its answer,
        # or its end, is this file's outcome (and a crash costs this file one attempt).
        process = self._process if self._sent and self._process else self.start()
        try:
            if not self._sent:
                self._send(process, path, format)
            if then is not None and len(self._sent) == 1 and (
                self._answered + 1 < self.recycle_after
            ):  # (the last file of a worker's share is not followed by another)
                try:
                    self._send(process, *then)
                except OSError:
                    pass  # the worker is gone; this file's answer, or its absence, says why
            answer = self._read(self.limits.timeout_s)
            if answer is not None:
                self._sent.popleft()
                self._answered += 1
        except TimeoutError:
            self._kill()
            raise ParseTimeout(
                f"{name} took longer than {self.limits.timeout_s:g} s to read and was "
                "stopped; it may be damaged or unusually complex."
            ) from None
        except OSError:
            answer = None
        if answer is None:
            code = process.wait()
            self._kill()
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise ParserCrashed(
                f"The parser crashed while reading {name} (it {how}; out of "
                "memory, or the file is damaged)."
            )
        if answer.startswith(ANSWERED_OK):  # the worker's own layout: no need to decode it
            return answer
        failure = json.loads(answer)
        error_name = str(failure.get("error"))
        if error_name == "ParseMemoryError":
            self._kill()
            raise ParseMemoryError(self._memory_message(name))
        raise error_from_name(error_name, str(failure.get("message")))

    def _memory_message(self, name: str) -> str:
        return (
            f"{name} needs more than {self.limits.memory_bytes / (1 << 30):.1f} GiB of memory "
            "to read and was stopped; it may be damaged or hostile."
        )


class Parser(Protocol):
    """What ``ParserPool`` drives: ``IsolatedParser``, or ``core.ingest.hosted.HostedParser``."""

    def parse(self, path: Path, format: str, then: Task | None = None) -> ParseResult: ...
    def abort(self) -> None: ...
    def end_input(self) -> None: ...
    def reap(self, timeout: float = 5.0) -> None: ...


class _Slot:
    """One queued parse and, once done, its outcome."""

    def __init__(self, path: Path, format: str) -> None:
        self.path, self.format = path, format
        self.done = threading.Event()
        self.outcome: ParseResult | IngestError | None = None


class ParserPool:
    """Several isolated parsers, each driven by its own thread; ``map`` keeps input order.

    The threads are plain daemon threads that end on a sentinel and are waited for through
    Events, so the pool can be used from any thread (a Qt worker included) and leaves
    nothing behind.
    """

    def __init__(self, limits: IngestLimits | None = None, workers: int = 1,
                 recycle_after: int = RECYCLE_AFTER,
                 make_parser: Callable[[IngestLimits, int], Parser] | None = None) -> None:
        self.limits = limits or IngestLimits()
        self.workers = max(1, workers)
        make = make_parser or IsolatedParser
        self._parsers = [make(self.limits, recycle_after) for _ in range(self.workers)]
        self._queue: queue.Queue[_Slot | None] = queue.Queue()
        self._stopped = [threading.Event() for _ in self._parsers]
        for parser, stopped in zip(self._parsers, self._stopped):
            threading.Thread(
                target=self._serve, args=(parser, stopped), daemon=True, name="ingest-parser"
            ).start()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _serve(self, parser: Parser, stopped: threading.Event) -> None:
        try:
            slot = self._queue.get()
            while slot is not None:
                following, queued = None, True  # the next slot, if queued: sent ahead
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    queued = False
                then = (following.path, following.format) if following is not None else None
                try:
                    slot.outcome = parser.parse(slot.path, slot.format, then)
                except IngestError as error:
                    slot.outcome = error
                except Exception as error:  # noqa: BLE001 - never leave a slot unanswered
                    slot.outcome = IngestError(f"{slot.path.name}: internal error ({error}).")
                finally:
                    slot.done.set()
                slot = following if queued else self._queue.get()
        finally:
            stopped.set()

    def _stop_threads(self) -> None:
        for _ in self._parsers:
            self._queue.put(None)
        for stopped in self._stopped:
            stopped.wait()

    def abort(self) -> None:
        """Stop at once: kill every parser (a file being parsed fails) and drop queued work."""
        while True:
            try:
                slot = self._queue.get_nowait()
            except queue.Empty:
                break
            if slot is not None:
                slot.done.set()
        for parser in self._parsers:
            parser.abort()
        self.close()

    def close(self) -> None:
        """Finish queued work, then stop the threads and the parser processes."""
        if all(stopped.is_set() for stopped in self._stopped):
            return
        self._stop_threads()
        for parser in self._parsers:  # all told first, so that they wind down together
            parser.end_input()
        for parser in self._parsers:
            parser.reap()

    def map(
        self,
        tasks: Iterable[tuple[Path, str] | None],
        cancelled: Callable[[], bool] | None = None,
        waiting: Callable[[], object] | None = None,
    ) -> Iterator[ParseResult | IngestError | None]:
        """Parse ``(path, format)`` tasks, ``READ_AHEAD`` per parser ahead of the one being
        yielded; ``None`` tasks yield ``None``.

        While waiting, ``cancelled`` is polled, and ``waiting`` called, every 0.2 s; when
        ``cancelled`` turns true the pool is aborted, so a long parse does not delay a
        cancel. (The importer commits what it has stored so far while it waits.)
        """
        pending: list[_Slot | None] = []
        ahead = self.workers * READ_AHEAD
        end = object()
        iterator = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < ahead:
                task = next(iterator, end)
                if task is end:
                    exhausted = True
                elif task is None:
                    pending.append(None)
                else:
                    slot = _Slot(*task)  # type: ignore[misc]
                    self._queue.put(slot)
                    pending.append(slot)
            if not pending:
                return
            slot = pending.pop(0)
            if slot is None:
                yield None
            else:
                while not slot.done.wait(0.2):
                    if cancelled and cancelled():
                        self.abort()
                    elif waiting is not None:
                        waiting()
                yield slot.outcome


def parse_isolated(path: Path, format: str, limits: IngestLimits | None = None) -> ParseResult:
    """Parse one file in a fresh isolated process (for previews and tests)."""
    with IsolatedParser(limits) as parser:
        return parser.parse(path, format)
