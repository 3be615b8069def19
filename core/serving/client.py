"""Generation through a remote endpoint, in the shape of the local streaming path.

``RemoteModel`` stands where a ``LoadedModel`` does for drafting: it has a ``name``, an
``n_ctx`` and ``count_tokens``, and ``stream`` yields ``Token`` events then one
``Finished``, as ``core.generation.stream.stream_generate`` does. Retrieval and the prompt
stay local; only generation goes to the server. The server does not share its tokenizer,
so token counts (for fitting sources and history) are estimates that err on the long side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.endpoints import RemoteEndpoint, ServingError
from core.generation.context import answer_budget, trim_history
from core.generation.model import (
    Finished,
    GenerationSettings,
    GenerationStats,
    Message,
    PromptMode,
    StreamEvent,
    Token,
)
from core.generation.plain import plain_prompt
from core.generation.stream import TRANSCRIPT_STOPS
from core.serving.chat_format import USER_TURN_MARK
from core.serving.sse import sse_json
from core.serving.transport import get_json, open_stream

CHARS_PER_TOKEN = 3.0  # Gemma's tokenizer averages about 4 characters a token in English
MESSAGE_OVERHEAD = 8  # the chat template's tokens around each message


@dataclass(frozen=True)
class RemoteModel:
    """A model behind an OpenAI-compatible endpoint (see module docstring)."""

    endpoint: RemoteEndpoint
    _known: dict[str, bool] = field(default_factory=dict, compare=False, hash=False,
                                    repr=False)

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def n_ctx(self) -> int:
        return self.endpoint.n_ctx

    def count_tokens(self, text: str) -> int:
        """An estimate of the tokens in ``text`` (rounded up)."""
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def models(self) -> list[str]:
        """The model names the server offers (``GET /v1/models``)."""
        reply = get_json(self.endpoint, "/models")
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            raise ServingError(f"The server at {self.endpoint.url} did not list its models: "
                               "is it an OpenAI-compatible endpoint?")
        return [str(item.get("id")) for item in data if isinstance(item, dict)]

    def check(self) -> str:
        """A one-line report that the endpoint answers and accepts the token."""
        names = self.models()
        served = ", ".join(names) if names else "no model"
        return f"Connected to {self.endpoint.url}: serving {served}."

    def tuned_here(self) -> bool:
        """Whether the server says its model was instruction-tuned by Scriptorium (its
        template carries ``USER_TURN_MARK``; llama-server shows it at ``/props``), so
        drafts prompt it in one user turn as local drafting does. Asked once; a server
        that does not say (another server, llama-cpp-python's) counts as no."""
        if "tuned_here" not in self._known:
            try:
                props = get_json(self.endpoint, "/props", at_root=True)
            except ServingError:
                props = None
            template = props.get("chat_template") if isinstance(props, dict) else None
            self._known["tuned_here"] = isinstance(template, str) and USER_TURN_MARK in template
        return self._known["tuned_here"]

    def mode(self, requested: PromptMode = "auto") -> str:
        if requested != "auto":
            return requested
        return "completion" if self.endpoint.prompt_format == "completion" else "chat"

    def _prompt_tokens(self, messages: Sequence[Message], mode: str) -> int:
        if mode == "completion":
            return self.count_tokens(plain_prompt(messages)) + 1
        return sum(self.count_tokens(m.content) + MESSAGE_OVERHEAD for m in messages)

    def stream(self, messages: Sequence[Message], settings: GenerationSettings | None = None,
               *, cancelled: Callable[[], bool] = lambda: False,
               mode: PromptMode = "auto") -> Iterator[StreamEvent]:
        """Generate a reply to ``messages``, streaming ``Token`` events then a ``Finished``."""
        settings = settings or GenerationSettings()
        started = time.perf_counter()
        chosen = self.mode(mode)
        reserve = answer_budget(self.n_ctx, settings.max_tokens)
        kept, dropped = trim_history(messages, lambda ms: self._prompt_tokens(ms, chosen),
                                     self.n_ctx - reserve)
        path, body = request_body(kept, settings, chosen)
        pieces: list[str] = []
        first: float | None = None
        finish = "cancelled"
        if not cancelled():
            with open_stream(self.endpoint, path, body, cancelled=cancelled) as lines:
                finish = "length"
                for chunk in sse_json(lines, self.endpoint.url):
                    text, reason = chunk_text(chunk)
                    if text:
                        if first is None:
                            first = time.perf_counter()
                        pieces.append(text)
                        yield Token(text)
                    if reason:
                        finish = reason
                    if cancelled():
                        break
            if cancelled():
                finish = "cancelled"
        end = time.perf_counter()
        stats = GenerationStats(
            prompt_tokens=self._prompt_tokens(kept, chosen), completion_tokens=len(pieces),
            time_to_first_token_s=None if first is None else round(first - started, 4),
            decode_s=0.0 if first is None else end - first, total_s=end - started,
            finish=finish, trimmed_turns=dropped)
        yield Finished("".join(pieces), stats,
                       {"endpoint": self.endpoint.url, "prompt_tokens_estimated": True})


def request_body(messages: Sequence[Message], settings: GenerationSettings,
                 mode: str) -> tuple[str, dict[str, Any]]:
    """The API path and JSON body of a streamed request, sampling as the local path does."""
    transcript = [m.role for m in messages] not in (["user"], ["system", "user"])
    # A base model's multi-turn prompt is a transcript (locally and in the chat format
    # ``scriptorium serve`` gives such a model): stop where it would write the next turn.
    stops = list(settings.stop) + (list(TRANSCRIPT_STOPS) if transcript else [])
    body: dict[str, Any] = {
        "stream": True, "max_tokens": settings.max_tokens, "temperature": settings.temperature,
        "top_p": settings.top_p, "top_k": settings.top_k, "min_p": 0.0,
        "repeat_penalty": settings.repeat_penalty, "stop": stops}
    if settings.seed is not None:
        body["seed"] = settings.seed
    if mode == "completion":
        return "/completions", {**body, "prompt": plain_prompt(messages)}
    return "/chat/completions", {**body, "messages": [m.model_dump() for m in messages]}


def chunk_text(chunk: dict[str, Any]) -> tuple[str, str | None]:
    """The text and finish reason of one streamed chunk (chat or completion)."""
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return "", None
    choice = choices[0]
    delta = choice.get("delta")
    text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
    return str(text or ""), choice.get("finish_reason") or None
