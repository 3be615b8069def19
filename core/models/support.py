"""Which stages a registered model's family can go through, as checked when it was imported.

An imported base model's record keeps ``config["support"]`` (stage → ok, detail) from
``core.modelstore.check``; every model trained or merged from it inherits its family.
Training, merging and export ask ``refusal`` before they start, so a family that cannot go
through a stage is refused with its reason at once instead of failing mid-way.
"""

from __future__ import annotations

from typing import Literal

from core.workspace.registry import ModelRegistry

Stage = Literal["training", "merge", "export", "llama.cpp"]
WORDS: dict[Stage, str] = {"training": "trained", "merge": "merged",
                           "export": "exported to GGUF", "llama.cpp": "run by llama.cpp"}


def refusal(registry: ModelRegistry, model_id: str, stage: Stage) -> str | None:
    """Why ``model_id`` (or the base it comes from) cannot go through ``stage``; None if it
    can or was never checked (the bundled model, models from before the check)."""
    if not registry.exists(model_id):
        return None
    for record in registry.lineage(model_id):
        support = (record.config.get("support") or {}).get(stage)
        if isinstance(support, dict) and not support.get("ok", True):
            whose = "" if record.id == model_id else f"its base {record.id} "
            return (f"{model_id} cannot be {WORDS[stage]}: {whose}({record.architecture}): "
                    f"{support.get('detail', 'not supported')}.")
    return None
