"""Test helper: a server on loopback (llama-server when installed), for the serving and
drafting tests.

The tests run with the network cut (``unshare -rn``), where loopback starts down;
``installers/run-tests.sh`` brings it up, and ``ensure_loopback`` does when the tests were
started another way (or skips the test when it cannot).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.serving.process import RunningServer, start_server
from core.serving.server import ServeConfig, plan_server
from core.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789abcdef"


def loopback_usable() -> bool:
    try:
        with socket.socket() as server, socket.socket() as client:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            client.settimeout(1.0)
            client.connect(server.getsockname())
        return True
    except OSError:
        return False


def ensure_loopback() -> None:
    """Make 127.0.0.1 usable, or skip the test."""
    if loopback_usable():
        return
    subprocess.run([sys.executable, str(REPO_ROOT / "installers" / "loopback-up.py")],
                   check=False, capture_output=True)
    if not loopback_usable():
        pytest.skip("127.0.0.1 is not usable here (a network namespace with loopback down)")


@contextmanager
def loopback_server(workspace: Workspace, model: str, **config: object) -> Iterator[RunningServer]:
    """A server for ``model`` on 127.0.0.1 (a free port, 2 threads, CPU), stopped after."""
    ensure_loopback()
    settings = {"model": model, "port": 0, "token": TOKEN, "threads": 2, "gpu": False,
                "n_ctx": 1024, **config}
    server = start_server(plan_server(workspace, ServeConfig(**settings)))  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
