"""Launching a server for one GGUF: llama.cpp's ``llama-server`` when the setup built it,
else llama-cpp-python's (``python -m core.serving.launch``); see ``core.serving.engines``.

``plan_server`` resolves the model (a registry GGUF id, a ``.gguf`` path, a release, or
the workspace's deployed release), checks the address, the port, the token and the engine
and builds the command; ``core.serving.process.start_server`` runs it.

llama-server decodes ``parallel`` requests together; llama-cpp-python's answers one at a
time, and with ``interrupt_requests`` off (as here) concurrent requests queue instead of
cutting the running one short.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.endpoints import RemoteEndpoint, ServingError
from core.generation.runtime import DEFAULT_N_CTX, default_threads, gpu_offload_available
from core.serving.chat_format import (
    GgufChat,
    read_gguf_chat,
    server_chat_args,
    write_chat_template,
)
from core.serving.engines import (
    DEFAULT_PARALLEL,
    Engine,
    EngineChoice,
    choose_engine,
    llama_server_command,
)
from core.serving.state import LOG_NAME, serving_dir
from core.workspace import Workspace

MIN_TOKEN_CHARS = 16
SERVER_EXTRA = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")


class ServeConfig(BaseModel):
    """What ``scriptorium serve`` was asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str | None = Field(default=None, description="GGUF id or .gguf path")
    release: int | None = Field(default=None, description="release version (default: deployed)")
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535, description="0 picks a free port")
    token: str | None = Field(default=None, description="default: generated")
    no_token: bool = Field(default=False, description="no authentication (loopback only)")
    n_ctx: int = Field(default=DEFAULT_N_CTX, ge=256, le=1_048_576)
    threads: int | None = Field(default=None, ge=1, le=1024)
    gpu: bool | None = None
    engine: EngineChoice = "auto"
    parallel: int = Field(default=DEFAULT_PARALLEL, ge=1, le=64,
                          description="requests decoded together (llama-server)")
    startup_timeout_s: float = Field(default=120.0, gt=0)


@dataclass(frozen=True)
class ServerPlan:
    """A checked launch: the model, the address, the token and the command."""

    model_name: str
    model_path: Path
    host: str
    port: int
    token: str
    command: list[str]
    log_path: Path
    startup_timeout_s: float
    engine: Engine = "llama-cpp-python"
    parallel: int = 1

    @property
    def url(self) -> str:
        """The address clients on this machine use."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/v1"

    def endpoint(self, name: str = "local server") -> RemoteEndpoint:
        return RemoteEndpoint(name=name, url=self.url, token=self.token)

    def share_urls(self) -> list[str]:
        """The addresses colleagues use: this machine's network addresses when it listens
        on every interface, else the one it listens on."""
        if self.host not in ("0.0.0.0", "::"):
            return [self.url]
        return [f"http://{address}:{self.port}/v1" for address in lan_addresses()]


def lan_addresses() -> list[str]:
    """This machine's addresses on the network (its name when none is known); may wait on
    the resolver, so never on a GUI thread."""
    try:
        _, _, addresses = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        addresses = []
    return [a for a in addresses if not a.startswith("127.")] or [socket.gethostname()]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_model(workspace: Workspace, model: str | None,
                  release: int | None) -> tuple[Path, str]:
    """The .gguf to serve and its name: ``model``, else release ``release``, else the
    deployed release."""
    from core.models.resolve import resolve_gguf
    from core.workspace.releases import deployed_model_id, read_releases

    if model is not None and release is not None:
        raise ServingError("Name a model or a release, not both.")
    if model is None:
        if release is not None:
            model = read_releases(workspace).get(release).model_id
        else:
            model = deployed_model_id(workspace)
            if model is None:
                raise ServingError("No release is deployed in this workspace.",
                                   hint="name a model or a release, or promote a model first")
    return resolve_gguf(workspace, model)


def check_port(host: str, port: int) -> int:
    """The port to use (a free one for 0); ServingError when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as error:
            if port and error.errno in (98, 48, 10048):  # EADDRINUSE (Linux, macOS, Windows)
                raise ServingError(f"Port {port} on {host} is taken (another server?).",
                                   hint="choose another with --port") from error
            raise ServingError(f"Cannot listen on {host}:{port}: {error.strerror}.") from error
        return int(probe.getsockname()[1])


def _check_extra() -> None:
    missing = [name for name in SERVER_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise ServingError(f"llama-cpp-python's server is not installed (missing: "
                           f"{', '.join(missing)}).",
                           hint="install the llama-cpp-python[server] extra")


def _token(config: ServeConfig) -> str:
    if config.no_token:
        if not is_loopback(config.host):
            raise ServingError(
                f"Refusing to serve on {config.host} without a token: anyone on the network "
                "could use the model.", hint="drop --no-token (a token is then generated)")
        return ""
    token = config.token if config.token is not None else secrets.token_urlsafe(24)
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise ServingError(f"The token must be at least {MIN_TOKEN_CHARS} characters, "
                           "without spaces.", hint="or leave --token out to get one generated")
    return token


def tuned_here_model(workspace: Workspace, name: str, path: Path, chat: GgufChat) -> bool:
    """Whether the served model has an instruction stage Scriptorium trained in its
    lineage (it is prompted in one user turn, as its SFT rows were written)."""
    from core.models.resolve import model_kind, tuned_here
    from core.workspace.registry import ModelRegistry

    known = ModelRegistry(workspace).exists(name)
    kind, reason = model_kind(workspace, name if known else path, chat.chat_template)
    return kind == "instruct" and tuned_here(reason)


def plan_server(workspace: Workspace, config: ServeConfig) -> ServerPlan:
    """Check everything that can be checked before launching (see module docstring)."""
    token = _token(config)
    engine, binary = choose_engine(config.engine)
    if engine == "llama-cpp-python":
        _check_extra()
    path, name = resolve_model(workspace, config.model, config.release)
    port = check_port(config.host, config.port)
    folder = serving_dir(workspace)
    threads = config.threads or default_threads()
    gpu = gpu_offload_available() if config.gpu is None else config.gpu
    chat = read_gguf_chat(path)
    user_turn = tuned_here_model(workspace, name, path, chat)
    if binary is not None:
        parallel = config.parallel
        command = llama_server_command(
            binary, model=path, alias=name, host=config.host, port=port,
            n_ctx=config.n_ctx, parallel=parallel, threads=threads, gpu=gpu,
            chat_template=write_chat_template(chat, folder, user_turn))
    else:
        parallel = 1
        command = [
            sys.executable, "-m", "core.serving.launch", "--model", str(path),
            "--model_alias", name, "--host", config.host, "--port", str(port),
            "--n_ctx", str(config.n_ctx), "--n_threads", str(threads),
            "--n_threads_batch", str(threads), "--n_gpu_layers", "-1" if gpu else "0",
            "--interrupt_requests", "false", *server_chat_args(chat, folder, user_turn)]
    return ServerPlan(model_name=name, model_path=path, host=config.host, port=port,
                      token=token, command=command, log_path=folder / LOG_NAME,
                      startup_timeout_s=config.startup_timeout_s, engine=engine,
                      parallel=parallel)
