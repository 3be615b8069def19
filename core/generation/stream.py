"""Streaming generation with a cancel flag, time to first token and tokens/s.

``stream_generate`` is a generator of ``Token`` events ending with one ``Finished``. The
prompt is evaluated in small batches and the flag is checked between batches and between
tokens, so a stop takes effect within a few tens of milliseconds. Evaluation reuses the
cached prefix of the previous request on the same model (the earlier turns of a chat).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from core.errors import ModelError
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
from core.generation.runtime import LoadedModel

PREFILL_BATCH = 64
TRANSCRIPT_STOPS = ("\nUser:", "\nUSER:")
Cancelled = Callable[[], bool]


class CancelFlag:
    """A thread-safe stop request."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def format_prompt(model: LoadedModel, messages: Sequence[Message], mode: str) -> str:
    if mode == "chat":
        assert model.chat_template is not None
        return model.renderer.render_chat(
            model.chat_template, [m.model_dump() for m in messages],
            bos_token=model.bos_token, eos_token=model.eos_token)
    return plain_prompt(messages)


def prompt_tokens(model: LoadedModel, text: str) -> list[int]:
    add_bos = not (model.bos_token and text.startswith(model.bos_token))
    return model.tokenize(text, add_bos=add_bos)


def _prefill(model: LoadedModel, tokens: list[int], cancelled: Cancelled) -> bool:
    """Evaluate the prompt but its last token, reusing the cached prefix; False if stopped."""
    llama = model.llama
    prefix = 0
    for a, b in zip(llama.eval_tokens, tokens[:-1]):
        if a != b:
            break
        prefix += 1
    # llama-cpp-python has no public call to drop part of the KV cache; its own
    # Llama.generate makes this one (pinned ==0.3.36; test_generation's repeated-prompt test
    # fails if it stops working)
    if prefix < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(-1, prefix, -1):
        prefix = 0
    llama.n_tokens = prefix
    started = time.perf_counter()
    for start in range(prefix, len(tokens) - 1, PREFILL_BATCH):
        if cancelled():
            return False
        llama.eval(tokens[start:min(start + PREFILL_BATCH, len(tokens) - 1)])
    model.note_prefill(len(tokens) - 1 - prefix, time.perf_counter() - started)
    return not cancelled()


def _stop_when(cancelled: Cancelled) -> object:
    """A llama.cpp stopping criterion checked after every sampled token, also those held
    back from the stream while they might start a stop string."""
    import llama_cpp

    return llama_cpp.StoppingCriteriaList([lambda _ids, _logits: cancelled()])


def stream_generate(
    model: LoadedModel, messages: Sequence[Message], settings: GenerationSettings | None = None,
    *, cancelled: Cancelled = lambda: False, mode: PromptMode = "auto",
) -> Iterator[StreamEvent]:
    """Generate a reply to ``messages``, streaming ``Token`` events then one ``Finished``."""
    settings = settings or GenerationSettings()
    started = time.perf_counter()
    chosen = model.mode(mode)
    reserve = answer_budget(model.n_ctx, settings.max_tokens)
    kept, dropped = trim_history(
        messages, lambda ms: len(prompt_tokens(model, format_prompt(model, ms, chosen))),
        model.n_ctx - reserve)
    tokens = prompt_tokens(model, format_prompt(model, kept, chosen))
    max_tokens = min(settings.max_tokens, model.n_ctx - len(tokens))
    transcript = chosen == "completion" and [m.role for m in kept] not in (
        ["user"], ["system", "user"])
    stops = list(settings.stop) + (list(TRANSCRIPT_STOPS) if transcript else [])
    pieces: list[str] = []
    first: float | None = None
    count = 0
    finish = "cancelled"
    while not model.lock.acquire(timeout=0.05):
        if cancelled():
            break
    else:
        try:
            if _prefill(model, tokens, cancelled):
                chunks = model.llama.create_completion(
                    tokens, max_tokens=max_tokens, temperature=settings.temperature,
                    top_p=settings.top_p, top_k=settings.top_k, min_p=0.0,
                    repeat_penalty=settings.repeat_penalty, seed=settings.seed,
                    stop=stops, stream=True, stopping_criteria=_stop_when(cancelled))
                try:
                    finish = "length"
                    for chunk in chunks:
                        choice = chunk["choices"][0]
                        text = choice.get("text") or ""
                        if text:
                            if first is None:
                                first = time.perf_counter()
                            count += 1
                            pieces.append(text)
                            yield Token(text)
                        if choice.get("finish_reason"):
                            finish = "cancelled" if cancelled() else choice["finish_reason"]
                        if cancelled():
                            finish = "cancelled"
                            break
                except (ValueError, RuntimeError) as error:  # llama.cpp's own errors
                    raise ModelError(f"{model.name} could not generate: {error}") from error
                finally:
                    chunks.close()
        finally:
            model.lock.release()
    end = time.perf_counter()
    stats = GenerationStats(
        prompt_tokens=len(tokens), completion_tokens=count,
        time_to_first_token_s=None if first is None else round(first - started, 4),
        decode_s=0.0 if first is None else end - first, total_s=end - started,
        finish=finish, trimmed_turns=dropped)
    yield Finished("".join(pieces), stats)


def generate_text(model: LoadedModel, messages: Sequence[Message],
                  settings: GenerationSettings | None = None, **kwargs: object) -> Finished:
    """The whole reply at once (no streaming)."""
    final: Finished | None = None
    for event in stream_generate(model, messages, settings, **kwargs):  # type: ignore[arg-type]
        if isinstance(event, Finished):
            final = event
    assert final is not None
    return final
