"""What generation takes and gives: settings, messages and streamed events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
PromptMode = Literal["auto", "chat", "completion"]


class GenerationSettings(BaseModel):
    """Sampling settings of one request (the pane's defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, ge=0.5, le=2.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    seed: int | None = None
    stop: tuple[str, ...] = ()


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationStats:
    """How a request went; ``finish`` is "stop", "length" or "cancelled"."""

    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float | None
    decode_s: float
    total_s: float
    finish: str
    trimmed_turns: int = 0

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: tokens after the first over the time since the first."""
        if self.completion_tokens <= 1 or self.decode_s <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.decode_s

    def to_json(self) -> dict[str, object]:
        return {"prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "time_to_first_token_s": self.time_to_first_token_s,
                "decode_s": round(self.decode_s, 4), "total_s": round(self.total_s, 4),
                "tokens_per_s": round(self.tokens_per_s, 2), "finish": self.finish,
                "trimmed_turns": self.trimmed_turns}


@dataclass(frozen=True)
class Token:
    """A piece of generated text."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The end of a stream: the whole text and the stats."""

    text: str
    stats: GenerationStats
    extra: dict[str, object] = field(default_factory=dict)


StreamEvent = Token | Finished
