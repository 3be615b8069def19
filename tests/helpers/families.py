"""Tiny random-weight models of the common open families, each with its own small tokenizer
trained here (issue 16's family matrix).

Every model has 2 layers and 64 dimensions, so one goes through the whole pipeline in
seconds. The tokenizer matches what the family ships: byte-level BPE (Llama 3, Qwen, Mistral
Nemo, SmolLM, Gemma 3 as exported here) or a SentencePiece model (Gemma 2, Phi-3), the shape
llama.cpp's converter reads for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.tiny_model import SEED, build_tokenizer, tiny_gemma3_config, training_lines

SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256}


@dataclass(frozen=True)
class Family:
    name: str  # as in the README's support table
    config: str  # transformers config class
    model: str  # transformers model class
    tokenizer: str  # "bpe" or "spm"
    extra: tuple[tuple[str, Any], ...] = ()
    special: tuple[str, ...] = ()  # the family's own special tokens (llama.cpp looks them up)


FAMILIES = (
    Family("llama", "LlamaConfig", "LlamaForCausalLM", "bpe"),
    Family("mistral", "MistralConfig", "MistralForCausalLM", "bpe", (("sliding_window", None),)),
    Family("qwen2", "Qwen2Config", "Qwen2ForCausalLM", "bpe"),
    Family("qwen3", "Qwen3Config", "Qwen3ForCausalLM", "bpe", (("head_dim", 16),)),
    Family("gemma2", "Gemma2Config", "Gemma2ForCausalLM", "spm", (("head_dim", 16),)),
    Family("gemma3", "Gemma3TextConfig", "Gemma3ForCausalLM", "bpe"),
    Family("phi3", "Phi3Config", "Phi3ForCausalLM", "spm", (("pad_token_id", 0),),
           ("<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>")),
    Family("smollm", "LlamaConfig", "LlamaForCausalLM", "bpe", (("tie_word_embeddings", True),)),
)


def spm_tokenizer(folder: Path, special: tuple[str, ...] = ()) -> Any:
    """A SentencePiece (unigram) tokenizer trained on the tiny corpus, as Gemma 2 and Phi-3
    ship theirs (a ``tokenizer.model``)."""
    import io

    import sentencepiece as spm
    from transformers import LlamaTokenizer

    import resources
    from helpers.tiny_model import CHAT_TEMPLATE

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines()), model_writer=model, vocab_size=400,
        model_type="unigram", byte_fallback=True, pad_id=0, unk_id=3, bos_id=2, eos_id=1,
        user_defined_symbols=["<start_of_turn>", "<end_of_turn>", *special],
        minloglevel=2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    tokenizer = LlamaTokenizer.from_pretrained(
        str(folder), pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>",
        legacy=False, add_bos_token=True)
    tokenizer.chat_template = resources.path(CHAT_TEMPLATE).read_text(encoding="utf-8")
    return tokenizer


def build_family_model(family: Family, folder: Path) -> Path:
    """Save ``family``'s tiny model and tokenizer (safetensors) in ``folder``."""
    import torch
    import transformers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = (spm_tokenizer(folder, family.special) if family.tokenizer == "spm"
                 else build_tokenizer())
    if family.name == "gemma3":
        config = tiny_gemma3_config(tokenizer)
    else:
        values = {**SMALL, "vocab_size": len(tokenizer),
                  "bos_token_id": tokenizer.bos_token_id,
                  "eos_token_id": tokenizer.eos_token_id,
                  "pad_token_id": tokenizer.pad_token_id, **dict(family.extra)}
        config = getattr(transformers, family.config)(**values)
    torch.manual_seed(SEED)
    model = getattr(transformers, family.model)(config).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
