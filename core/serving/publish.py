"""Publishing a workspace's model in the background, and ending it.

``publish`` starts the server in its own session (it outlives the app or the terminal that
started it), records it in the state file and the audit log; ``published`` reads it back;
``unpublish`` stops it. The Releases pane and ``scriptorium serve --background/--stop``
share these, so either can stop what the other started.
"""

from __future__ import annotations

from core.endpoints import ServingError
from core.serving.process import start_server
from core.serving.server import ServeConfig, ServerPlan, plan_server
from core.serving.state import ServerState, clear_state, read_state, stop_process, write_state
from core.workspace import Workspace


def published(workspace: Workspace) -> ServerState | None:
    """The workspace's running server, if any."""
    return read_state(workspace)


def refuse_second(workspace: Workspace) -> None:
    running = read_state(workspace)
    if running is not None:
        raise ServingError(f"A server is already running for this workspace ({running.model} "
                           f"at {running.url}, pid {running.pid}).",
                           hint="stop it first (`scriptorium serve --stop`)")


def publish(workspace: Workspace, config: ServeConfig) -> tuple[ServerPlan, ServerState]:
    """Start the server and leave it running; returns its plan and recorded state."""
    refuse_second(workspace)
    server = start_server(plan_server(workspace, config))
    state = server.state(detached=True)
    write_state(workspace, state)
    workspace.audit.record("serving.start", model=state.model, host=state.host,
                           port=state.port, pid=state.pid)
    return server.plan, state


def unpublish(workspace: Workspace) -> ServerState | None:
    """Stop the workspace's server; returns what was stopped (None when none ran)."""
    running = read_state(workspace)
    if running is None:
        clear_state(workspace)  # a stale file of a server that is gone
        return None
    if not stop_process(running.pid):
        raise ServingError(f"Could not stop the server (pid {running.pid}).")
    clear_state(workspace, running.pid)
    workspace.audit.record("serving.stop", model=running.model, port=running.port)
    return running
