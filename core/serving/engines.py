"""Which server program publishes a model, and its command line.

Two engines serve the same OpenAI-compatible API:

- ``llama-server``: llama.cpp's own server, built by the setup from the llama.cpp source
  vendored in the pinned llama-cpp-python, with the same instruction-set flags as the
  binding, and installed next to the virtual environment's Python (``.venv/bin``). It
  decodes several requests at once (parallel slots, continuous batching), so concurrent
  analysts share the machine instead of queueing behind each other.
- ``llama-cpp-python``: the binding's own server (``core.serving.launch``), one request at
  a time; used when ``llama-server`` is not installed, or when asked for.

Both format chats as local drafting does: the model's own template, or a base model's
plain prompt (``core.serving.chat_format``), checked in Scriptorium's sandbox first.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Literal

from core.endpoints import ServingError
from core.system.programs import SERVER_BINARY_ENV, llama_server_binary, llama_server_path

__all__ = ["SERVER_BINARY_ENV", "choose_engine", "engine_environment", "llama_server_binary",
           "llama_server_command"]

Engine = Literal["llama-server", "llama-cpp-python"]
EngineChoice = Literal["auto", "llama-server", "llama-cpp-python"]
ENGINES: tuple[Engine, ...] = ("llama-server", "llama-cpp-python")
DEFAULT_PARALLEL = 4
EXTRA_ARGS_ENV = "SCRIPTORIUM_LLAMA_SERVER_ARGS"  # more llama-server options, for an admin

ENGINE_LABELS: dict[str, str] = {
    "llama-server": "llama.cpp's server",
    "llama-cpp-python": "llama-cpp-python's server",
}


def choose_engine(choice: EngineChoice) -> tuple[Engine, Path | None]:
    """The engine for ``choice`` and, for llama-server, its binary. ``auto`` takes
    llama-server when it is installed."""
    binary = llama_server_binary()
    if choice == "llama-cpp-python" or (choice == "auto" and binary is None):
        return "llama-cpp-python", None
    if binary is None:
        raise ServingError(f"llama.cpp's server (llama-server) is not installed "
                           f"({llama_server_path()}).",
                           hint="run installers/build-llama-server.sh, or serve with "
                                "--engine llama-cpp-python (one request at a time)")
    return "llama-server", binary


def llama_server_command(binary: Path, *, model: Path, alias: str, host: str, port: int,
                         n_ctx: int, parallel: int, threads: int, gpu: bool,
                         chat_template: Path) -> list[str]:
    """llama-server's command line: ``parallel`` slots of ``n_ctx`` tokens each, decoded
    together (continuous batching); chats formatted by ``chat_template`` (a Jinja file);
    no web page, no slot monitor (it shows other users' prompts), no built-in tools. The
    token travels in the environment (``LLAMA_API_KEY``), never on the command line."""
    return [
        str(binary), "--model", str(model), "--alias", alias,
        "--host", host, "--port", str(port),
        "--ctx-size", str(n_ctx * parallel), "--parallel", str(parallel), "--no-kv-unified",
        "--cont-batching", "--threads", str(threads), "--threads-batch", str(threads),
        "--n-gpu-layers", "all" if gpu else "0",
        "--jinja", "--chat-template-file", str(chat_template), "--reasoning-format", "none",
        "--no-webui", "--no-slots", "--offline",
        *shlex.split(os.environ.get(EXTRA_ARGS_ENV, ""))]


def engine_environment(engine: Engine, token: str) -> dict[str, str]:
    """The server's environment: this one without settings the engine would also read
    (a stray ``MODEL`` or ``LLAMA_ARG_PORT`` must not change what is served), plus the
    token."""
    env = {k: v for k, v in os.environ.items()
           if k.upper() not in _BINDING_SETTINGS and not k.upper().startswith(_SERVER_PREFIX)}
    if token:
        env["LLAMA_API_KEY" if engine == "llama-server" else "API_KEY"] = token
    return env


# settings llama_cpp.server reads from the environment, and llama-server's (every option
# has a LLAMA_ARG_ variable; the token is LLAMA_API_KEY)
_BINDING_SETTINGS = {"HOST", "PORT", "CONFIG_FILE", "MODEL", "API_KEY", "CHAT_FORMAT",
                     "INTERRUPT_REQUESTS", "SSL_KEYFILE", "SSL_CERTFILE", "N_CTX", "VERBOSE",
                     "LLAMA_API_KEY"}
_SERVER_PREFIX = "LLAMA_ARG_"
