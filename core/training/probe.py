"""A short measured probe of a training config on this machine (job ``probe-training``).

A few real optimizer steps at the chosen settings (the real base with its LoRA, the real
batch size, gradient accumulation, precision and checkpointing; random token ids as long as
the run's sequences will be; for SFT, with the prompt share of the run's rows masked out of
the loss, as the run's loss path does), after one untimed warm-up step. It measures the seconds per
step, the process's peak memory (RSS; peak GPU memory on CUDA) and the machine's load while
it ran, so the time shown before a run starts is measured here rather than scaled from a
calibration on another machine. The training job then corrects it live from its own first
steps.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.jobs.progress import JobContext
from core.training.config import TrainConfig
from core.training.lengths import planned_steps, resolve_max_length
from core.workspace import Workspace

PROBE_STEPS = 3


@dataclass(frozen=True)
class Probe:
    step_s: float  # one optimizer step (all its accumulation micro-steps), median
    peak_rss: int  # bytes: the probe process's peak resident memory
    peak_gpu: int | None  # bytes, on CUDA
    load: float  # 1-minute load average while it ran
    cpu_count: int
    steps: int
    device: str
    dtype: str
    length: int  # tokens per sequence the probe ran (the run's sequences)
    counted_share: float = 1.0  # share of positions whose next token counts in the loss
    batch_fill: float = 1.0  # a step's rows, on average, against a full step (step_s has it)

    def seconds(self, steps: int) -> float:
        return self.step_s * steps

    def describe(self, steps: int) -> str:
        total = self.seconds(steps)
        length = f"{total:.0f} s" if total < 90 else f"{total / 60:.0f} min"
        memory = (f"{self.peak_gpu / 2**30:.1f} GiB GPU memory" if self.peak_gpu else
                  f"{self.peak_rss / 2**30:.1f} GiB RAM")
        busy = (f"; the machine was busy (load {self.load:.1f} on {self.cpu_count} cores), "
                "so this may be pessimistic" if self.load > self.cpu_count * 0.75 else "")
        return (f"{self.step_s:.2f} s a step on {self.device} ({self.dtype}) → about "
                f"{length} for {steps} steps, peak {memory}{busy}")


class ProbeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    train: TrainConfig
    steps: int = Field(default=PROBE_STEPS, ge=1, le=20)


def _peak_rss() -> int:
    """This process's peak resident memory. On Linux the memory map's own high-water mark
    (``VmHWM``): ``ru_maxrss`` survives ``exec``, so a job started from a large process
    would report its parent's size."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _sample_rows(workspace: Workspace, config: TrainConfig) -> list[dict[str, Any]]:
    """The first rows of the run's training set (not the whole file); none when it cannot
    be read (the probe then measures at ``max_length``)."""
    from core.datasets.store import DatasetStore
    from core.errors import ScriptoriumError

    try:
        return DatasetStore(workspace).rows(config.dataset, limit=512)
    except (ScriptoriumError, OSError, ValueError):
        return []


def probe_length(workspace: Workspace, config: TrainConfig) -> int:
    """The sequence length the run's batches will have: a CPT dataset's blocks (often
    shorter than ``max_length``, and a step's time follows the length); otherwise
    ``max_length`` (SFT and preference rows are packed or padded up to it)."""
    if config.recipe != "cpt":
        return config.max_length
    lengths = [len(row["input_ids"]) for row in _sample_rows(workspace, config)
               if row.get("input_ids")]
    return min(config.max_length, max(lengths)) if lengths else config.max_length


@dataclass(frozen=True)
class BatchShape:
    """What an SFT or preference run's batches look like: their length, the share of
    positions that count in the loss, and how full a step is."""

    length: int  # tokens per row of a batch (rows are padded to the batch's longest)
    counted_share: float  # completions count; prompts are masked
    batch_fill: float = 1.0  # a step's rows, on average, against a full step


