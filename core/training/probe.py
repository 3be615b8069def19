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

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.jobs.progress import JobContext
from core.training.config import TrainConfig
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


def probe_length(workspace: Workspace, config: TrainConfig) -> int:
    """The sequence length the run's batches will have: a CPT dataset's blocks (often
    shorter than ``max_length``, and a step's time follows the length); otherwise
    ``max_length`` (SFT and preference rows are packed or padded up to it)."""
    from core.datasets.store import DatasetStore
    from core.errors import ScriptoriumError

    if config.recipe != "cpt":
        return config.max_length
    try:
        rows = DatasetStore(workspace).rows(config.dataset, limit=512)  # not the whole file
    except (ScriptoriumError, OSError, ValueError):
        return config.max_length
    lengths = [len(row["input_ids"]) for row in rows if row.get("input_ids")]
    return min(config.max_length, max(lengths)) if lengths else config.max_length


@dataclass(frozen=True)
class SftShape:
    """What an SFT run's batches look like: their length and the share of positions that
    count in the loss."""

    length: int  # tokens per row of a batch (rows are padded to the batch's longest)
    counted_share: float  # completions count; prompts are masked


def sft_shape(workspace: Workspace, config: TrainConfig, tokenizer: Any) -> SftShape | None:
    """The SFT run's batches, from a sample of its rows tokenized and packed (or padded)
    as the run does them: the run projects only the completion positions through the LM
    head, and packed rows are often shorter than ``max_length``, so a probe at full length
    with every position counted over-estimates the step. None when there are no rows."""
    from core.datasets.store import DatasetStore
    from core.errors import ScriptoriumError
    from core.training.packing import IGNORE, best_fit, tokenize_pair

    try:
        rows = DatasetStore(workspace).rows(config.dataset, limit=512)
    except (ScriptoriumError, OSError, ValueError):
        return None
    examples = [tokenize_pair(tokenizer, str(row["prompt"]), str(row["completion"]),
                              config.max_length)
                for row in rows if "prompt" in row and "completion" in row]
    examples = [(ids, labels) for ids, labels in examples if any(t != IGNORE for t in labels)]
    if not examples:
        return None
    sizes = [len(ids) for ids, _ in examples]
    if config.packing:
        sizes = [sum(sizes[i] for i in members) for members in best_fit(sizes, config.max_length)]
    batch = max(1, config.batch_size)
    widths = [max(sizes[i: i + batch]) for i in range(0, len(sizes), batch)]
    counted = sum(sum(1 for t in labels if t != IGNORE) for _, labels in examples)
    return SftShape(length=max(2, round(statistics.mean(widths))),
                    counted_share=counted / sum(len(ids) for ids, _ in examples))


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
    share = 1.0
    if config.recipe == "sft":
        shape = sft_shape(workspace, config, load_tokenizer(source))
        if shape is not None:
            length, share = shape.length, shape.counted_share
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
        for _ in range(config.grad_accum):
            if config.recipe == "dpo":  # the reference log-probabilities: adapters off
                with torch.no_grad(), model.disable_adapter():
                    model(input_ids=ids)
            _loss(model, ids, share, plain).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if where.device == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - started)
        progress(step + 1, steps + 1, f"probe step {step + 1} of {steps + 1}")
    return Probe(
        step_s=statistics.median(times), peak_rss=_peak_rss(),
        peak_gpu=int(torch.cuda.max_memory_allocated()) if where.device == "cuda" else None,
        load=os.getloadavg()[0], cpu_count=os.cpu_count() or 1, steps=steps,
        device=where.device, dtype=where.dtype, length=length, counted_share=round(share, 4))


def run_probe_job(config: ProbeConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``probe-training``: the probe in its own process (so its peak memory is the
    training's, not the app's)."""
    def progress(done: int, total: int, message: str) -> None:
        ctx.check_cancelled()
        ctx.report(done, total, message, force=True)

    probe = probe_training(ctx.workspace(), config.train, config.steps, progress)
    return {**asdict(probe), "summary": probe.describe(config.train.max_steps or 100)}
