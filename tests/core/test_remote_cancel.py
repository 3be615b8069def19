"""Stopping a remote draft at once: while the server still holds the request in its queue
(no reply headers yet), and mid-stream on a reply with no length (close-delimited)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from helpers.serving import ensure_loopback

from core.endpoints import RemoteEndpoint
from core.generation.model import Finished, GenerationSettings, Message, Token
from core.serving.client import RemoteModel

pytestmark = pytest.mark.timeout(60)
EVENT = b'data: {"choices": [{"delta": {"content": "word "}, "finish_reason": null}]}\n\n'


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    """A server that waits 10 s before its headers ("queued"), or sends headers without
    a length, one event, then nothing for 10 s ("close-delimited")."""
    ensure_loopback()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            if request.param == "queued":
                stop.wait(10)
                return
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               b"Connection: close\r\n\r\n")
            try:
                connection.sendall(EVENT)  # one word, then nothing for 10 s
            except OSError:
                return
            stop.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(5)


@pytest.mark.parametrize("server", ["queued", "close-delimited"], indirect=True)
def test_a_cancel_ends_the_request_at_once(server: int) -> None:
    model = RemoteModel(RemoteEndpoint(name="lab", url=f"http://127.0.0.1:{server}"))
    started = time.monotonic()
    seen: list[object] = []

    def cancelled() -> bool:
        return time.monotonic() - started > 0.5 and (
            any(isinstance(e, Token) for e in seen) or time.monotonic() - started > 1.5)

    for event in model.stream([Message(role="user", content="Hello")],
                              GenerationSettings(max_tokens=50), cancelled=cancelled):
        seen.append(event)
    elapsed = time.monotonic() - started
    assert isinstance(seen[-1], Finished) and seen[-1].stats.finish == "cancelled"
    assert elapsed < 2.5, elapsed