def sft_shape(workspace: Workspace, config: TrainConfig, tokenizer: Any) -> BatchShape | None:
    """The SFT run's batches, from a sample of its rows tokenized and packed (or padded)
    as the run does them: the run projects only the completion positions through the LM
    head, and packed rows are often shorter than ``max_length``, so a probe at full length
    with every position counted over-estimates the step. None when there are no rows."""
    from core.training.packing import IGNORE, best_fit, tokenize_pair

    examples = [tokenize_pair(tokenizer, str(row["prompt"]), str(row["completion"]),
                              config.max_length)
                for row in _sample_rows(workspace, config)
                if "prompt" in row and "completion" in row]
    examples = [(ids, labels) for ids, labels in examples if any(t != IGNORE for t in labels)]
    if not examples:
        return None
    sizes = [len(ids) for ids, _ in examples]
    if config.packing:
        sizes = [sum(sizes[i] for i in members) for members in best_fit(sizes, config.max_length)]
    batch = max(1, config.batch_size)
    widths = [max(sizes[i: i + batch]) for i in range(0, len(sizes), batch)]
    counted = sum(sum(1 for t in labels if t != IGNORE) for _, labels in examples)
    return BatchShape(length=max(2, round(statistics.mean(widths))),
                    counted_share=counted / sum(len(ids) for ids, _ in examples))


def preference_shape(workspace: Workspace, config: TrainConfig,
                     tokenizer: Any) -> BatchShape | None:
    """A preference run's batches: each pair is its prompt with the chosen answer and with
    the rejected one, a batch's ``2 × batch_size`` rows padded to its longest, and only the
    answers' positions count (the plain head projects only those, for the policy and for
    the reference). None when there are no pairs."""
    from core.training.packing import IGNORE, tokenize_pair

    pairs = [[tokenize_pair(tokenizer, str(row["prompt"]), str(row[answer]), config.max_length)
              for answer in ("chosen", "rejected")]
             for row in _sample_rows(workspace, config)
             if all(key in row for key in ("prompt", "chosen", "rejected"))]
    if not pairs:
        return None
    batch = max(1, config.batch_size)
    widths = [max(len(ids) for pair in pairs[i: i + batch] for ids, _ in pair)
              for i in range(0, len(pairs), batch)]
    examples = [example for pair in pairs for example in pair]
    counted = sum(sum(1 for t in labels if t != IGNORE) for _, labels in examples)
    return BatchShape(length=max(2, round(statistics.mean(widths))),
                    counted_share=max(counted, 1) / sum(len(ids) for ids, _ in examples),
                    batch_fill=batch_fill(len(pairs), batch, config.grad_accum))


def batch_fill(rows: int, batch_size: int, grad_accum: int) -> float:
    """The rows an optimizer step reads, on average over an epoch of ``rows``, against a
    full step (``batch_size × grad_accum``): a small dataset's steps are short (the last
    batch of an epoch holds what is left; a step takes the micro-batches left)."""
    full = max(1, batch_size) * max(1, grad_accum)
    micro = math.ceil(rows / max(1, batch_size))
    steps = max(1, math.ceil(micro / max(1, grad_accum)))
    return min(1.0, rows / (steps * full)) if rows else 1.0


def reference_share(config: TrainConfig) -> float:
    """How much of a DPO reference pass one training step costs: all of it when the
    reference runs in every step, ``1 / epochs`` when it runs once, before training, over
    every pair (``core.training.recipes.prefs.computes_reference_once``)."""
    from core.training.recipes.prefs import computes_reference_once

    if config.recipe != "dpo":
        return 0.0
    return 1.0 / config.epochs if computes_reference_once(config, 1) else 1.0


