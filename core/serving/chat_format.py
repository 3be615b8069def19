"""How the server formats chats, so that a remote draft gets the prompt a local one gets.

The local path (``core.generation.stream``) renders a model's embedded chat template, or,
for a base model without one, the plain prompt of ``core.generation.plain``.
llama-cpp-python's server renders the embedded template the same way (a sandboxed Jinja
environment with the same ``trim_blocks``/``lstrip_blocks`` settings, the template's own
BOS and no second one), so ``scriptorium serve`` names that template. A model without a
template would get the server's "llama-2" fallback, which is not what the model sees
locally; for it the server is given the plain prompt's own template (``plain_template``)
as a tokenizer config (``--chat_format hf-tokenizer-config``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.fsutil import atomic_write_json
from core.generation.plain import plain_template

PLAIN_CONFIG_NAME = "plain-chat-format.json"


@dataclass(frozen=True)
class GgufChat:
    """What a GGUF says about formatting chats."""

    chat_template: str | None
    bos_token: str
    eos_token: str
    add_bos: bool


def read_gguf_chat(path: Path) -> GgufChat:
    """The chat template and special tokens of a GGUF (its vocabulary only is loaded)."""
    try:
        import llama_cpp
    except ImportError as error:
        raise ModelError("llama-cpp-python is not installed; serving needs it.") from error
    # private, but the only way to silence llama.cpp's C-level warning on a vocabulary-only
    # load (verbose=False does not); llama-cpp-python is pinned (==0.3.36)
    from llama_cpp._utils import suppress_stdout_stderr

    from core.generation.runtime import token_text

    try:
        with suppress_stdout_stderr(disable=False):  # llama.cpp warns about the empty context
            llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError, OSError) as error:
        raise ModelError(f"llama.cpp could not read {path.name}: {error}") from error
    try:
        metadata = llama.metadata
        return GgufChat(
            chat_template=metadata.get("tokenizer.chat_template") or None,
            bos_token=token_text(llama, llama.token_bos()),
            eos_token=token_text(llama, llama.token_eos()),
            add_bos=metadata.get("tokenizer.ggml.add_bos_token", "true") != "false")
    finally:
        llama.close()


def server_chat_args(chat: GgufChat, folder: Path) -> list[str]:
    """The llama_cpp.server options that make it format chats as the local path does."""
    if chat.chat_template:
        return ["--chat_format", "chat_template.default"]
    config = folder / PLAIN_CONFIG_NAME
    atomic_write_json(config, {"chat_template": plain_template(chat.add_bos),
                               "bos_token": chat.bos_token, "eos_token": chat.eos_token})
    return ["--chat_format", "hf-tokenizer-config", "--hf_tokenizer_config_path", str(config)]
