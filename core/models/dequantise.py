"""A GGUF file as a trainable Hugging Face folder: float32 safetensors with its tokenizer.

transformers de-quantises the GGUF's tensors and rebuilds the tokenizer from its metadata;
the quantizer marker it leaves on the model is dropped, since ``save_pretrained`` refuses
a model that still carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from core.errors import ModelError

Step = Literal["tokenizer", "weights", "save"]


def dequantise_gguf(gguf: Path, out: Path, *, name: str, chat_template: str | None = None,
                    step: Callable[[Step], None] = lambda _: None) -> None:
    """Write ``gguf`` into ``out`` as float32 safetensors, tokenizer and chat template
    (``chat_template`` only when the file has none); ``step`` is told each step's start."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf)
    try:
        step("tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        if chat_template and not tokenizer.chat_template:
            tokenizer.chat_template = chat_template
        step("weights")
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     dtype=torch.float32)
    except (NotImplementedError, RuntimeError, ValueError, KeyError) as error:
        why = " ".join(str(error).split())[:300]
        raise ModelError(f"transformers could not de-quantise {gguf.name} for training "
                         f"({type(error).__name__}: {why}).",
                         hint="bring the model's Hugging Face folder (safetensors) instead") \
            from error
    step("save")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = name
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
