"""The ``export`` job: a model → GGUF f16 → quantized GGUF files, each verified and registered.

1. resolve the model (an adapter is merged into its base first), check free disk;
2. convert to f16 with llama.cpp's converter, with ``general.name`` and lineage keys;
3. load the f16 file in llama.cpp: it generates, and its held-out perplexity is the baseline;
4. the adaptation check (``core.export.gain``): the base model behind a tuned one, converted
   the same way, and the tuned model scored on the workspace's held-out text;
5. for each quantization: ``llama_model_quantize``, load, generate, perplexity vs f16, and
   the share of the f16 gain over the base that the quantized file keeps;
6. register each output as kind ``gguf`` (parent: the source model; config: the quant type
   and the verdict; metrics: size, perplexity, ratio to f16, decoding speed, gain kept).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from core.clock import now_iso
from core.errors import ModelError
from core.export.config import BYTES_PER_PARAM, QUANTS, ExportConfig, default_quants
from core.export.convert import convert_to_f16
from core.export.gain import GainCheck, GainKept, plan_gain_check
from core.export.quantize import LABELS, quantize
from core.export.register import register_gguf
from core.export.verify import HELDOUT_TEXT, GgufCheck, check_gguf
from core.fsutil import require_free_space
from core.jobs.progress import JobContext
from core.merging.sources import full_model_folder
from core.models.support import refusal
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
        "scriptorium.exported": now_iso(),
    }


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
    if (refused := refusal(registry, record.id, "export")) is not None:
        raise ModelError(refused, hint="see the support table in the README")
    if not config.quants:
        config = config.model_copy(update={"quants": default_quants(record.parameters)})
    quants = [q for q in config.quants if q != "f16"]
    plan = plan_gain_check(workspace, record) if config.gain_tokens else \
        "turned off (gain_tokens: 0)"
    steps = _Steps(ctx, 1 + 4 + 1 + 2 * len(quants) + 1 + (
        0 if isinstance(plan, str) else 2 + len(quants)))
    steps.start(f"checking {record.id}")
    params = record.parameters or 1
    needed = params * (sum(BYTES_PER_PARAM[q] for q in quants) + BYTES_PER_PARAM["f16"])
    needed += params * 4 if record.kind == "adapter" else 0
    needed += 0 if isinstance(plan, str) else params * (BYTES_PER_PARAM["f16"] + 1.07)
    require_free_space(workspace.models_dir, int(needed) + (64 << 20), "the GGUF export")
    heldout = (Path(config.heldout_file).read_text(encoding="utf-8")
               if config.heldout_file else HELDOUT_TEXT)
    scratch = Path(scratch or (ctx.job_dir / "scratch" if ctx else
                               workspace.root / f".export-{uuid.uuid4().hex[:8]}"))
    scratch.mkdir(parents=True, exist_ok=True)
    gains = None if isinstance(plan, str) else GainCheck(
        registry, plan, scratch, max_tokens=config.gain_tokens, window=config.gain_window,
        min_kept=config.min_gain_kept, pre_tokenizer=config.pre_tokenizer, threads=_threads())
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
        kept_f16: GainKept | None = None
        if gains:
            steps.start(f"adaptation check: base {gains.plan.base.id} vs the tuned model on "
                        "held-out text, F16")
            kept_f16 = gains.start(f16)
            steps.finish(2)
        unchecked = "" if gains else str(plan)
        if kept_f16 and kept_f16.kept is None:  # no gain to keep: the quants need no check
            unchecked = kept_f16.message()
        exporter = _QuantExporter(registry, record, config, ctx, steps, scratch, f16, heldout,
                                  baseline, None if unchecked else gains, unchecked)
        exporter.known = kept_f16.f16_metrics() if kept_f16 else {}
        outputs: list[dict[str, Any]] = []
        if "f16" in config.quants:
            outputs.append(register_gguf(registry, record, "f16", f16, check=baseline,
                                         baseline=baseline, kept=kept_f16,
                                         unchecked_reason=exporter.unchecked, ctx=ctx))
        outputs.extend(exporter.export(quant) for quant in quants)
        recommended, tried = _keep_adaptation(config, outputs, exporter)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    warnings = [o["verification"] for o in outputs if not o["verified"]] + tried
    if ctx:
        summary = ", ".join(f"{o['quant']} ppl ×{o['perplexity_ratio']:.3f}"
                            + (f", keeps {o['gain_kept']:.0%} of the gain"
                               if o.get("gain_kept") is not None else "") for o in outputs)
        ctx.report(_TOTAL, _TOTAL, f"exported {summary}", force=True)
        for warning in warnings:
            ctx.log(warning, level="warning")
    adaptation = gains.summary() if gains else {"checked": False, "reason": plan}
    by_id = {o["model_id"]: o for o in outputs}
    return {"model": record.id, "quants": list(config.quants),
            "f16_perplexity": baseline.perplexity,
            "tokens_scored": baseline.tokens_scored, "outputs": outputs,
            "adaptation": adaptation, "recommended": recommended,
            "verified": all(o["verified"] for o in outputs),
            "usable": all(by_id[i]["verified"] for i in recommended.values()),
            "warnings": warnings}


def _threads() -> int | None:
    import torch

    return torch.get_num_threads()


class _QuantExporter:
    """Quantizes the f16 file to one type, checks, scores and registers it."""

    def __init__(self, registry: ModelRegistry, record: ModelRecord, config: ExportConfig,
                 ctx: JobContext | None, steps: _Steps, scratch: Path, f16: Path,
                 heldout: str, baseline: GgufCheck, gains: GainCheck | None,
                 unchecked: str) -> None:
        self.registry, self.record, self.config, self.ctx = registry, record, config, ctx
        self.steps, self.scratch, self.f16, self.heldout = steps, scratch, f16, heldout
        self.baseline, self.gains, self.unchecked = baseline, gains, unchecked
        self.known: dict[str, float] = {}

    def export(self, quant: str, fallback_for: str | None = None) -> dict[str, Any]:
        """The registered output. A fallback that does not keep the gain either is not
        registered: only its quant, verdict and message come back."""
        label = LABELS[quant]
        self.steps.start(f"quantizing to {label}")
        target = quantize(self.f16, self.scratch / f"{self.record.id}-{label}.gguf", quant,
                          threads=_threads())
        self.steps.finish()
        self.steps.start(f"loading the {label} file: generation and perplexity")
        check = check_gguf(target, self.heldout, eval_tokens=self.config.eval_tokens,
                           generate_tokens=self.config.generate_tokens)
        self.steps.finish()
        kept = None
        if self.gains:
            self.steps.start(f"adaptation check at {label}: base vs tuned")
            kept = self.gains.at(quant, target)
            self.steps.finish()
        if fallback_for and kept and not kept.verified:
            target.unlink(missing_ok=True)
            return {"quant": quant, "verified": False, "verification": kept.message()}
        return register_gguf(self.registry, self.record, quant, target, check=check,
                             baseline=self.baseline, kept=kept, unchecked_reason=self.unchecked,
                             known=self.known, fallback_for=fallback_for, ctx=self.ctx)


def _keep_adaptation(config: ExportConfig, outputs: list[dict[str, Any]],
                     exporter: _QuantExporter) -> tuple[dict[str, str], list[str]]:
    """For each requested type, the id of the file to use: itself when it keeps the gain,
    else the first of ``config.fallback_quants`` (more precise types) that does, exported
    now unless it already was. Fallbacks registered join ``outputs``; returns the mapping
    and the messages of fallbacks that did not keep the gain either."""
    recommended: dict[str, str] = {}
    tried: list[str] = []
    for output in list(outputs):
        quant = output["quant"]
        recommended[quant] = output["model_id"]
        if output["verified"]:
            continue
        for fallback in config.fallback_quants:
            if QUANTS.index(fallback) >= QUANTS.index(quant):
                continue  # only a more precise type can keep more
            done = next((o for o in outputs if o["quant"] == fallback), None)
            if done is None:
                exporter.steps.units += 3
                done = exporter.export(fallback, fallback_for=quant)
                if "model_id" not in done:
                    tried.append(done["verification"])
                    continue
                outputs.append(done)
            if done["verified"]:
                recommended[quant] = done["model_id"]
                break
    return recommended, tried


def run_export_job(config: ExportConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``export``."""
    return export_model(ctx.workspace(), config, ctx)
