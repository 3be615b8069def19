"""How the server formats chats, so that a remote draft gets the prompt a local one gets.

The local path (``core.generation.stream``) renders a model's embedded chat template, or,
for a base model without one, the plain prompt of ``core.generation.plain``.
The server is started through ``core.serving.launch``, which renders the embedded template,
or for a model without one the plain prompt's own template (``plain_template``), in the
same sandbox with the same limits, and tokenises with the template's own BOS or else the
model's, as the local path does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.fsutil import atomic_write_json, atomic_write_text
from core.generation.plain import plain_template

CHAT_CONFIG_NAME = "chat-format.json"
# Heads the served template of a model Scriptorium instruction-tuned: such a model knows
# the prompts of its SFT rows (one user turn, no system message), and a client that reads
# the template (llama-server's /props) drafts for it as local drafting does. A Jinja
# comment: it renders as nothing.
USER_TURN_MARK = "{#- scriptorium: one user turn, no system message -#}"
TEMPLATE_NAME = "chat-template.jinja"


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


def served_chat_config(chat: GgufChat, user_turn: bool = False) -> dict[str, str]:
    """The template the server formats chats with, as the local path does: the model's, or
    the plain prompt's, headed by ``USER_TURN_MARK`` for a model tuned here; refused
    (``ServingError``) when the sandbox cannot render it: it loops, fails or writes too
    much."""
    from core.endpoints import ServingError
    from core.generation.template import TemplateError
    from core.serving.launch import check_template

    template = chat.chat_template or plain_template(chat.add_bos)
    config = {"chat_template": USER_TURN_MARK + template if user_turn else template,
              "bos_token": chat.bos_token, "eos_token": chat.eos_token}
    try:
        check_template(config)
    except TemplateError as error:
        raise ServingError(f"The model's chat template cannot be served: {error}",
                           hint="the same template fails in local drafting; use a model "
                                "whose template works, or one without a template") from error
    return config


def server_chat_args(chat: GgufChat, folder: Path, user_turn: bool = False) -> list[str]:
    """The launcher options that make llama-cpp-python's server format chats as the local
    path does (``core.serving.launch`` renders the template in the sandbox)."""
    path = folder / CHAT_CONFIG_NAME
    atomic_write_json(path, served_chat_config(chat, user_turn))
    return ["--sandboxed_chat", str(path)]


def write_chat_template(chat: GgufChat, folder: Path, user_turn: bool = False) -> Path:
    """The Jinja file llama-server formats chats with (``--chat-template-file``): the same
    template, checked in the sandbox first. llama.cpp's own Jinja engine renders it (C++,
    no Python), with the model's BOS and EOS; it drops a BOS the template writes when the
    model adds one itself, as the local path tokenises."""
    path = folder / TEMPLATE_NAME
    atomic_write_text(path, served_chat_config(chat, user_turn)["chat_template"])
    return path
