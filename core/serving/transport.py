"""Requests to an OpenAI-compatible endpoint: timeouts, user-facing errors, cancel.

``http.client`` from the standard library (https for a server behind a TLS proxy). A
streamed reply is read line by line; ``CancelWatch`` shuts the socket down when the
cancel flag is set, so a stop takes effect at once even while the server is still
queueing the request (it serves one at a time).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from core.endpoints import RemoteEndpoint, ServingError

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # between two lines of a stream (the server pings every 15 s)
MAX_REPLY = 8 << 20


class TokenRefused(ServingError):
    """The server answered 401 or 403."""


def _connection(endpoint: RemoteEndpoint, timeout_s: float) -> http.client.HTTPConnection:
    parts = urlsplit(endpoint.api_base)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return http.client.HTTPSConnection(host, parts.port, timeout=timeout_s,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(host, parts.port, timeout=timeout_s)


def _unreachable(endpoint: RemoteEndpoint, error: OSError) -> ServingError:
    where = endpoint.url
    if isinstance(error, ConnectionRefusedError):
        return ServingError(f"Nothing answers at {where} (connection refused).",
                            hint="is the server running, and are the host and port right?")
    if isinstance(error, (socket.timeout, TimeoutError)):
        return ServingError(f"{where} did not answer in time.",
                            hint="is the host up, and does the firewall let the port through?")
    if isinstance(error, socket.gaierror):
        return ServingError(f"The host of {where} is unknown: {error.strerror or error}.")
    if isinstance(error, ssl.SSLError):
        return ServingError(f"The TLS connection to {where} failed: {error}.")
    return ServingError(f"Could not reach {where}: {error.strerror or error}.")


def _detail(body: bytes) -> str:
    """The message of an error reply (FastAPI's ``detail`` or OpenAI's ``error``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("detail", "error", "message"):
            if data.get(key):
                return str(data[key])[:300]
    return str(data)[:300]


def _check_status(endpoint: RemoteEndpoint, response: http.client.HTTPResponse) -> None:
    if response.status == 200:
        return
    body = response.read(MAX_REPLY)
    if response.status in (401, 403):
        raise TokenRefused(
            f"The server at {endpoint.url} refused the token"
            + (" (none was given)." if not endpoint.token else "."),
            hint="use the token `scriptorium serve` printed for this server")
    raise ServingError(f"The server at {endpoint.url} answered {response.status}: "
                       f"{_detail(body) or response.reason}")


def _headers(endpoint: RemoteEndpoint, stream: bool) -> dict[str, str]:
    headers = {"Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    return headers


def _open(endpoint: RemoteEndpoint, method: str, path: str, body: dict[str, Any] | None,
          *, stream: bool, timeout_s: float, watch: CancelWatch | None = None,
          at_root: bool = False,
          ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = _connection(endpoint, CONNECT_TIMEOUT_S)
    data = json.dumps(body).encode("utf-8") if body is not None else None
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(timeout_s)
        if watch is not None:  # from here on a cancel shuts the socket, headers or not
            watch.attach(connection.sock)
        prefix = urlsplit(endpoint.api_base).path
        if at_root:  # beside the API, not under it (llama-server's /props)
            prefix = prefix.removesuffix("/v1")
        connection.request(method, prefix + path, body=data,
                           headers=_headers(endpoint, stream))
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        if isinstance(error, OSError):
            raise _unreachable(endpoint, error) from error
        raise ServingError(f"{endpoint.url} does not speak HTTP as expected: {error}") from error
    try:
        _check_status(endpoint, response)
    except BaseException:
        connection.close()
        raise
    return connection, response


def get_json(endpoint: RemoteEndpoint, path: str, *,
             timeout_s: float = CONNECT_TIMEOUT_S, at_root: bool = False) -> Any:
    """``GET path`` under the API root (beside it with ``at_root``), as JSON."""
    connection, response = _open(endpoint, "GET", path, None, stream=False,
                                 timeout_s=timeout_s, at_root=at_root)
    try:
        body = response.read(MAX_REPLY)
    except OSError as error:
        raise _unreachable(endpoint, error) from error
    finally:
        connection.close()
    try:
        return json.loads(body)
    except ValueError as error:
        raise ServingError(f"The server at {endpoint.url} sent a reply that is not JSON: is "
                           "it an OpenAI-compatible endpoint?") from error


@contextmanager
def open_stream(endpoint: RemoteEndpoint, path: str, body: dict[str, Any], *,
                cancelled: Callable[[], bool],
                timeout_s: float = READ_TIMEOUT_S) -> Iterator[Iterator[bytes]]:
    """``POST path`` and give the reply's lines; leaving the block closes the connection.

    A cancel takes effect at once, also while the server holds the request in its queue
    before answering (no lines then)."""
    with CancelWatch(cancelled) as watch:
        try:
            connection, response = _open(endpoint, "POST", path, body, stream=True,
                                         timeout_s=timeout_s, watch=watch)
        except ServingError:
            if not cancelled():
                raise
            yield iter(())
            return
        try:
            yield _lines(endpoint, response, cancelled)
        finally:
            connection.close()


def _lines(endpoint: RemoteEndpoint, response: http.client.HTTPResponse,
           cancelled: Callable[[], bool]) -> Iterator[bytes]:
    while True:
        try:
            line = response.readline(MAX_REPLY)
        except (OSError, ValueError, http.client.HTTPException) as error:
            if cancelled():
                return
            if isinstance(error, OSError):
                raise _unreachable(endpoint, error) from error
            raise ServingError(f"The stream from {endpoint.url} broke off: {error}") from error
        if not line:
            return
        yield line


class CancelWatch:
    """A short-lived thread that shuts a request's socket down once ``cancelled()``.

    It holds the socket from the moment it is connected (``attach``), not the
    connection's attribute: http.client drops that when a reply has no length, and the
    request must be stoppable before any reply comes."""

    POLL_S = 0.05

    def __init__(self, cancelled: Callable[[], bool]) -> None:
        self._cancelled = cancelled
        self._socket: socket.socket | None = None
        self._fired = False
        self._lock = threading.Lock()
        self._over = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="scriptorium-remote-cancel",
                                        daemon=True)

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            fired = self._fired
        if fired:
            _shut(sock)

    def _watch(self) -> None:
        while not self._over.wait(self.POLL_S):
            if self._cancelled():
                with self._lock:
                    self._fired = True
                    sock = self._socket
                if sock is not None:
                    _shut(sock)
                return

    def __enter__(self) -> CancelWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._over.set()
        self._thread.join()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
