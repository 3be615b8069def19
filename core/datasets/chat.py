"""Rendering instruction/response pairs with the base model's chat template."""

from __future__ import annotations

from typing import Any


def render_prompt(tokenizer: Any, instruction: str | list[dict[str, str]]) -> str:
    """The user turn(s) plus the opening of the assistant's turn, as text."""
    messages = ([{"role": "user", "content": instruction}] if isinstance(instruction, str)
                else list(instruction))
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def render_pair(tokenizer: Any, instruction: str | list[dict[str, str]],
                response: str) -> tuple[str, str]:
    """``(prompt, completion)``: prompt + completion is the whole rendered conversation,
    and the completion is only the assistant's reply and its end-of-turn marker, so
    training can put the loss on the response alone."""
    messages = ([{"role": "user", "content": instruction}] if isinstance(instruction, str)
                else list(instruction))
    prompt = render_prompt(tokenizer, messages)
    full = str(tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": response}], tokenize=False))
    if full.startswith(prompt) and len(full) > len(prompt):
        return prompt, full[len(prompt):]
    # A template that renders the reply turn differently from the generation prompt.
    return prompt, response.strip() + (tokenizer.eos_token or "")


def count_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
