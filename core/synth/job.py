"""Job ``synthesize-pairs``: a local teacher writes instruction pairs from the documents.

For each passage of the chosen documents and each task that suits it
(``core.synth.tasks``), the teacher (a registered GGUF model through llama.cpp,
or a configured endpoint) is asked once; the pairs in its reply go through the grounding
and quality filters (``core.synth.grounding``) and the survivors wait for review
(``core.datasets.synthetic``). Each finished item is recorded, so a cancelled or killed
job run again with the same settings carries on where it stopped and keeps every pair
already made and every review already given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.clock import now_iso
from core.datasets.corpus import live_documents
from core.datasets.synthetic import (
    SynthPair,
    accepted_pairs,
    add_filtered,
    add_pair,
    batch_id,
    done_items,
    finish_item,
    open_batch,
    pairs,
)
from core.datasets.user_pairs import list_user_pairs
from core.generation.model import Finished, GenerationSettings
from core.ingest.store import DocumentStore
from core.jobs.progress import JobContext
from core.retrieval.chunking import Chunk, ChunkingOptions, chunk_document
from core.synth.grounding import CHECKS, Filters, FilterSettings
from core.synth.tasks import TASKS, Request, build_request, parse_reply, suits, where
from core.workspace import Workspace

SOURCE_KINDS = ("rfp", "proposal", "other")  # reference tables hold rows, not prose
WEAK_TEACHER = ("The bundled 270M model is a demonstration teacher: most of its pairs are "
                "weak and the filters remove them. Choose a larger model you imported "
                "(3B or more) for pairs worth training on.")


class SynthConfig(BaseModel):
    """Config of the ``synthesize-pairs`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    teacher: str | None = Field(default=None, description="a registered GGUF model, a .gguf "
                                "path or endpoint:NAME (default: the deployed release)")
    documents: tuple[str, ...] = Field(default=(), description="document ids (default: all "
                                       "RFPs, proposals and other prose)")
    tasks: tuple[str, ...] = Field(default=("qa", "section"), min_length=1)
    per_chunk: int = Field(default=2, ge=1, le=8, description="question/answer pairs asked "
                           "for per passage")
    limit: int | None = Field(default=None, ge=1, description="passage×task items to do in "
                              "this run (the rest on the next)")
    passage_words: int = Field(default=160, ge=40, le=400)
    temperature: float = Field(default=0.3, ge=0.0, le=1.5)
    seed: int = Field(default=7, ge=0)
    filters: FilterSettings = Field(default_factory=FilterSettings)

    @field_validator("tasks", "documents", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("tasks")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(TASKS)}")
        return tuple(dict.fromkeys(value))


def passages(workspace: Workspace, config: SynthConfig) -> list[Chunk]:
    """The passages pairs are made from: prose of the chosen documents, in order."""
    store = DocumentStore(workspace)
    records = live_documents(store, SOURCE_KINDS)
    if config.documents:
        wanted = set(config.documents)
        missing = wanted - {r.id for r in records}
        if missing:
            from core.datasets.model import DatasetError

            raise DatasetError(f"No RFP, proposal or other prose document with id "
                               f"{', '.join(sorted(missing))}.")
        records = [r for r in records if r.id in wanted]
    options = ChunkingOptions(config.passage_words, 0)
    out: list[Chunk] = []
    for record in records:
        out.extend(chunk_document(record, store.blocks(record.id), options=options))
    return out


def _similarity(embedder: Any) -> Callable[[str, str], float]:
    def similarity(a: str, b: str) -> float:
        vectors = embedder.embed([a, b])
        return float(np.dot(vectors[0], vectors[1]))
    return similarity


def _existing(workspace: Workspace, batch: str) -> list[tuple[str, str]]:
    """Pairs a new one must not duplicate: users' pairs, every accepted generated one and
    those this batch made before (a resumed run)."""
    known = [(p["instruction"], p["response"]) for p in list_user_pairs(workspace)]
    known += [(p.instruction, p.response) for _, p in accepted_pairs(workspace)]
    known += [(p.instruction, p.response) for p in pairs(workspace, batch)
              if p.state == "pending"]
    return known


Ask = Callable[[Any, Request, GenerationSettings, JobContext], Finished]


def ask_teacher(teacher: Any, request: Request, settings: GenerationSettings,
                ctx: JobContext) -> Finished:
    """The teacher's whole reply to ``request`` (local llama.cpp model or endpoint)."""
    from core.serving.backend import stream_reply

    final = None
    for event in stream_reply(teacher, request.messages, settings, cancelled=ctx.cancelled,
                              mode=request.mode):  # type: ignore[arg-type]
        if isinstance(event, Finished):
            final = event
    assert final is not None
    return final


def run_synth(workspace: Workspace, config: SynthConfig, ctx: JobContext, *,
              teacher: Any = None, embedder: Any = None,
              ask: Ask = ask_teacher) -> dict[str, Any]:
    """Generate, filter and store pairs (see module docstring); returns what happened."""
    from core.drafting.draft import choose_format

    if teacher is None:
        from core.generation.runtime import ModelCache
        from core.serving.backend import open_text_model

        ctx.report(0, 1, "loading the teacher model", force=True)
        teacher = open_text_model(workspace, config.teacher, ModelCache(n_ctx=2048))
    fmt, reason = choose_format(teacher, "auto")
    if embedder is None:
        from core.retrieval.embedder import load_embedder

        embedder = load_embedder(None)
    settings = {"teacher": teacher.name, "format": fmt, "tasks": list(config.tasks),
                "per_chunk": config.per_chunk, "documents": list(config.documents),
                "passage_words": config.passage_words, "temperature": config.temperature,
                "seed": config.seed, "filters": config.filters.model_dump()}
    batch = batch_id(settings)
    open_batch(workspace, batch, settings)
    ctx.log(f"teacher {teacher.name}: {'chat' if fmt == 'chat' else 'document'} prompts "
            f"({reason}); batch {batch}")
    if "gemma3-270m" in teacher.name or teacher.name.endswith("270m-q4km"):
        ctx.log(WEAK_TEACHER, level="warning")
    done = done_items(workspace, batch)
    items = [(chunk, task) for chunk in passages(workspace, config) for task in config.tasks
             if suits(task, chunk) and (chunk.chunk_id, task) not in done]
    remaining = len(items)
    items = items[:config.limit] if config.limit else items
    filters = Filters(config.filters, _similarity(embedder), _existing(workspace, batch))
    made = kept = tokens = 0
    decode_s = 0.0
    started = time.perf_counter()
    for step, (chunk, task) in enumerate(items):
        ctx.check_cancelled()
        ctx.report(step, len(items), f"{task}: {where(chunk)}", tokens=tokens)
        request = build_request(task, chunk, fmt, config.per_chunk)
        settings = GenerationSettings(
            temperature=config.temperature, max_tokens=request.max_tokens,
            seed=config.seed + step + len(done), stop=request.stops, repeat_penalty=1.15)
        final = ask(teacher, request, settings, ctx)
        if final.stats.finish == "cancelled":
            ctx.check_cancelled()
        tokens += final.stats.completion_tokens
        decode_s += final.stats.total_s
        generated = parse_reply(request, final.text, chunk, config.per_chunk)
        made += len(generated)
        if not generated:
            filters.counts["unparsed"] = filters.counts.get("unparsed", 0) + 1
            add_filtered(workspace, batch, {"chunk_id": chunk.chunk_id, "task": task,
                                            "check": "unparsed", "reply": final.text[:2000]})
        for n, pair in enumerate(generated):
            scaled = config.filters.model_copy(update={
                "min_overlap": config.filters.min_overlap * pair.support_scale})
            filters.settings = scaled
            verdict = filters.check(pair.instruction, pair.response, pair.generated,
                                    chunk.text, request.scaffolding)
            if not verdict.kept:
                add_filtered(workspace, batch, {
                    "chunk_id": chunk.chunk_id, "task": task, "check": verdict.check,
                    "reason": verdict.reason, "instruction": pair.instruction,
                    "response": pair.response, "figures": verdict.figures})
                continue
            kept += 1
            add_pair(workspace, SynthPair(
                id=f"{chunk.chunk_id}:{task}:{n}", batch=batch, task=task,
                instruction=pair.instruction, response=pair.response,
                generated=pair.generated, doc_id=chunk.doc_id, version=chunk.version,
                chunk_id=chunk.chunk_id, where=where(chunk), source=chunk.text,
                figures=verdict.figures, created=now_iso()))
        finish_item(workspace, batch, chunk.chunk_id, task)
    elapsed = time.perf_counter() - started
    ctx.report(len(items), len(items), f"{kept} of {made} generated pairs kept for review",
               force=True)
    return {"batch": batch, "teacher": teacher.name, "format": fmt, "items": len(items),
            "items_left": remaining - len(items), "resumed_after": len(done),
            "generated": made, "kept": kept,
            "filtered": {k: v for k, v in filters.counts.items() if v or k in CHECKS},
            "completion_tokens": tokens,
            "generated_tokens_per_s": round(tokens / decode_s, 2) if decode_s else None,
            "seconds": round(elapsed, 1)}


def run_synth_job(config: SynthConfig, ctx: JobContext) -> dict[str, Any]:
    """Job ``synthesize-pairs``."""
    return run_synth(ctx.workspace(), config, ctx)
