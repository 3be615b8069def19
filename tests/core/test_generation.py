"""Generation runtime: streaming, stopping, context fitting and sandboxed chat templates."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ModelError
from core.generation.context import (
    ContextTooSmall,
    answer_budget,
    budget_passages,
    trim_history,
)
from core.generation.model import Finished, GenerationSettings, Message, Token
from core.generation.plain import plain_prompt
from core.generation.runtime import LoadedModel, ModelCache, default_model_id, resolve_gguf
from core.generation.stream import CancelFlag, generate_text, stream_generate
from core.generation.template import TemplateError, TemplateRenderer
from core.workspace import Workspace

GEMMA_TEMPLATE = (Path(__file__).resolve().parents[2] / "resources" / "templates"
                  / "gemma-turns.jinja").read_text()
GREEDY = GenerationSettings(temperature=0.0, max_tokens=6, seed=1)


@pytest.fixture(scope="module")
def cache() -> Iterator[ModelCache]:
    cache = ModelCache(n_ctx=512, threads=2, gpu=False, template_timeout_s=1.0)
    yield cache
    cache.close()


@pytest.fixture(scope="module")
def model(cache: ModelCache) -> LoadedModel:
    from core.models.bundled import assemble_gguf

    return cache.get(None, assemble_gguf())


def _words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


# -- templates (no model needed) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Iterator[TemplateRenderer]:
    renderer = TemplateRenderer(timeout_s=1.0, max_chars=10_000)
    yield renderer
    renderer.close()


def test_renders_a_chat_template(renderer: TemplateRenderer) -> None:
    text = renderer.render_chat(GEMMA_TEMPLATE, [{"role": "user", "content": "Hi"}],
                                bos_token="<bos>")
    assert text == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__init__.__globals__ }}",
    "{% set x = messages.append(1) %}{{ x }}",
])
def test_hostile_template_is_refused(renderer: TemplateRenderer, template: str) -> None:
    with pytest.raises(TemplateError, match="unsafe operation"):
        renderer.render_chat(template, [{"role": "user", "content": "Hi"}])
    assert renderer.render("still {{ 'fine' }}", {}) == "still fine"


def test_endless_template_times_out(renderer: TemplateRenderer) -> None:
    endless = ("{% for a in range(100000) %}{% for b in range(100000) %}{% for c in "
               "range(100000) %}{% endfor %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    with pytest.raises(TemplateError, match="did not finish within 0.5 s"):
        renderer.render(endless, {}, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert renderer.render("{{ 1 + 1 }}", {}) == "2"  # a fresh sandbox took over


def test_oversized_output_is_refused(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateError, match="too much text"):
        renderer.render("{% for i in range(5000) %}xxxxxxxxxx{% endfor %}", {})


def test_template_errors_are_clear(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateError, match="Only user and assistant"):
        renderer.render("{{ raise_exception('Only user and assistant roles') }}", {})
    with pytest.raises(TemplateError, match="line 1"):
        renderer.render("{% if %}", {})


# -- context fitting (no model needed) --------------------------------------------------------
def _count(messages: list[Message]) -> int:
    return sum(len(m.content.split()) + 2 for m in messages)


def test_trim_history_drops_oldest_turns_first() -> None:
    messages = [Message(role="system", content="be brief")]
    for i in range(5):
        messages += [Message(role="user", content=f"question {i} " + _words(20)),
                     Message(role="assistant", content=f"answer {i} " + _words(20))]
    messages.append(Message(role="user", content="last question"))
    kept, dropped = trim_history(messages, _count, 60)
    assert kept[0].role == "system" and kept[-1].content == "last question"
    assert dropped == 8 and _count(kept) <= 60
    assert kept[1].content.startswith("question 4")  # a whole turn survives, newest first


def test_trim_history_refuses_when_even_the_request_does_not_fit() -> None:
    with pytest.raises(ContextTooSmall):
        trim_history([Message(role="user", content=_words(100))], _count, 50)


def test_passages_get_a_budget_and_the_last_is_cut() -> None:
    def count(text: str) -> int:
        return len(text.split())

    kept = budget_passages([_words(50), _words(50), _words(50)], count, 140)
    assert len(kept) == 3 and kept[:2] == [_words(50), _words(50)]
    assert kept[2].endswith("…") and 10 <= count(kept[2]) <= 40
    assert budget_passages([_words(50), _words(50)], count, 70) == [_words(50)]  # 20 < 32
    assert answer_budget(2048, 512) == 512 and answer_budget(512, 4096) == 256


def test_plain_prompt_for_base_models() -> None:
    assert plain_prompt([Message(role="user", content="The contractor shall")]) == \
        "The contractor shall"
    assert plain_prompt([Message(role="system", content="Rules."),
                         Message(role="user", content="Draft")]) == "Rules.\n\nDraft\n\nResponse:\n"
    text = plain_prompt([Message(role="system", content="Rules."),
                         Message(role="user", content="Hi"),
                         Message(role="assistant", content="Hello"),
                         Message(role="user", content="Draft")])
    assert text == "Rules.\n\nUser: Hi\nAssistant: Hello\nUser: Draft\nAssistant:"


# -- the real bundled model ---------------------------------------------------------------------
def test_model_resolution(base_workspace: Workspace) -> None:
    assert default_model_id(base_workspace) == "gemma3-270m-q4km"
    path, name = resolve_gguf(base_workspace, "gemma3-270m-q4km")
    assert path.suffix == ".gguf" and name == "gemma3-270m-q4km"
    with pytest.raises(ModelError, match="GGUF"):
        resolve_gguf(base_workspace, "gemma3-270m")
    with pytest.raises(ModelError, match="No GGUF file"):
        resolve_gguf(None, "/nowhere/model.gguf")


def test_cache_loads_once(cache: ModelCache, model: LoadedModel) -> None:
    from core.models.bundled import assemble_gguf

    assert cache.get(None, assemble_gguf()) is model
    assert model.mode() == "completion"  # the bundled base model has no chat template
    with pytest.raises(ModelError, match="no chat template"):
        model.mode("chat")


def test_streams_tokens_with_stats(model: LoadedModel) -> None:
    events = list(stream_generate(model, [Message(role="user", content="The contractor shall")],
                                  GREEDY))
    tokens = [e for e in events if isinstance(e, Token)]
    final = events[-1]
    assert isinstance(final, Finished) and tokens
    assert final.text == "".join(t.text for t in tokens)
    assert final.stats.completion_tokens == len(tokens) <= 6
    assert final.stats.finish in ("length", "stop")
    assert final.stats.time_to_first_token_s is not None and final.stats.tokens_per_s > 0
    # the same prompt again reuses the cached prefix and gives the same greedy text
    again = generate_text(model, [Message(role="user", content="The contractor shall")], GREEDY)
    assert again.text == final.text


def test_prefill_rate_is_measured_and_calibration_leaves_no_trace(model: LoadedModel) -> None:
    assert model.prefill_rate is not None and model.prefill_rate > 10  # measured at load
    prompt = [Message(role="user", content="The contractor shall " * 40)]
    before = generate_text(model, prompt, GREEDY)
    model.calibrate()
    after = generate_text(model, prompt, GREEDY)
    assert after.text == before.text and after.stats.prompt_tokens == before.stats.prompt_tokens
    assert model.prefill_rate > 10


def test_chat_mode_uses_the_template(model: LoadedModel) -> None:
    chat = dataclasses.replace(model, chat_template=GEMMA_TEMPLATE)
    final = generate_text(chat, [Message(role="system", content="Answer briefly."),
                                 Message(role="user", content="Name a colour.")], GREEDY)
    assert final.stats.prompt_tokens > 10 and final.stats.completion_tokens >= 1


def test_stop_takes_effect_within_a_fraction_of_a_second(model: LoadedModel) -> None:
    flag = CancelFlag()
    seen = threading.Event()
    result: dict[str, object] = {}

    def consume() -> None:
        for event in stream_generate(model, [Message(role="user", content="Once upon a time")],
                                     GenerationSettings(max_tokens=400), cancelled=flag):
            if isinstance(event, Token):
                seen.set()
            else:
                result["final"] = event
                result["at"] = time.monotonic()

    worker = threading.Thread(target=consume)
    worker.start()
    assert seen.wait(60)
    asked = time.monotonic()
    flag.set()
    worker.join(10)
    assert not worker.is_alive()
    final = result["final"]
    assert isinstance(final, Finished) and final.stats.finish == "cancelled"
    assert final.stats.completion_tokens < 400
    assert float(result["at"]) - asked < 1.0  # type: ignore[arg-type]


def test_stop_during_prompt_evaluation(model: LoadedModel) -> None:
    flag = CancelFlag()
    flag.set()
    started = time.monotonic()
    final = generate_text(model, [Message(role="user", content=_words(150))], GREEDY,
                          cancelled=flag)
    assert final.stats.finish == "cancelled" and final.stats.completion_tokens == 0
    assert time.monotonic() - started < 1.0


def test_long_history_is_trimmed_to_fit(model: LoadedModel) -> None:
    messages = []
    for i in range(8):
        messages += [Message(role="user", content=f"Question {i}: " + _words(40)),
                     Message(role="assistant", content=f"Answer {i}: " + _words(40))]
    messages.append(Message(role="user", content="Summarise."))
    settings = GenerationSettings(temperature=0.0, max_tokens=256)  # leaves 256 for the prompt
    events: list[object] = []
    stream = stream_generate(model, messages, settings,
                             cancelled=lambda: any(isinstance(e, Token) for e in events))
    events.extend(stream)  # stops after the first token
    final = events[-1]
    assert isinstance(final, Finished) and final.stats.trimmed_turns > 0
    assert final.stats.trimmed_turns % 2 == 0  # whole turns
    assert final.stats.prompt_tokens <= 512 - 256
