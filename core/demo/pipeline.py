"""The guided demo (job kind ``demo``): every stage of the product on the sample workspace
with the bundled model, headless, in one job with one progress bar.

import → index (and retrieval recall@5 on the sample questions) → CPT → SFT → DPO on the
sample's analyst feedback → merge of the SFT and DPO fine-tunes (TIES over the base) →
export Q4_K_M → held-out perplexity, base GGUF vs tuned GGUF → draft one proposal section
with citations → adaptation check. Each stage's time and metrics go into a summary that
is returned and written as JSON (``W/demo-summary.json`` and the job's folder).

Every stage is the same ``core`` function the app and the CLI use; the demo only picks
small step counts so that it finishes in minutes on a laptop CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.fsutil import atomic_write_json
from core.jobs.progress import JobContext
from core.jobs.stages import STEPS, StageContext
from core.workspace import Workspace

SUMMARY_FILE = "demo-summary.json"
STAGES = ("base model", "import", "index", "cpt", "sft", "dpo", "merge", "export",
          "perplexity", "draft", "draft quality", "adaptation check")


class DemoConfig(BaseModel):
    """Config of the ``demo`` job: small by default, every size can be raised."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cpt_steps: int = Field(default=30, ge=1, le=100_000)
    sft_steps: int = Field(default=16, ge=1, le=100_000)
    dpo_steps: int = Field(default=4, ge=1, le=100_000)
    seq_len: int = Field(default=128, ge=32, le=4096, description="tokens per training row")
    batch_size: int = Field(default=4, ge=1, le=256)
    merge_method: Literal["ties", "linear", "dare_ties", "task_arithmetic"] = "ties"
    quant: str | None = Field(default=None, description="GGUF type (default: by the model's "
                              "size, Q8_0 under 1B parameters: core.export.config)")
    draft_tokens: int = Field(default=160, ge=16, le=2048)
    eval_pairs: int = Field(default=3, ge=1, le=50, description="held-out pairs drafted by "
                            "the base and the tuned model for the draft-quality figures")
    seed: int = 42


class DemoState:
    """What the stages hand each other: model and dataset ids, and the summary."""

    def __init__(self, workspace: Workspace, config: DemoConfig) -> None:
        self.workspace = workspace
        self.config = config
        self.models: dict[str, str] = {}
        self.datasets: dict[str, str] = {}
        self.metrics: dict[str, Any] = {}


StageFn = Callable[[DemoState, JobContext], dict[str, Any]]


