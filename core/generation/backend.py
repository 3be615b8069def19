"""Where a reply is generated: a local llama.cpp model or a remote endpoint.

Drafting takes a ``TextModel``, either one, and asks ``stream_reply`` for the reply; both
yield ``Token`` events then one ``Finished``. Both have ``name``, ``n_ctx`` and
``count_tokens`` (exact locally, an estimate for an endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from core.generation.model import GenerationSettings, Message, PromptMode, StreamEvent
from core.generation.runtime import LoadedModel
from core.generation.stream import stream_generate
from core.serving.client import RemoteModel

TextModel = LoadedModel | RemoteModel


def stream_reply(model: TextModel, messages: Sequence[Message],
                 settings: GenerationSettings | None = None, *,
                 cancelled: Callable[[], bool] = lambda: False,
                 mode: PromptMode = "auto") -> Iterator[StreamEvent]:
    """The reply to ``messages`` from ``model``, streamed."""
    if isinstance(model, RemoteModel):
        return model.stream(messages, settings, cancelled=cancelled, mode=mode)
    return stream_generate(model, messages, settings, cancelled=cancelled, mode=mode)
