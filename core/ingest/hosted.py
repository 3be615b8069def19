"""The client side of the parser host (``core.ingest.host``): ``HostedParser``, a parser
borrowed from the host with ``IsolatedParser``'s calls, and ``connect``, which starts the
host when none runs. Whatever goes wrong with the host, the import goes on with workers
of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

from core.ingest.errors import ParserCrashed, error_from_name
from core.ingest.host import host_address
from core.ingest.isolation import (
    ANSWERED_OK,
    RECYCLE_AFTER,
    STARTUP_TIMEOUT_S,
    IsolatedParser,
    Task,
    child_env,
)
from core.ingest.limits import IngestLimits
from core.ingest.parsers import ParseResult

START_TIMEOUT_S = 30.0
START_WAIT_S = 3.0  # for a host started elsewhere to listen
_STARTING = threading.Lock()
RETRY_START_S = 60.0  # after a host failed to start, imports use their own workers this long
_failed_start = [-RETRY_START_S]  # when it last failed (time.monotonic())
ANSWER_GRACE_S = 30.0  # beyond a file's own time limit, before the host counts as gone


class _HostGone(Exception):
    """The host could not be reached, or went away: parse here instead."""


def _open(address: Path) -> socket.socket | None:
    try:
        facts = address.lstat()
    except OSError:
        return None
    if facts.st_uid != os.getuid():
        return None  # not ours: never talk to it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(address))
    except OSError:
        sock.close()
        return None
    return sock


def _start_host(address: Path) -> None:
    """Start the host, detached from this process (it outlives it); returns once it
    listens, or has failed to."""
    log = address.with_suffix(".log")
    with contextlib.suppress(OSError):
        if log.stat().st_size > 5_000_000:
            log.unlink()
    with open(log, "ab") as errors:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(
                [sys.executable, "-m", "core.ingest.host", str(address)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                env=child_env(), start_new_session=True, timeout=START_TIMEOUT_S, check=False,
            )


def connect(limits: IngestLimits) -> tuple[socket.socket, BinaryIO] | None:
    """A connection to the host holding a parser with ``limits`` (the host is started if
    none runs), or ``None`` when there is no host to be had."""
    address = host_address()
    if address is None:
        return None
    sock = _open(address)
    if sock is None:
        with _STARTING:  # one start per process, however many parsers ask at once
            sock = _open(address)
            if sock is None and time.monotonic() - _failed_start[0] > RETRY_START_S:
                _start_host(address)
                deadline = time.monotonic() + START_WAIT_S
                # (another process's host may hold the lock and not listen quite yet)
                while (sock := _open(address)) is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                if sock is None:  # say why in the log; parse here meanwhile
                    _failed_start[0] = time.monotonic()
    if sock is None:
        return None
    sock.settimeout(STARTUP_TIMEOUT_S)
    reader = sock.makefile("rb")
    try:
        sock.sendall(json.dumps({"limits": limits.model_dump()}).encode() + b"\n")
        ready = json.loads(reader.readline() or b"{}")
    except (OSError, ValueError):
        ready = {}
    if not ready.get("ready"):
        reader.close()
        sock.close()
        return None
    sock.settimeout(2 * limits.timeout_s + ANSWER_GRACE_S)  # a crashed file is tried twice
    return sock, reader


class HostedParser:
    """A parser borrowed from the host, with ``IsolatedParser``'s calls.

    It connects on first use. When the host cannot be reached, or goes away during an
    import, it parses here with its own ``IsolatedParser`` from then on (a file the host
    was reading is read again here), so an import never fails for the host's sake.
    """

    def __init__(self, limits: IngestLimits | None = None,
                 recycle_after: int = RECYCLE_AFTER) -> None:
        self.limits = limits or IngestLimits()
        self.recycle_after = recycle_after
        self._connection: tuple[socket.socket, BinaryIO] | None = None
        self._local: IsolatedParser | None = None
        self._aborted = False

    def __enter__(self) -> HostedParser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def hosted(self) -> bool:
        """Whether files go to the host (false once it parses here)."""
        return self._local is None

    def parse(self, path: Path, format: str, then: Task | None = None) -> ParseResult:
        """Parse and clean ``path`` as ``format``; raises ``IngestError``."""
        answer = json.loads(self.parse_raw(path, format, then))
        return ParseResult.from_json(answer["result"])

    def parse_raw(self, path: Path, format: str, then: Task | None = None) -> bytes:
        if self._aborted:
            raise ParserCrashed("The import was stopped.")
        if self._local is None:
            try:
                return self._ask(path, format, then)
            except _HostGone:
                if self._aborted:
                    raise ParserCrashed("The import was stopped.") from None
                self._hang_up()
                self._local = IsolatedParser(self.limits, self.recycle_after)
        return self._local.parse_raw(path, format, then)

    def _ask(self, path: Path, format: str, then: Task | None) -> bytes:
        if self._connection is None:
            self._connection = connect(self.limits)
            if self._connection is None:
                raise _HostGone
        sock, reader = self._connection
        request = {
            "path": str(Path(path).absolute()),
            "format": format,
            "then": [str(Path(then[0]).absolute()), then[1]] if then else None,
        }
        try:
            sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
            answer = reader.readline()
        except (OSError, ValueError):  # ValueError: the reader was closed by ``abort``
            raise _HostGone from None
        if not answer.endswith(b"\n"):
            raise _HostGone
        if answer.startswith(ANSWERED_OK):
            return answer
        failure = json.loads(answer)
        raise error_from_name(str(failure.get("error")), str(failure.get("message")))

    def _hang_up(self, politely: bool = False) -> None:
        """Close the connection; ``politely``: once the host has taken the parser back
        (so that the next connection finds it warm)."""
        if self._connection is not None:
            sock, reader = self._connection
            self._connection = None
            if politely and not self._aborted:
                with contextlib.suppress(OSError, ValueError):
                    sock.settimeout(STARTUP_TIMEOUT_S)
                    sock.sendall(b'{"bye": true}\n')
                    reader.readline()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            reader.close()
            sock.close()

    def abort(self) -> None:
        """Stop at once: the host kills the worker reading this parser's file."""
        self._aborted = True
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection[0].shutdown(socket.SHUT_RDWR)
        if self._local is not None:
            self._local.abort()

    def end_input(self) -> None:
        """Give the parser back to the host (or tell the local worker there is no more)."""
        self._hang_up(politely=True)
        if self._local is not None:
            self._local.end_input()

    def reap(self, timeout: float = 5.0) -> None:
        if self._local is not None:
            self._local.reap(timeout)

    def close(self) -> None:
        self.end_input()
        self.reap()
