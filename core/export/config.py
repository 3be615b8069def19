"""The export config: which model, which GGUF files, how they are checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError, validation_message

QuantType = Literal["f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m"]
QUANTS: tuple[str, ...] = ("f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m")
# Bytes per parameter of each file, roughly (for the free-disk check before starting).
BYTES_PER_PARAM: dict[str, float] = {
    "f16": 2.0, "q8_0": 1.07, "q6_k": 0.83, "q5_k_m": 0.72, "q4_k_m": 0.62}
# Below this many parameters a 4-bit file loses too much: the tuned 270M demo model at
# Q4_K_M kept 81 % of its perplexity gain, yet copied its prompt back on every first
# attempt; at Q8_0 it kept all of it and wrote its sections.
SMALL_MODEL_PARAMETERS = 1_000_000_000


def default_quants(parameters: int | None) -> tuple[str, ...]:
    """The GGUF type an export makes when none is asked for: Q8_0 for a model under a
    billion parameters (or of unknown size), Q4_K_M for larger ones."""
    return ("q4_k_m",) if parameters and parameters >= SMALL_MODEL_PARAMETERS else ("q8_0",)


class ExportConfig(BaseModel):
    """One export: a model to GGUF f16, then quantized, each output verified."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1, description="registry id (base, merged or adapter)")
    quants: tuple[QuantType, ...] = Field(
        default=(), description="files to register; f16 is always made first, kept only if "
        "listed (none: Q8_0 for a model under 1B parameters, else Q4_K_M)")
    name: str | None = Field(default=None, description="general.name in the GGUF")
    pre_tokenizer: str | None = Field(
        default=None, description="llama.cpp BPE pre-tokenizer name (e.g. gpt-2) for a "
        "tokenizer the converter does not recognise")
    heldout_file: str | None = Field(
        default=None, description="text file for the perplexity check (default: built in)")
    eval_tokens: int = Field(default=320, ge=16, le=4096,
                             description="tokens of held-out text scored for perplexity")
    generate_tokens: int = Field(default=16, ge=1, le=256)
    # Scoring runs the output layer for every token: ~23 s per model per 1,024 tokens for
    # the 270M model on 2 CPU cores, and the check scores 2 + 2 × (quants) models.
    gain_tokens: int = Field(
        default=1024, ge=0, le=65536,
        description="held-out tokens (of the CPT datasets behind the model) scored for the "
        "adaptation check, base vs tuned at f16 and each quant; 0 turns the check off")
    gain_window: int = Field(default=1024, ge=64, le=8192,
                             description="tokens per context window the held-out text is "
                             "scored in (at most the model's trained context)")
    min_gain_kept: float = Field(
        default=0.8, ge=0.0, le=1.0,
        description="share of the f16 perplexity gain a quantized file must keep to be "
        "called verified")
    fallback_quants: tuple[QuantType, ...] = Field(
        default=("q8_0",),
        description="when a quantized file keeps too little of the fine-tune's gain, these "
        "more precise types are tried in order; the first that keeps it is registered too "
        "and recommended in its place (empty: none)")

    @field_validator("quants", "fallback_quants", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            seen: list[str] = []
            for item in value:
                item = str(item).lower().replace("-", "_")
                if item not in seen:
                    seen.append(item)
            return tuple(seen)
        return value


def parse_export_config(raw: Mapping[str, Any]) -> ExportConfig:
    """Validate a raw mapping; every problem in one ``ConfigError``."""
    try:
        return ExportConfig.model_validate(dict(raw))
    except ValidationError as error:
        raise ConfigError(validation_message(error, "export config")) from error
