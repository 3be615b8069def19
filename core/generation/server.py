"""An OpenAI-compatible chat endpoint for one local model (``scriptorium serve``).

Off unless started. Listens on 127.0.0.1 only; every request must carry
``Authorization: Bearer <token>`` (generated and printed when not given). Serves
``GET /v1/models`` and ``POST /v1/chat/completions`` (with ``"stream": true`` as
server-sent events). Requests are answered one at a time per model (the model's lock).
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from core.errors import ScriptoriumError
from core.generation.model import Finished, GenerationSettings, Message, Token
from core.generation.runtime import LoadedModel, ModelCache
from core.generation.stream import stream_generate
from core.workspace import Workspace

HOST = "127.0.0.1"
MAX_BODY = 1 << 20


def make_handler(model: LoadedModel, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "scriptorium"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def _authorised(self) -> bool:
            given = self.headers.get("Authorization", "")
            if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token):
                return True
            self._error(401, "missing or wrong bearer token")
            return False

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [
                    {"id": model.name, "object": "model", "owned_by": "local"}]})
            else:
                self._error(404, "not found")

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._error(400, "a JSON body of at most 1 MiB is required")
                return
            try:
                body = json.loads(self.rfile.read(length))
                messages = [Message(role=m["role"], content=str(m["content"]))
                            for m in body["messages"]]
                settings = GenerationSettings(
                    max_tokens=int(body.get("max_tokens") or 256),
                    temperature=float(body.get("temperature", 0.7)),
                    top_p=float(body.get("top_p", 0.9)), seed=body.get("seed"),
                    stop=tuple([body["stop"]] if isinstance(body.get("stop"), str)
                               else body.get("stop") or ()))
            except (ValueError, KeyError, TypeError, ValidationError) as error:
                self._error(400, f"bad request: {error}")
                return
            if body.get("stream"):
                self._stream(messages, settings)
            else:
                self._complete(messages, settings)

        def _complete(self, messages: list[Message], settings: GenerationSettings) -> None:
            try:
                final = None
                for event in stream_generate(model, messages, settings):
                    if isinstance(event, Finished):
                        final = event
            except ScriptoriumError as error:
                self._error(400, str(error))
                return
            assert final is not None
            stats = final.stats
            self._send(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion",
                "created": int(time.time()), "model": model.name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": final.text},
                             "finish_reason": stats.finish}],
                "usage": {"prompt_tokens": stats.prompt_tokens,
                          "completion_tokens": stats.completion_tokens,
                          "total_tokens": stats.prompt_tokens + stats.completion_tokens}})

        def _stream(self, messages: list[Message], settings: GenerationSettings) -> None:
            ident = f"chatcmpl-{uuid.uuid4().hex[:16]}"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            stop = {"flag": False}

            def chunk(delta: dict[str, str], finish: str | None) -> bytes:
                data = {"id": ident, "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": model.name,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return f"data: {json.dumps(data)}\n\n".encode()

            try:
                for event in stream_generate(model, messages, settings,
                                             cancelled=lambda: stop["flag"]):
                    try:
                        if isinstance(event, Token):
                            self.wfile.write(chunk({"content": event.text}, None))
                        else:
                            self.wfile.write(chunk({}, event.stats.finish))
                            self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        stop["flag"] = True  # the client left: stop generating
            except ScriptoriumError as error:
                self.wfile.write(f"data: {json.dumps({'error': str(error)})}\n\n".encode())

    return Handler


def make_server(model: LoadedModel, token: str, port: int = 0) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port`` 0 picks a free one); not yet serving."""
    if len(token) < 16:
        raise ScriptoriumError("The bearer token must be at least 16 characters.")
    return ThreadingHTTPServer((HOST, port), make_handler(model, token))


def serve(workspace: Workspace | None, model_ref: str, *, port: int = 8765,
          token: str | None = None, n_ctx: int = 2048) -> int:
    """Serve until Ctrl-C; prints the address and the token."""
    token = token or secrets.token_urlsafe(24)
    cache = ModelCache(n_ctx=n_ctx)
    try:
        model = cache.get(workspace, model_ref)
        server = make_server(model, token, port)
        host, bound = server.server_address[:2]
        print(f"serving {model.name} on http://{host}:{bound}/v1 (OpenAI-compatible)\n"
              f"bearer token: {token}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            server.server_close()
    finally:
        cache.close()
    return 0
