"""Loading GGUF models in llama.cpp, once: ``ModelCache`` keeps the loaded ones.

A model is named by a registry id (a record of kind ``gguf`` whose folder holds one
``.gguf`` file) or by a path to a ``.gguf`` file. Layers go to the GPU when this
llama-cpp-python build can offload (``n_gpu_layers=-1``), else everything stays on the CPU;
CPU threads come from the user settings. The cache is an object that its owner (the CLI
verb, the pane, the server) holds and closes: no module keeps a model loaded.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.generation.model import PromptMode
from core.generation.template import TemplateRenderer
from core.models.resolve import ModelKind, model_kind, resolve_gguf
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

DEFAULT_N_CTX = 2048
FALLBACK_MODEL = "gemma3-270m-q4km"
CALIBRATION_TOKENS = 128
MIN_RATE_TOKENS = 96


def gpu_offload_available() -> bool:
    """Whether this llama-cpp-python build can put layers on a GPU."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, AttributeError, OSError):
        return False


def default_threads() -> int:
    """CPU threads from the user settings (0 there means all cores)."""
    from core.settings import load_settings

    return load_settings().threads or (os.cpu_count() or 1)


def gguf_models(workspace: Workspace) -> list[ModelRecord]:
    """The workspace's GGUF models, newest first."""
    records = [r for r in ModelRegistry(workspace).list() if r.kind == "gguf"]
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def default_model_id(workspace: Workspace) -> str:
    """The deployed release, else the newest registered GGUF, else the bundled one."""
    from core.workspace.releases import deployed_model_id

    deployed = deployed_model_id(workspace)
    if deployed is not None:
        return deployed
    records = gguf_models(workspace)
    return records[0].id if records else FALLBACK_MODEL


@dataclass
class LoadedModel:
    """A llama.cpp model ready for requests; one request at a time (``lock``)."""

    name: str
    path: Path
    llama: Any
    n_ctx: int
    chat_template: str | None
    bos_token: str
    eos_token: str
    renderer: TemplateRenderer
    lock: threading.Lock
    kind: ModelKind = "base"  # core.models.resolve: "instruct" follows instructions
    kind_reason: str = ""
    prefill_rate: float | None = None  # prompt tokens read per second, as measured here

    def note_prefill(self, tokens: int, seconds: float) -> None:
        """Fold one measured prompt evaluation into ``prefill_rate`` (short ones say
        little: the fixed cost per call dominates them)."""
        if tokens < MIN_RATE_TOKENS or seconds <= 0:
            return
        rate = tokens / seconds
        self.prefill_rate = rate if self.prefill_rate is None else (self.prefill_rate + rate) / 2

    def calibrate(self) -> None:
        """Measure ``prefill_rate`` on a short neutral text (a fraction of a second)."""
        text = "The contractor shall deliver monthly status reports to the program office. "
        tokens = self.tokenize(text * 12, add_bos=True)[:min(CALIBRATION_TOKENS, self.n_ctx // 2)]
        with self.lock:
            self.llama.reset()
            started = time.perf_counter()
            self.llama.eval(tokens)
            self.note_prefill(len(tokens), time.perf_counter() - started)
            self.llama.reset()

    def mode(self, requested: PromptMode = "auto") -> str:
        """"chat" when asked or when the model has a chat template, else "completion"."""
        if requested == "chat" and not self.chat_template:
            raise ModelError(f"{self.name} has no chat template; use completion mode.")
        if requested != "auto":
            return requested
        return "chat" if self.chat_template else "completion"

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def token_text(llama: Any, token: int) -> str:
    """A special token's text, e.g. "<bos>" ("" for none)."""
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", "ignore")


class ModelCache:
    """Loaded models by (file, context, GPU layers, threads); least recently used evicted."""

    def __init__(self, *, n_ctx: int = DEFAULT_N_CTX, threads: int | None = None,
                 gpu: bool | None = None, capacity: int = 2,
                 template_timeout_s: float = 2.0) -> None:
        self.n_ctx = n_ctx
        self.threads = threads
        self.gpu = gpu
        self.capacity = max(1, capacity)
        self.renderer = TemplateRenderer(timeout_s=template_timeout_s)
        self._models: OrderedDict[tuple[Any, ...], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, workspace: Workspace | None, model: str | Path, *,
            n_ctx: int | None = None) -> LoadedModel:
        """The loaded model, loading it on first use."""
        path, name = resolve_gguf(workspace, model)
        n_ctx = n_ctx or self.n_ctx
        gpu = gpu_offload_available() if self.gpu is None else self.gpu
        threads = self.threads or default_threads()
        key = (str(path), path.stat().st_mtime_ns, n_ctx, gpu, threads)
        with self._lock:
            loaded = self._models.get(key)
            if loaded is not None:
                self._models.move_to_end(key)
                return loaded
            loaded = self._load(path, name, n_ctx, gpu, threads)
            loaded.kind, loaded.kind_reason = model_kind(workspace, model,
                                                         loaded.chat_template)
            loaded.calibrate()
            self._models[key] = loaded
            while len(self._models) > self.capacity:
                _, old = self._models.popitem(last=False)
                with old.lock:
                    old.llama.close()
            return loaded

    def _load(self, path: Path, name: str, n_ctx: int, gpu: bool, threads: int) -> LoadedModel:
        try:
            import llama_cpp
        except ImportError as error:
            raise ModelError("llama-cpp-python is not installed; drafting needs it.") from error
        try:
            llama = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_gpu_layers=-1 if gpu else 0,
                n_threads=threads, n_threads_batch=threads, n_batch=256, verbose=False)
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {path.name}: {error}") from error
        template = llama.metadata.get("tokenizer.chat_template") or None
        return LoadedModel(
            name=name, path=path, llama=llama, n_ctx=n_ctx, chat_template=template,
            bos_token=token_text(llama, llama.token_bos()),
            eos_token=token_text(llama, llama.token_eos()),
            renderer=self.renderer, lock=threading.Lock())

    def loaded(self) -> list[str]:
        return [m.name for m in self._models.values()]

    def close(self) -> None:
        """Free every loaded model and stop the template sandbox."""
        with self._lock:
            for loaded in self._models.values():
                with loaded.lock:
                    loaded.llama.close()
            self._models.clear()
        self.renderer.close()
