"""The child process that renders chat templates (``python -m core.generation.template_worker``).

It reads one JSON request a line on stdin and writes one JSON reply a line on stdout.
Templates come from model files, so they are untrusted: they are rendered in Jinja's
immutable sandbox (no attribute access to private members, no mutation), with the output
size capped while rendering and the address space capped by ``RLIMIT_AS``. The parent
enforces the time limit by killing this process.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

MEMORY_LIMIT = 1 << 30


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


def _environment() -> Any:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    return env


class _TooLong(Exception):
    pass


def render(env: Any, cache: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

    source = request["template"]
    limit = int(request.get("max_chars", 200_000))
    try:
        template = cache.get(source)
        if template is None:
            template = env.from_string(source)
            if len(cache) > 8:
                cache.clear()
            cache[source] = template
        parts: list[str] = []
        size = 0
        for piece in template.generate(**request.get("context", {})):
            size += len(piece)
            if size > limit:
                raise _TooLong
            parts.append(piece)
        return {"ok": True, "text": "".join(parts)}
    except SecurityError as error:
        return {"ok": False, "kind": "security", "error": str(error)}
    except TemplateSyntaxError as error:
        return {"ok": False, "kind": "syntax", "error": f"line {error.lineno}: {error.message}"}
    except _TooLong:
        return {"ok": False, "kind": "size", "error": f"output longer than {limit} characters"}
    except MemoryError:
        return {"ok": False, "kind": "size", "error": "the template used too much memory"}
    except RecursionError:
        return {"ok": False, "kind": "error", "error": "the template recursed too deeply"}
    except Exception as error:  # any template error is reported, never fatal to the worker
        return {"ok": False, "kind": "error", "error": f"{type(error).__name__}: {error}"}


def main() -> int:
    _limit_memory()
    env = _environment()
    cache: dict[str, Any] = {}
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            reply = render(env, cache, request)
        except (ValueError, KeyError, TypeError) as error:
            reply = {"ok": False, "kind": "error", "error": f"bad request: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
