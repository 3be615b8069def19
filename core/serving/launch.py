"""llama-cpp-python's server, as ``scriptorium serve`` runs it (``python -m
core.serving.launch`` with the server's own options, plus ``--sandboxed_chat FILE``).

Three differences from ``python -m llama_cpp.server``, each through the library's public
API:

- chats are formatted by the model's template (or the plain prompt of a base model,
  ``FILE`` holds it with the BOS and EOS tokens) rendered in Scriptorium's sandbox
  (``core.generation.template``: a child process with time and size limits), as local
  drafting renders it, so a template that loops fails one request in seconds instead of
  hanging the server; it is registered as a chat format (``register_chat_format``);
- the API documentation (``/docs``, ``/redoc``, ``/openapi.json``) is not served: it
  would answer without the token;
- a request that names no model is answered with the model's name, never the path of its
  file (llama.cpp names a reply after its file unless the request names the model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from core.fsutil import read_json
from core.generation.template import TemplateError, TemplateRenderer

SANDBOXED = "scriptorium-sandboxed"
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
PROBE = [{"role": "system", "content": "You draft proposals."},
         {"role": "user", "content": "Staffing plan"},
         {"role": "assistant", "content": "Four shifts."},
         {"role": "user", "content": "Transition plan"}]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class SandboxedChat:
    """A chat template rendered in the sandbox, one request at a time."""

    def __init__(self, config: dict[str, str], timeout_s: float = 2.0) -> None:
        self.template = config["chat_template"]
        self.bos, self.eos = config.get("bos_token", ""), config.get("eos_token", "")
        self.renderer = TemplateRenderer(timeout_s=timeout_s)
        self.lock = threading.Lock()

    def render(self, messages: list[dict[str, Any]]) -> str:
        with self.lock:
            return self.renderer.render_chat(self.template, messages, bos_token=self.bos,
                                             eos_token=self.eos)

    def formatter(self, *, messages: list[dict[str, Any]], **_: Any) -> Any:
        from llama_cpp.llama_chat_format import ChatFormatterResponse

        prompt = self.render([{"role": m["role"], "content": m.get("content") or ""}
                              for m in messages])
        # as the local path tokenises: the template's own BOS, else the model's
        return ChatFormatterResponse(prompt=prompt, stop=[self.eos] if self.eos else None,
                                     added_special=bool(self.bos)
                                     and prompt.startswith(self.bos))


def check_template(config: dict[str, str], timeout_s: float = 2.0) -> None:
    """Render a short conversation in the sandbox; TemplateError says why it cannot be
    used (it loops, fails or writes too much)."""
    chat = SandboxedChat(config, timeout_s)
    try:
        chat.render(PROBE)
    finally:
        chat.renderer.close()


def without_docs(app: Any) -> Any:
    """The FastAPI app without its documentation routes."""
    app.router.routes = [r for r in app.router.routes
                         if getattr(r, "path", None) not in DOC_PATHS]
    return app


def naming_the_model(app: App, name: str) -> App:
    """ASGI middleware: a JSON request with no "model" gets ``name``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await app(scope, _replay(message, receive), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body = _with_model(body, name)
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await app({**scope, "headers": headers},
                  _replay({"type": "http.request", "body": body, "more_body": False},
                          receive), send)

    return wrapped


def _with_model(body: bytes, name: str) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("model"):
        return body
    return json.dumps({**data, "model": name}).encode()


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from llama_cpp.llama_chat_format import register_chat_format
    from llama_cpp.server.app import create_app
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    parser = argparse.ArgumentParser(prog="python -m core.serving.launch")
    add_args_from_model(parser, Settings)
    parser.add_argument("--sandboxed_chat", type=Path,
                        help="JSON file: chat_template, bos_token, eos_token")
    args = parser.parse_args(argv)
    server = parse_model_from_args(ServerSettings, args)
    model = parse_model_from_args(ModelSettings, args)
    if args.sandboxed_chat:
        config = read_json(args.sandboxed_chat)
        try:
            check_template(config)
        except TemplateError as error:
            print(f"The model's chat template cannot be used: {error}", file=sys.stderr)
            return 3
        register_chat_format(SANDBOXED)(SandboxedChat(config).formatter)
        model.chat_format = SANDBOXED
    app = without_docs(create_app(server_settings=server, model_settings=[model]))
    uvicorn.run(naming_the_model(app, model.model_alias or Path(model.model).stem),
                host=os.getenv("HOST", server.host), port=int(os.getenv("PORT", server.port)),
                ssl_keyfile=server.ssl_keyfile, ssl_certfile=server.ssl_certfile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
