"""The state file of a launched server: what ``scriptorium serve --status/--stop`` read.

``<workspace>/serving/server.json`` (mode 0600: it holds the token) names the process,
the address, the model and the log. A state whose process has gone is stale and ignored.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from core.fsutil import atomic_write_json, make_private_dir, read_json
from core.workspace import Workspace

STATE_NAME = "server.json"
LOG_NAME = "server.log"


class ServerState(BaseModel):
    """A server started by ``scriptorium serve``."""

    model_config = ConfigDict(frozen=True)
    pid: int
    host: str
    port: int
    url: str
    token: str
    model: str
    model_path: str
    log: str
    started: str
    detached: bool = False
    engine: str = "llama-cpp-python"
    parallel: int = 1
    share_urls: tuple[str, ...] = ()  # the addresses colleagues use


def serving_dir(workspace: Workspace) -> Path:
    """``<workspace>/serving``: the state file, the server's log, its chat-format config."""
    return make_private_dir(workspace.root / "serving")


def _path(workspace: Workspace) -> Path:
    return workspace.root / "serving" / STATE_NAME


def write_state(workspace: Workspace, state: ServerState) -> None:
    serving_dir(workspace)
    atomic_write_json(_path(workspace), state.model_dump(mode="json"))


def clear_state(workspace: Workspace, pid: int | None = None) -> None:
    """Remove the state file (only if it names ``pid``, when given)."""
    state = read_state(workspace, live_only=False)
    if state is not None and pid is not None and state.pid != pid:
        return
    _path(workspace).unlink(missing_ok=True)


def is_server_process(pid: int) -> bool:
    """Whether ``pid`` is alive and runs the server (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (macOS): trust the pid
        except (ProcessLookupError, PermissionError):
            return False
        return True
    program = cmdline.split(b"\0", 1)[0]
    return (b"core.serving.launch" in cmdline or b"llama_cpp.server" in cmdline
            or program.endswith(b"llama-server"))


def read_state(workspace: Workspace, *, live_only: bool = True) -> ServerState | None:
    """The recorded server, or None (none recorded, damaged, or its process is gone)."""
    path = _path(workspace)
    if not path.exists():
        return None
    try:
        state = ServerState.model_validate(read_json(path))
    except (ValueError, ValidationError, OSError):
        return None
    if live_only and not is_server_process(state.pid):
        return None
    return state


def stop_process(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; True when the process is gone."""
    if not is_server_process(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    time.sleep(0.2)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of another parent counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True
