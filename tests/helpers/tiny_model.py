"""A tiny, randomly initialised Gemma-3-shaped causal LM with its own small tokenizer.

Unit tests (registry, training, merging, export) use it instead of the real 270M model:
2 layers, 64 dims, a byte-level BPE vocabulary of a few hundred tokens trained here on
generated text. Everything is seeded, so two builds give the same weights and vocabulary.
"""

from __future__ import annotations

import random
from pathlib import Path

import resources

SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")
CHAT_TEMPLATE = "templates/gemma-turns.jinja"
SEED = 1234
VOCAB_TARGET = 512

_SUBJECTS = ("The contractor", "Our team", "The agency", "The proposal", "The program office",
             "Each analyst", "The offeror", "The system", "The data platform", "The vendor")
_VERBS = ("shall deliver", "will provide", "must support", "maintains", "reviews",
          "documents", "tests", "secures", "migrates", "reports on")
_OBJECTS = ("the monthly status report", "a labour category table", "the security plan",
            "past performance records", "the rocket telemetry archive", "cloud hosting",
            "the transition schedule", "quality assurance checks", "the help desk",
            "all requirements in section C")
_TAILS = ("within 30 days.", "at no extra cost.", "for the base year.", "under FAR 52.212.",
          "as described in the SOW.", "with weekly reviews.", "on site and remotely.",
          "before the option period.", "to the contracting officer.", "in plain language.")


def training_lines(count: int = 400, seed: int = SEED) -> list[str]:
    """Deterministic RFP-flavoured sentences (with digits and punctuation) to train on."""
    rng = random.Random(seed)
    lines = []
    for number in range(count):
        sentence = " ".join(
            (rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_TAILS))
        )
        lines.append(f"{number % 97}. {sentence}")
    return lines


def build_tokenizer(lines: list[str] | None = None, vocab_size: int = VOCAB_TARGET):  # noqa: ANN201
    """A byte-level BPE ``PreTrainedTokenizerFast`` with Gemma's special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(lines or training_lines(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]}
    )
    tokenizer.chat_template = resources.path(CHAT_TEMPLATE).read_text(encoding="utf-8")
    return tokenizer


def tiny_gemma3_config(tokenizer, **overrides):  # noqa: ANN001, ANN003, ANN201
    """A 2-layer, 64-dim ``Gemma3TextConfig`` sized to ``tokenizer``."""
    from transformers import Gemma3TextConfig

    values = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        query_pre_attn_scalar=32,
        max_position_embeddings=512,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
        architectures=["Gemma3ForCausalLM"],
    )
    values.update(overrides)
    return Gemma3TextConfig(**values)


def build_tiny_model(folder: Path, seed: int = SEED) -> Path:
    """Save a tiny random Gemma 3 causal LM and its tokenizer (safetensors) in ``folder``."""
    import torch
    from transformers import Gemma3ForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(tiny_gemma3_config(tokenizer)).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