def _loss(model: Any, ids: Any, share: float, plain: bool) -> Any:
    """The loss of a probe step as the run computes it: every position counts, or (SFT)
    only the last ``share`` of each row; on the plain path (``core.training.loss``) only
    the counted positions are projected."""
    from core.training.loss import plain_causal_loss
    from core.training.packing import IGNORE

    labels = ids
    if share < 1.0:
        labels = ids.clone()
        labels[:, : ids.shape[1] - max(1, round(share * ids.shape[1]))] = IGNORE
    if plain:
        return plain_causal_loss(model, {"input_ids": ids, "labels": labels,
                                         "use_cache": False}, None)
    return model(input_ids=ids, labels=labels, use_cache=False).loss


def probe_training(workspace: Workspace, config: TrainConfig, steps: int = PROBE_STEPS,
                   progress: Callable[[int, int, str], None] = lambda *a: None) -> Probe:
    """Time ``steps`` real optimizer steps of ``config`` (after a warm-up step)."""
    import torch

    from core.training.loss import loss_path_for
    from core.training.modeling import (
        attach_adapter,
        load_base_model,
        load_tokenizer,
        placement,
        resolve_base,
    )

    where = placement(config)
    progress(0, steps + 1, "loading the model")
    source = resolve_base(workspace, config.base)
    model = load_base_model(source, where, config.quantize_4bit)
    model = attach_adapter(model, config, None)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate)
    text = getattr(model.config, "text_config", None) or model.config
    sequences = 2 if config.recipe in ("dpo", "orpo") else 1
    generator = torch.Generator().manual_seed(config.seed)
    length = probe_length(workspace, config)
    share, fill = 1.0, 1.0
    shaped = {"sft": sft_shape, "dpo": preference_shape}.get(config.recipe)
    if shaped is not None:
        shape = shaped(workspace, config, load_tokenizer(source))
        if shape is not None:
            length, share, fill = shape.length, shape.counted_share, shape.batch_fill
    reference = reference_share(config)
    # CPT and SFT take the plain loss where the run does (DPO's head is like it)
    plain = loss_path_for(model, where.device, config.batch_size * sequences,
                          config.max_length, int(text.vocab_size)) == "plain"
    ids = torch.randint(3, int(text.vocab_size), (config.batch_size * sequences, length),
                        generator=generator)
    ids = ids.to(where.device)
    if where.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(steps + 1):  # the first step warms caches and allocators: not timed
        started = time.perf_counter()
        reference_s = 0.0
        for _ in range(config.grad_accum):
            if reference:  # the reference log-probabilities: adapters off, the run's head
                before = time.perf_counter()
                with torch.no_grad(), model.disable_adapter():
                    _loss(model, ids, share, plain)
                reference_s += time.perf_counter() - before
            _loss(model, ids, share, plain).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if where.device == "cuda":
            torch.cuda.synchronize()
        if step:  # a reference pass made once per run counts here by its share
            times.append(time.perf_counter() - started - (1 - reference) * reference_s)
        progress(step + 1, steps + 1, f"probe step {step + 1} of {steps + 1}")
    return Probe(
        step_s=statistics.median(times) * fill, peak_rss=_peak_rss(),
        peak_gpu=int(torch.cuda.max_memory_allocated()) if where.device == "cuda" else None,
        load=os.getloadavg()[0], cpu_count=os.cpu_count() or 1, steps=steps,
        device=where.device, dtype=where.dtype, length=length, counted_share=round(share, 4),
        batch_fill=round(fill, 4))


def run_probe_job(config: ProbeConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``probe-training``: the probe in its own process (so its peak memory is the
    training's, not the app's)."""
    def progress(done: int, total: int, message: str) -> None:
        ctx.check_cancelled()
        ctx.report(done, total, message, force=True)

    workspace = ctx.workspace()
    train, _ = resolve_max_length(config.train, workspace)  # as the run will have it
    probe = probe_training(workspace, train, config.steps, progress)
    steps = planned_steps(train, workspace) or 100
    return {**asdict(probe), "summary": probe.describe(steps)}
