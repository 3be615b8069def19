"""The tokenizer a dataset is built with: the chosen model's own, from local files only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import resources
from core.errors import ModelError
from core.models.info import refuse_pickle_weights
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

FALLBACK_CHAT_TEMPLATE = "templates/gemma-turns.jinja"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "tokenizer.model", "chat_template.jinja", "chat_template.json")


@dataclass(frozen=True)
class TokenizerSource:
    """Where a model's tokenizer is: a folder, optionally a GGUF file inside it."""

    model: str  # what the user named (registry id or path)
    folder: Path
    gguf_file: str | None = None

    def fingerprint(self) -> str:
        """A digest of the tokenizer's files (a changed tokenizer means a new dataset)."""
        digest = hashlib.sha256()
        if self.gguf_file:
            stat = (self.folder / self.gguf_file).stat()
            digest.update(f"{self.gguf_file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        for name in TOKENIZER_FILES:
            path = self.folder / name
            if path.is_file():
                digest.update(name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()


def resolve_tokenizer_source(workspace: Workspace, model: str) -> TokenizerSource:
    """A registry id (an adapter uses its base) or a model folder → its tokenizer files."""
    registry = ModelRegistry(workspace)
    seen: set[str] = set()
    current = model
    while registry.exists(current) and current not in seen:
        seen.add(current)
        record = registry.get(current)
        folder = registry.path_of(record)
        if record.kind == "gguf":
            gguf = next(iter(sorted(folder.glob("*.gguf"))), None)
            if gguf is None:
                raise ModelError(f"Model {current!r} has no .gguf file.")
            return TokenizerSource(model, folder, gguf.name)
        has_tokenizer = any((folder / name).is_file() for name in TOKENIZER_FILES)
        if record.kind == "adapter" and not has_tokenizer and record.parents:
            current = record.parents[0]
            continue
        refuse_pickle_weights(folder)
        return TokenizerSource(model, folder)
    path = Path(model).expanduser()
    if path.is_dir():
        refuse_pickle_weights(path)
        return TokenizerSource(model, path.absolute())
    known = ", ".join(r.id for r in registry.list() if r.kind != "adapter") or "none yet"
    raise ModelError(f"No model {model!r} to take a tokenizer from (models: {known}).",
                     hint="import the base model with `scriptorium models import-base`")


def load_tokenizer(source: TokenizerSource) -> Any:
    """The fast tokenizer, offline; a chat template is added when the model has none."""
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.folder), **kwargs)
    except (OSError, ValueError) as error:
        raise ModelError(f"Could not load the tokenizer of {source.model!r}: {error}") from error
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = resources.path(FALLBACK_CHAT_TEMPLATE).read_text(encoding="utf-8")
    if tokenizer.eos_token_id is None:
        raise ModelError(f"The tokenizer of {source.model!r} has no end-of-sequence token.")
    return tokenizer


def tokenizer_info(source: TokenizerSource, tokenizer: Any) -> dict[str, Any]:
    """What ``dataset.json`` records about the tokenizer."""
    return {
        "model": source.model,
        "folder": str(source.folder),
        "gguf_file": source.gguf_file,
        "class": type(tokenizer).__name__,
        "vocab_size": len(tokenizer),
        "eos_token": tokenizer.eos_token,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token": tokenizer.bos_token,
        "fingerprint": source.fingerprint(),
    }