# -- stages -----------------------------------------------------------------------------
def _base_model(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.models.bundled import import_base_model

    result = import_base_model(state.workspace, ctx)
    state.models["base"], state.models["base_gguf"] = result["model_id"], result["gguf_id"]
    return {"model": result["model_id"], "already_imported": result["already_imported"]}


def _import(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.ingest.sample import populate_sample
    from core.ingest.store import DocumentStore

    result = populate_sample(state.workspace, ctx)
    if result["failed"]:
        raise RuntimeError(f"sample documents failed to import: {result['failed']}")
    kinds: dict[str, int] = {}
    for record in DocumentStore(state.workspace).list():
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return {"documents": sum(kinds.values()), "by_kind": kinds,
            "pairs": len(result["paired"]), "files": result["counts"]}


def _index(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.ingest.sample import sample_source
    from core.retrieval.evaluate import evaluate
    from core.retrieval.index import update_index

    changed = update_index(state.workspace, ctx=ctx)
    ctx.report(1, 1, "scoring retrieval on the sample questions", force=True)
    scores = evaluate(state.workspace, sample_source() / "questions.jsonl", k=5,
                      modes=("hybrid",))["hybrid"]
    state.metrics["retrieval_recall_at_5"] = scores.recall_at_k
    state.metrics["retrieval_mrr"] = round(scores.mrr, 4)
    return {"indexed": {k: v for k, v in changed.items() if isinstance(v, int | float)},
            "questions": scores.questions, "recall_at_5": scores.recall_at_k,
            "mrr": round(scores.mrr, 4)}


def _train(state: DemoState, ctx: JobContext, recipe: str, steps: int,
           init: str | None) -> dict[str, Any]:
    from core.training.stage import train_stage

    config = state.config
    # SFT rows carry their sources (up to 256 tokens, as drafting shows them) before the
    # answer: room for both (the longest answers are cut; the stage's notes say how many).
    # Preference pairs are few and short: auto, the longest pair (its prompt has sources too)
    length = {"cpt": config.seq_len, "sft": config.seq_len * 4}.get(recipe, 0)
    overrides = [f"max_steps={steps}", f"batch_size={config.batch_size}",
                 f"max_length={length}",
                 "eval_every=0", f"save_every={max(1, steps // 2)}", f"seed={config.seed}"]
    run = train_stage(state.workspace, recipe, ctx, base=state.models["base"],
                      init_adapter=init, overrides=overrides, seed=config.seed,
                      seq_len=config.seq_len)
    state.datasets[recipe] = run.dataset
    state.models[recipe] = run.model_id
    metrics = run.metrics
    seconds = metrics["seconds"] or 1.0
    return {"adapter": run.model_id, "dataset": run.dataset, "steps": int(metrics["steps"]),
            "train_loss": _round(metrics["train_loss"]),
            "heldout_ppl_before": _round(metrics["heldout_ppl_before"]),
            "heldout_ppl_after": _round(metrics["heldout_ppl_after"]),
            "tokens_per_s": round(metrics["tokens"] / seconds, 1),
            **({"length": length_notes[0]} if (length_notes := [
                n for n in run.notes if n.startswith("max_length")]) else {})}


def _cpt(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    result = _train(state, ctx, "cpt", state.config.cpt_steps, None)
    state.metrics["training_tokens_per_s"] = result["tokens_per_s"]
    return result


def _sft(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    return _train(state, ctx, "sft", state.config.sft_steps, state.models["cpt"])


def _dpo(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    return _train(state, ctx, "dpo", state.config.dpo_steps, state.models["sft"])


def _merge(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.merging.config import parse_merge_config
    from core.merging.job import merge_models

    models = [{"model": state.models["sft"]}, {"model": state.models["dpo"]}]
    if state.config.merge_method in ("ties", "dare_ties"):
        models = [{**m, "density": 0.7} for m in models]
    config = parse_merge_config({
        "method": state.config.merge_method, "models": models,
        "base": None if state.config.merge_method == "linear" else state.models["base"],
        "name": "Demo merge: instruction-tuned + critique-tuned", "seed": state.config.seed})
    result = merge_models(state.workspace, config, ctx)
    state.models["merged"] = result["model_id"]
    return {"model": result["model_id"], "method": result["method"],
            "sources": [m["model"] for m in models], "tensors": result["tensors"]}


def _export(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.export import parse_export_config
    from core.export.job import export_model

    quant = state.config.quant
    config = parse_export_config({"model": state.models["merged"],
                                  "quants": [quant] if quant else []})
    result = export_model(state.workspace, config, ctx)
    quant = quant or result["quants"][0]
    # the file of that type, or the more precise one the export fell back on when the
    # quantization rounded the adaptation away (core.export.gain)
    chosen = result.get("recommended", {}).get(quant)
    output = next(o for o in result["outputs"]
                  if o["model_id"] == chosen or (chosen is None and o["quant"] == quant))
    state.models["gguf"] = output["model_id"]
    return {key: value for key, value in output.items() if not isinstance(value, dict | list)}


def _perplexity(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.adaptation.gate import EVAL_TOKENS, gguf_file, heldout_text
    from core.export.verify import load_gguf, perplexity_of

    text = heldout_text(state.workspace, [state.datasets["cpt"]])
    if not text:
        raise RuntimeError("the CPT dataset has no held-out text to score")
    scores: dict[str, float] = {}
    for step, (name, model_id) in enumerate((("base", state.models["base_gguf"]),
                                             ("tuned", state.models["gguf"]))):
        ctx.report(step, 2, f"perplexity of the {name} model on held-out text", force=True)
        llm = load_gguf(gguf_file(state.workspace, model_id), n_ctx=EVAL_TOKENS + 8,
                        logits_all=True)
        try:
            scores[name], tokens = perplexity_of(llm, text, EVAL_TOKENS)
        finally:
            llm.close()
    ratio = scores["tuned"] / scores["base"]
    state.metrics.update(heldout_ppl_base=round(scores["base"], 3),
                         heldout_ppl_tuned=round(scores["tuned"], 3),
                         heldout_ppl_ratio=round(ratio, 4))
    return {"base_model": state.models["base_gguf"], "tuned_model": state.models["gguf"],
            "tokens": tokens, "base": round(scores["base"], 3),
            "tuned": round(scores["tuned"], 3), "ratio": round(ratio, 4)}


def _draft(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.drafting.proposal import ProposalStore, new_proposal, stream_section
    from core.drafting.sources import WorkspaceRetriever, cited_numbers
    from core.generation.model import Finished, GenerationSettings, Token
    from core.generation.runtime import ModelCache
    from core.ingest.store import DocumentStore

    rfps = sorted((r for r in DocumentStore(state.workspace).list() if r.kind == "rfp"),
                  key=lambda r: r.title)
    if not rfps:
        raise RuntimeError("the workspace has no RFP to draft a proposal for")
    store = ProposalStore(state.workspace)
    proposal = store.save(new_proposal(state.workspace, rfps[0].id))
    section = next((s for s in proposal.sections if s.reference_query), proposal.sections[0])
    settings = GenerationSettings(max_tokens=state.config.draft_tokens, temperature=0.0,
                                  seed=state.config.seed)
    cache = ModelCache(capacity=1)
    tokens, stats, finished = 0, None, None
    try:
        model = cache.get(state.workspace, state.models["gguf"])
        for event in stream_section(model, proposal, section.key,
                                    retriever=WorkspaceRetriever(state.workspace),
                                    settings=settings, cancelled=ctx.cancelled):
            if isinstance(event, Token):
                tokens += 1
                ctx.report(tokens, state.config.draft_tokens, f"{section.title}: "
                           f"{tokens} tokens")
            elif isinstance(event, Finished):
                stats, finished = event.stats, event.extra["section"]
    finally:
        cache.close()
    ctx.check_cancelled()
    if finished is None or stats is None:
        raise RuntimeError("drafting ended without a result")
    proposal = store.save(proposal.with_section(finished))  # type: ignore[arg-type]
    state.metrics["generation_tokens_per_s"] = round(stats.tokens_per_s, 1)
    cited = set(cited_numbers(finished.text))
    return {"proposal": proposal.id, "rfp": rfps[0].title, "section": section.title,
            "tokens": stats.completion_tokens, "tokens_per_s": round(stats.tokens_per_s, 1),
            "status": finished.status, "format": finished.prompt_format,
            "problems": list(finished.problems),
            "citations": [f"[{c.number}] {c.title}" for c in finished.citations],
            "cited": sorted(cited),
            "excerpt": (finished.text or finished.rejected_text)[:600]}


def _draft_quality(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.drafting.eval_job import EvalDraftsConfig, evaluate_drafts
    from core.drafting.evaluate import heldout_pairs

    pairs = heldout_pairs(state.workspace, state.datasets["sft"], state.config.eval_pairs)
    models = [state.models["base_gguf"], state.models["gguf"]]
    config = EvalDraftsConfig(limit=len(pairs), max_tokens=state.config.draft_tokens,
                              seed=state.config.seed)
    report = evaluate_drafts(state.workspace, models, pairs, config,
                             lambda done, total, message: ctx.report(done, total, message),
                             ctx.cancelled)
    figures = {}
    for name, scores in zip(("base", "tuned"), report["models"]):
        for key in ("echo_rate", "failed_rate", "citation_validity",
                    "citation_validity_model_written", "fact_exactness", "rouge_l",
                    "similarity", "ttft_s"):
            figures[f"{name}_{key}"] = scores[key]
    state.metrics.update({f"drafts_{k}": v for k, v in figures.items()})
    atomic_write_json(ctx.job_dir / "draft-quality.json", report)
    return {"pairs": len(pairs), **figures}


def _adaptation_check(state: DemoState, ctx: JobContext) -> dict[str, Any]:
    from core.adaptation.changes import check_for_update, summary_lines

    check = check_for_update(state.workspace)
    return {"propose_update": check.propose, "reasons": list(check.reasons),
            "text_changes": len(check.text_changes), "new_tokens": check.new_tokens,
            "lines": summary_lines(check)}


STAGE_FUNCTIONS: dict[str, StageFn] = {
    "base model": _base_model, "import": _import, "index": _index, "cpt": _cpt, "sft": _sft,
    "dpo": _dpo, "merge": _merge, "export": _export, "perplexity": _perplexity,
    "draft": _draft, "draft quality": _draft_quality, "adaptation check": _adaptation_check,
}


# -- the run ----------------------------------------------------------------------------
def run_demo(workspace: Workspace, config: DemoConfig, ctx: JobContext) -> dict[str, Any]:
    """Run every stage; returns the summary (also written to ``W/demo-summary.json``)."""
    state = DemoState(workspace, config)
    started = time.monotonic()
    summary: dict[str, Any] = {
        "workspace": str(workspace.root), "config": config.model_dump(mode="json"),
        "started": now_iso(),
        "stages": [], "metrics": state.metrics, "models": state.models,
        "datasets": state.datasets}
    for index, name in enumerate(STAGES):
        ctx.check_cancelled()
        folder = ctx.job_dir / f"{index + 1:02d}-{name.replace(' ', '-')}"
        stage_ctx = StageContext(ctx, folder, index, len(STAGES), name)
        stage_ctx.report(0, 1, "starting", force=True)
        stage_started = time.monotonic()
        result = STAGE_FUNCTIONS[name](state, stage_ctx)
        seconds = round(time.monotonic() - stage_started, 1)
        summary["stages"].append({"stage": name, "seconds": seconds, **result})
        ctx.log(f"{name}: {seconds} s")
    summary["seconds"] = round(time.monotonic() - started, 1)
    ctx.report(STEPS, STEPS, "done", force=True)
    for path in (workspace.root / SUMMARY_FILE, ctx.job_dir / SUMMARY_FILE):
        atomic_write_json(path, summary)
    workspace.audit.record("demo.run", seconds=summary["seconds"], models=dict(state.models))
    return summary


def run_demo_job(config: DemoConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``demo``."""
    return run_demo(ctx.workspace(), config, ctx)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as text, for the CLI and the app."""
    metrics = summary.get("metrics", {})
    lines = [f"demo on {summary['workspace']}: {summary.get('seconds', 0):.0f} s"]
    for stage in summary.get("stages", []):
        lines.append(f"  {stage['stage']:<17} {stage['seconds']:>7.1f} s  {stage_note(stage)}")
    if "heldout_ppl_base" in metrics:
        lines.append(f"held-out perplexity: base {metrics['heldout_ppl_base']:.2f} → tuned "
                     f"{metrics['heldout_ppl_tuned']:.2f} (×{metrics['heldout_ppl_ratio']:.3f})")
    if "retrieval_recall_at_5" in metrics:
        lines.append(f"retrieval: recall@5 {metrics['retrieval_recall_at_5']:.2f}, "
                     f"MRR {metrics['retrieval_mrr']:.2f}")
    if "drafts_tuned_rouge_l" in metrics:
        lines.append(
            "draft quality (base → tuned): ROUGE-L "
            f"{metrics['drafts_base_rouge_l']} → {metrics['drafts_tuned_rouge_l']}, similarity "
            f"{metrics['drafts_base_similarity']} → {metrics['drafts_tuned_similarity']}, echo "
            f"{metrics['drafts_base_echo_rate']} → {metrics['drafts_tuned_echo_rate']}, "
            f"citations valid {metrics['drafts_base_citation_validity']} → "
            f"{metrics['drafts_tuned_citation_validity']}")
    if "training_tokens_per_s" in metrics:
        lines.append(f"tokens/s: training {metrics['training_tokens_per_s']:.0f}, "
                     f"generation {metrics.get('generation_tokens_per_s', 0):.1f}")
    return lines


def stage_note(stage: dict[str, Any]) -> str:
    name = stage["stage"]
    if name in ("cpt", "sft", "dpo"):
        return (f"{stage['steps']} steps, loss {stage['train_loss']}, held-out ppl "
                f"{stage['heldout_ppl_before']} → {stage['heldout_ppl_after']}"
                + (f"; {stage['length']}" if stage.get("length") else ""))
    notes = {
        "import": lambda: f"{stage['documents']} documents",
        "index": lambda: f"recall@5 {stage['recall_at_5']:.2f}",
        "merge": lambda: f"{stage['method']} → {stage['model']}",
        "export": lambda: f"{stage.get('quant', '')} → {stage.get('model_id', '')}",
        "perplexity": lambda: f"{stage['base']} → {stage['tuned']}",
        "draft": lambda: f"{stage['section']}: {stage['tokens']} tokens, "
                         f"{len(stage['citations'])} citations"
                         + (f", {stage['format']} prompt, {stage['status']}"
                            if "format" in stage else ""),
        "draft quality": lambda: (
            f"ROUGE-L base {stage['base_rouge_l']} → tuned {stage['tuned_rouge_l']}, "
            f"echo {stage['tuned_echo_rate']}, citations valid "
            f"{stage['tuned_citation_validity']}"),
        "adaptation check": lambda: ("update proposed" if stage["propose_update"]
                                     else "no update needed"),
    }
    return notes[name]() if name in notes else ""


def _round(value: float) -> float:
    return round(float(value), 4)


def read_summary(workspace_root: Path) -> dict[str, Any] | None:
    """The last demo summary written in a workspace, if any."""
    import json

    path = workspace_root / SUMMARY_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
