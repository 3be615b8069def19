"""A remote endpoint: an OpenAI-compatible server that the drafting pane can use.

Endpoints live in the user settings (a 0600 file, because they hold tokens). The URL may
name the server (``http://host:8765``) or its API root (``http://host:8765/v1``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ScriptoriumError

RemotePromptFormat = Literal["auto", "chat", "completion"]
TOKEN_ENV = "SCRIPTORIUM_ENDPOINT_TOKEN"
"""Environment variable holding a server token (kept out of ``ps``, unlike ``--token``)."""
REMOTE_PREFIX = "endpoint:"
"""Prefix that marks an endpoint name where a model id is expected (pickers, configs)."""


class ServingError(ScriptoriumError):
    """A server cannot be started, reached or used."""


class RemoteEndpoint(BaseModel):
    """An endpoint as the user configured it.

    ``prompt_format``: "chat" sends the conversation to ``/v1/chat/completions`` (the
    server applies the model's chat template); "completion" sends the plain prompt a base
    model gets locally to ``/v1/completions``; "auto" is "chat" (servers started by
    ``scriptorium serve`` format chats the way the local path does, base models included).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")
    name: str = Field(min_length=1, max_length=80)
    url: str
    token: str = ""
    n_ctx: int = Field(default=2048, ge=256, le=1_048_576,
                       description="the server's context window (it does not report it)")
    prompt_format: RemotePromptFormat = "auto"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the name is empty")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// address")
        try:
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as error:
            raise ValueError(f"{value!r} has a bad port") from error
        return value

    @property
    def api_base(self) -> str:
        """The API root, ending in ``/v1``."""
        return self.url if self.url.endswith("/v1") else f"{self.url}/v1"

    @property
    def key(self) -> str:
        """How pickers and configs name this endpoint."""
        return f"{REMOTE_PREFIX}{self.name}"


def find_endpoint(endpoints: tuple[RemoteEndpoint, ...] | list[RemoteEndpoint],
                  name: str) -> RemoteEndpoint:
    """The endpoint called ``name`` (with or without the ``endpoint:`` prefix)."""
    wanted = name.removeprefix(REMOTE_PREFIX)
    for endpoint in endpoints:
        if endpoint.name == wanted:
            return endpoint
    known = ", ".join(e.name for e in endpoints) or "none configured"
    raise ServingError(f"No remote endpoint named {wanted!r} (endpoints: {known}).",
                       hint="add one in the Draft pane (Endpoints…)")


def with_endpoint(endpoints: tuple[RemoteEndpoint, ...], endpoint: RemoteEndpoint,
                  replacing: str | None = None) -> tuple[RemoteEndpoint, ...]:
    """``endpoints`` with ``endpoint`` added, or put in place of the one named ``replacing``
    (or of the one with its name)."""
    old = replacing or endpoint.name
    kept = [e for e in endpoints if e.name != old]
    if any(e.name == endpoint.name for e in kept):
        raise ServingError(f"An endpoint named {endpoint.name!r} exists already.")
    position = next((i for i, e in enumerate(endpoints) if e.name == old), len(kept))
    kept.insert(min(position, len(kept)), endpoint)
    return tuple(kept)


def without_endpoint(endpoints: tuple[RemoteEndpoint, ...],
                     name: str) -> tuple[RemoteEndpoint, ...]:
    return tuple(e for e in endpoints if e.name != name)
