"""Server-sent events as OpenAI-compatible servers stream them.

Each event is ``data: <json>`` lines ended by a blank line; ``data: [DONE]`` ends the
stream; lines starting with ``:`` are comments (keep-alive pings). Line ends may be
``\\n`` or ``\\r\\n``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from core.endpoints import ServingError

DONE = "[DONE]"


def sse_data(lines: Iterable[bytes]) -> Iterator[str]:
    """The data of each event, in order, until ``[DONE]`` or the end of the stream."""
    pending: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if pending:
                data = "\n".join(pending)
                pending = []
                if data.strip() == DONE:
                    return
                yield data
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            pending.append(value[1:] if value.startswith(" ") else value)
    if pending and "\n".join(pending).strip() != DONE:
        yield "\n".join(pending)


def sse_json(lines: Iterable[bytes], where: str) -> Iterator[dict[str, Any]]:
    """Each event's data as a JSON object; an ``error`` event raises ``ServingError``."""
    for data in sse_data(lines):
        try:
            chunk = json.loads(data)
        except ValueError as error:
            raise ServingError(f"The server at {where} streamed something that is not JSON: "
                               f"{data[:120]!r}") from error
        if not isinstance(chunk, dict):
            raise ServingError(f"The server at {where} streamed an unexpected event: "
                               f"{data[:120]!r}")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ServingError(f"The server at {where} stopped with an error: {message}")
        yield chunk
