"""Chat templates, rendered safely.

A model's chat template is a Jinja program shipped inside the model file: untrusted.
``TemplateRenderer`` renders it in a child process (``template_worker``) that uses Jinja's
immutable sandbox and caps the output size and memory; the parent waits at most
``timeout_s`` for the reply and kills the child when it runs over (a template that loops
forever), starting a fresh one for the next request. One renderer serves many requests.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from core.errors import ScriptoriumError

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_CHARS = 400_000
_START_TIMEOUT_S = 30.0


class TemplateError(ScriptoriumError):
    """A chat template is unsafe, broken, too slow or produces too much text."""


class TemplateRenderer:
    """Renders chat templates in a sandboxed child process with time and size limits."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()  # one request at a time on the pipe

    # -- the child process ---------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "core.generation.template_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True,
        )
        self._process = process
        self._buffer = b""
        if self._read_line(time.monotonic() + _START_TIMEOUT_S) is None:
            self.close()
            raise TemplateError("The chat-template sandbox did not start.")
        return process

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None  # the child died (e.g. out of memory)
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        """Stop the child process (a new one starts on the next render)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        if process.poll() is None:
            process.kill()
        process.wait()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown)
            pass

    # -- rendering ---------------------------------------------------------------------------
    def render(self, template: str, context: dict[str, Any], *,
               timeout_s: float | None = None) -> str:
        """The template rendered with ``context`` (JSON-serialisable); raises TemplateError."""
        with self._lock:
            return self._render(template, context,
                                self.timeout_s if timeout_s is None else timeout_s)

    def _render(self, template: str, context: dict[str, Any], timeout_s: float) -> str:
        process = self._process if self._process and self._process.poll() is None else None
        if process is None:
            process = self._start()
        request = json.dumps({"template": template, "context": context,
                              "max_chars": self.max_chars}) + "\n"
        try:
            assert process.stdin is not None
            process.stdin.write(request.encode("utf-8"))
            process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self.close()
            raise TemplateError("The chat-template sandbox stopped unexpectedly.") from error
        reply = self._read_line(time.monotonic() + timeout_s)
        if reply is None:
            died = process.poll() is not None
            self.close()
            if died:
                raise TemplateError("The model's chat template used too much memory and was "
                                    "stopped.")
            raise TemplateError(
                f"The model's chat template did not finish within {timeout_s:g} s and was "
                "stopped.", hint="the template may loop forever; use another template")
        if reply.get("ok"):
            return str(reply["text"])
        kind = reply.get("kind")
        if kind == "security":
            raise TemplateError(f"The model's chat template tried an unsafe operation and was "
                                f"refused: {reply.get('error')}")
        if kind == "size":
            raise TemplateError(f"The model's chat template produced too much text: "
                                f"{reply.get('error')}")
        raise TemplateError(f"The model's chat template failed: {reply.get('error')}")

    def render_chat(self, template: str, messages: Sequence[dict[str, str]], *,
                    bos_token: str = "", eos_token: str = "",
                    add_generation_prompt: bool = True) -> str:
        """A conversation formatted by a Hugging Face style chat template."""
        return self.render(template, {
            "messages": [dict(m) for m in messages], "bos_token": bos_token,
            "eos_token": eos_token, "add_generation_prompt": add_generation_prompt,
        })
