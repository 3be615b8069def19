"""Finding and loading the model a run starts from, and putting a LoRA adapter on it.

The base is a registry id (a base or merged model, or a GGUF), a Hugging Face folder, or a
``.gguf`` file (dequantised by transformers on load). Only safetensors and GGUF are read.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import resources
from core.errors import ConfigError, ModelError
from core.models.info import refuse_pickle_weights
from core.training.config import TrainConfig
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

CHAT_TEMPLATE = "templates/gemma-turns.jinja"
ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class BaseSource:
    """Where the starting weights are: a folder, optionally a GGUF file inside it."""

    folder: Path
    gguf_file: str | None = None
    record: ModelRecord | None = None

    @property
    def label(self) -> str:
        return self.record.id if self.record else str(self.folder / (self.gguf_file or ""))


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" | "cuda"
    dtype: str  # "float32" | "bfloat16" | "float16"


def resolve_base(workspace: Workspace, base: str) -> BaseSource:
    """A registry id, model folder or ``.gguf`` path → where to load it from."""
    registry = ModelRegistry(workspace)
    if registry.exists(base):
        record = registry.get(base)
        folder = registry.path_of(record)
        if record.kind == "adapter":
            raise ModelError(
                f"{base!r} is an adapter, not a full model.",
                hint="pass its base model as base and the adapter as init_adapter",
            )
        if record.kind == "gguf":
            gguf = next(iter(sorted(folder.glob("*.gguf"))), None)
            if gguf is None:
                raise ModelError(f"Model {base!r} has no .gguf file.")
            return BaseSource(folder, gguf.name, record)
        refuse_pickle_weights(folder)
        return BaseSource(folder, None, record)
    path = Path(base).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return BaseSource(path.parent.absolute(), path.name)
    if path.is_dir() and (path / "config.json").exists():
        refuse_pickle_weights(path)
        return BaseSource(path.absolute())
    known = ", ".join(r.id for r in registry.list() if r.kind != "adapter") or "none yet"
    raise ModelError(
        f"No base model {base!r}: not a model id in this workspace ({known}), "
        "a model folder or a .gguf file."
    )


def resolve_adapter(workspace: Workspace, adapter_id: str) -> tuple[ModelRecord, Path]:
    registry = ModelRegistry(workspace)
    record = registry.get(adapter_id)
    if record.kind != "adapter":
        raise ModelError(f"init_adapter {adapter_id!r} is a {record.kind} model, not an adapter.")
    folder = registry.path_of(record)
    if not (folder / ADAPTER_CONFIG).exists():
        raise ModelError(f"Adapter {adapter_id!r} has no {ADAPTER_CONFIG}.")
    return record, folder


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def bitsandbytes_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def placement(config: TrainConfig) -> Placement:
    """Resolve ``auto`` device and dtype; raise a clear error for impossible asks."""
    has_cuda = cuda_available()
    if config.device == "cuda" and not has_cuda:
        raise ConfigError("device: cuda was asked for but no CUDA GPU is available.")
    wants_gpu = config.device == "cuda" or (config.device == "auto" and has_cuda)
    device = "cuda" if wants_gpu else "cpu"
    dtype = config.dtype
    if dtype == "auto":
        if device == "cuda":
            import torch

            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    if device == "cpu" and dtype == "float16":
        raise ConfigError("dtype: float16 training needs a GPU; use float32 (or auto) on CPU.")
    if config.quantize_4bit and (device != "cuda" or not bitsandbytes_available()):
        raise ConfigError(
            "quantize_4bit: 4-bit QLoRA needs a CUDA GPU and the bitsandbytes package; "
            "this machine has " + ("no CUDA GPU" if device != "cuda" else "no bitsandbytes") + ".",
            hint="set quantize_4bit=false to train a normal LoRA adapter",
        )
    return Placement(device, dtype)


def load_tokenizer(source: BaseSource) -> Any:
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(source.folder), **kwargs)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = resources.path(CHAT_TEMPLATE).read_text(encoding="utf-8")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    from core.training.fingerprint import fingerprint_cheaply

    fingerprint_cheaply(tokenizer)  # trl's dataset maps hash it: 13 s a map for 262k tokens
    return tokenizer


def load_base_model(source: BaseSource, where: Placement, quantize_4bit: bool = False) -> Any:
    """The full model in eval mode on ``where`` (safetensors only; GGUF is dequantised)."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": getattr(torch, where.dtype)}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    else:
        kwargs["use_safetensors"] = True
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=getattr(torch, where.dtype),
        )
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(source.folder), **kwargs)
    except (OSError, ValueError) as error:
        raise ModelError(f"Could not load the model {source.label}: {error}") from error
    if source.gguf_file:
        model.hf_quantizer = None  # save_pretrained refuses a model carrying the GGUF quantizer
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if not quantize_4bit:
        model.to(where.device)
    return model


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    targets = config.lora.target_modules
    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=targets if targets == "all-linear" else list(targets),
        bias="none",
        task_type="CAUSAL_LM",
    )


def attach_adapter(model: Any, config: TrainConfig, init_adapter: Path | None) -> Any:
    """A trainable PEFT model: a fresh LoRA, or the previous stage's adapter continued."""
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

    if config.quantize_4bit:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing)
    if init_adapter is not None:
        return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    return get_peft_model(model, lora_config(config))


def load_for_inference(workspace: Workspace, model_id: str, where: Placement) -> tuple[Any, Any]:
    """A registered base, merged or adapter model ready for evaluation, with its tokenizer."""
    registry = ModelRegistry(workspace)
    record = registry.get(model_id)
    if record.kind == "adapter":
        from peft import PeftModel

        base_id = record.parents[0] if record.parents else str(record.config.get("base", ""))
        source = resolve_base(workspace, base_id)
        model = load_base_model(source, where)
        folder = registry.path_of(record)
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
        tokenizer = load_tokenizer(source)
    else:
        source = resolve_base(workspace, model_id)
        model = load_base_model(source, where)
        tokenizer = load_tokenizer(source)
    model.eval()
    return model, tokenizer
