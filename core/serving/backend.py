"""Where a reply is generated: a local llama.cpp model or a remote endpoint.

Drafting takes a ``TextModel``, either one, and asks ``stream_reply`` for the reply; both
yield ``Token`` events then one ``Finished``. Both have ``name``, ``n_ctx`` and
``count_tokens`` (exact locally, an estimate for an endpoint). ``open_text_model`` is the
one place that turns what a user named (nothing, a model id, a ``.gguf`` path,
``endpoint:NAME`` or a server URL) into one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from core.endpoints import TOKEN_ENV, RemoteEndpoint
from core.generation.model import GenerationSettings, Message, PromptMode, StreamEvent
from core.generation.runtime import LoadedModel, ModelCache, default_model_id
from core.generation.stream import stream_generate
from core.serving.client import RemoteModel
from core.workspace import Workspace

TextModel = LoadedModel | RemoteModel


def open_text_model(workspace: Workspace | None, model: str | None, cache: ModelCache, *,
                    token: str | None = None, endpoints: Sequence[RemoteEndpoint] | None = None,
                    n_ctx: int | None = None) -> TextModel:
    """The model to generate with: ``model`` names a local model (registry id or ``.gguf``
    path; default: the deployed release or newest GGUF), a configured endpoint
    (``endpoint:NAME``) or a server URL; local ones are loaded in ``cache``.

    ``endpoints`` defaults to the user settings' endpoints; ``token`` (else
    ``$SCRIPTORIUM_ENDPOINT_TOKEN``) is the server's token for a URL or overrides the
    configured endpoint's."""
    from core.endpoints import REMOTE_PREFIX, find_endpoint

    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if model and "://" in model:
        host = model.split("://", 1)[1].split("/", 1)[0]
        return RemoteModel(RemoteEndpoint(name=host, url=model, token=token or "",
                                          n_ctx=n_ctx or cache.n_ctx))
    if model and model.startswith(REMOTE_PREFIX):
        if endpoints is None:
            from core.settings import load_settings

            endpoints = load_settings().remote_endpoints
        endpoint = find_endpoint(tuple(endpoints), model)
        if token is not None:
            endpoint = endpoint.model_copy(update={"token": token})
        return RemoteModel(endpoint)
    if workspace is None and not model:
        from core.errors import ModelError

        raise ModelError("No model named and no workspace open to choose one from.")
    chosen = model or default_model_id(workspace)  # type: ignore[arg-type]
    return cache.get(workspace, chosen, n_ctx=n_ctx)


def stream_reply(model: TextModel, messages: Sequence[Message],
                 settings: GenerationSettings | None = None, *,
                 cancelled: Callable[[], bool] = lambda: False,
                 mode: PromptMode = "auto") -> Iterator[StreamEvent]:
    """The reply to ``messages`` from ``model``, streamed."""
    if isinstance(model, RemoteModel):
        return model.stream(messages, settings, cancelled=cancelled, mode=mode)
    return stream_generate(model, messages, settings, cancelled=cancelled, mode=mode)
