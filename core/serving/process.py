"""Running the planned server: a child process in its own session, waited for until ready.

The server's output goes to ``<workspace>/serving/server.log``; ``start_server`` waits
until it answers ``GET /v1/models`` with the token, and reports a death with the end of
that log. The token reaches the child in its environment (``LLAMA_API_KEY`` or
``API_KEY``), never on its command line, where other users of the machine could read it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from core.clock import now_iso
from core.endpoints import ServingError
from core.serving.engines import engine_environment
from core.serving.server import ServerPlan
from core.serving.state import ServerState, stop_process
from core.serving.transport import TokenRefused, get_json


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class RunningServer:
    """A launched server process; ``stop()`` ends it."""

    def __init__(self, plan: ServerPlan, process: subprocess.Popen[bytes]) -> None:
        self.plan = plan
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def state(self, detached: bool = False) -> ServerState:
        plan = self.plan
        return ServerState(pid=self.pid, host=plan.host, port=plan.port, url=plan.url,
                           token=plan.token, model=plan.model_name,
                           model_path=str(plan.model_path), log=str(plan.log_path),
                           started=now_iso(), detached=detached, engine=plan.engine,
                           parallel=plan.parallel, share_urls=tuple(plan.share_urls()))

    def _died(self) -> ServingError:
        tail = log_tail(self.plan.log_path)
        return ServingError(f"The server stopped (exit code {self.process.returncode}) "
                            f"before answering. The end of {self.plan.log_path}:\n{tail}")

    def wait_ready(self) -> None:
        """Wait until the server answers with the token; ServingError (and the server
        stopped) when it dies, refuses the token or takes too long."""
        endpoint = self.plan.endpoint()
        deadline = time.monotonic() + self.plan.startup_timeout_s
        while True:
            if self.process.poll() is not None:
                raise self._died()
            try:
                get_json(endpoint, "/models", timeout_s=2.0)
                return
            except TokenRefused as error:
                self.stop()
                raise ServingError(f"Something else answers on port {self.plan.port} and "
                                   "refuses our token.") from error
            except ServingError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServingError(
                    f"The server did not answer within {self.plan.startup_timeout_s:g} s. The "
                    f"end of {self.plan.log_path}:\n{log_tail(self.plan.log_path)}")
            time.sleep(0.2)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            stop_process(self.pid, timeout_s)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_server(plan: ServerPlan, *, wait: bool = True) -> RunningServer:
    """Launch the planned server (in its own session) and, with ``wait``, wait until it
    answers."""
    env = engine_environment(plan.engine, plan.token)
    with open(plan.log_path, "ab") as log:
        os.chmod(plan.log_path, 0o600)
        log.write(f"\n--- {now_iso()} serving "
                  f"{plan.model_name} on {plan.host}:{plan.port}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(plan.command, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True, close_fds=True)
        except OSError as error:
            raise ServingError(f"Could not start the server: {error}") from error
    server = RunningServer(plan, process)
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
