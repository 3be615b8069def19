"""The plain prompt a base (non-chat) model gets, written once, as a Jinja chat template.

A model without a chat template is given its request as text: the request alone; the
instructions, a blank line, the task and "Response:"; or, with history, a transcript of
"User:" and "Assistant:" lines. ``plain_prompt`` renders it here; ``scriptorium serve``
hands the same template to the server (``plain_template``), so a remote draft gets the
prompt a local one gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from jinja2 import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.generation.model import Message

# the server appends an empty assistant message as the generation cue: not part of the text
_DROP_EMPTY_REPLY = (
    "{%- set msgs = messages -%}"
    "{%- if msgs and msgs[-1]['role'] == 'assistant' and not msgs[-1]['content'] -%}"
    "{%- set msgs = msgs[:-1] -%}{%- endif -%}")
_PLAIN_BODY = (
    "{%- if msgs|length == 1 and msgs[0]['role'] == 'user' -%}{{ msgs[0]['content'] }}"
    "{%- elif msgs|length == 2 and msgs[0]['role'] == 'system'"
    " and msgs[1]['role'] == 'user' -%}"
    "{{ msgs[0]['content']|trim }}{{ '\\n\\n' }}{{ msgs[1]['content']|trim }}"
    "{{ '\\n\\nResponse:\\n' }}"
    "{%- else -%}{%- for m in msgs -%}{%- if not loop.first -%}{{ '\\n' }}{%- endif -%}"
    "{%- if m['role'] == 'system' -%}{{ m['content']|trim }}{{ '\\n' }}"
    "{%- else -%}{{ 'User' if m['role'] == 'user' else 'Assistant' }}{{ ': ' }}"
    "{{ m['content']|trim }}{%- endif -%}{%- endfor -%}{{ '\\nAssistant:' }}{%- endif -%}")


def plain_template(add_bos: bool) -> str:
    """The plain prompt as a chat template, with the BOS token first when the model adds
    one (as local tokenisation does)."""
    return _DROP_EMPTY_REPLY + ("{{ bos_token }}" if add_bos else "") + _PLAIN_BODY


@lru_cache(maxsize=1)
def _template() -> Template:
    # the settings llama-cpp-python's server renders chat templates with
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(plain_template(add_bos=False))


def plain_prompt(messages: Sequence[Message]) -> str:
    """The prompt for a base model (no BOS: tokenisation adds it)."""
    return _template().render(messages=[m.model_dump() for m in messages])
