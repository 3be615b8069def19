"""How much memory and time a training config needs on this machine (the hardware panel).

Memory: the frozen weights in their dtype, the adapter with its gradients and two Adam
moments in fp32, and activations (layers × batch × tokens × hidden × a factor, cut by
gradient checkpointing). Time: measured step times scaled by the work per step.
Calibration: LoRA r=8 on all projections of Gemma 3 270M, 256-token sequences, batch 1,
2 CPU cores: about 2 s a step (DESIGN.md); a GPU is taken as ~40× faster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.system.hardware import Hardware
from core.training.config import TrainConfig

_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_CALIBRATION_PARAMS = 268_098_176  # Gemma 3 270M
_CALIBRATION_STEP_S = 2.0  # batch 1 × 256 tokens, r=8, 2 CPU cores
_CALIBRATION_TOKENS = 256
_CALIBRATION_CORES = 2
_GPU_SPEEDUP = 40.0
_ACTIVATION_FACTOR = 34  # bytes per (token × hidden) per layer in fp32, roughly
# logits, their log-softmax and both gradients in fp32, per token × vocabulary entry; and
# what a job process (Python, torch, transformers, peft) holds before any model (peak RSS of
# CPT probes on the tiny and the 270M model, batch 1–8 × 128–256 tokens, within 5 %)
_LOGIT_BYTES = 4 * 5
_PLAIN_LOGIT_BYTES = 4 * 2  # core.training.logprobs: the logits and one softmax buffer
_PROCESS_BYTES = 420 << 20


@dataclass(frozen=True)
class ModelShape:
    parameters: int
    hidden_size: int
    num_layers: int
    intermediate_size: int
    vocab_size: int

    @classmethod
    def gemma3_270m(cls) -> ModelShape:
        return cls(_CALIBRATION_PARAMS, 640, 18, 2048, 262_144)

    @classmethod
    def from_folder(cls, folder: Path, parameters: int) -> ModelShape:
        raw = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        text = raw.get("text_config") or raw
        return cls(parameters, int(text.get("hidden_size", 640)),
                   int(text.get("num_hidden_layers", 18)),
                   int(text.get("intermediate_size", 4 * text.get("hidden_size", 640))),
                   int(text.get("vocab_size", 32_000)))


@dataclass(frozen=True)
class Estimate:
    memory_bytes: int
    seconds: float
    fits: bool
    warning: str = ""
    steps: int = 0
    seconds_per_step: float = 0.0
    device: str = "cpu"
    dtype: str = "float32"

    def plan(self) -> str:
        """Where and how it trains, and its peak memory, in words."""
        where = "the GPU" if self.device == "cuda" else "the CPU"
        return f"on {where} in {self.dtype}, peak about {self.memory_bytes / 2**30:.1f} GiB"


def lora_parameters(shape: ModelShape, r: int) -> int:
    """Adapter size on all linear projections (q, k, v, o, gate, up, down) per layer."""
    h, i = shape.hidden_size, shape.intermediate_size
    per_layer = r * ((h + h) * 4 + (h + i) * 3)
    return per_layer * shape.num_layers


def model_shape(workspace: Any, base: str) -> ModelShape:
    """The shape of ``base`` (registry id or folder); the 270M shape when unknown."""
    from core.workspace.registry import ModelRegistry

    registry = ModelRegistry(workspace)
    try:
        if registry.exists(base):
            record = registry.get(base)
            folder = registry.path_of(record)
            if (folder / "config.json").exists():
                return ModelShape.from_folder(folder, record.parameters)
        elif (Path(base) / "config.json").exists():
            from core.models.info import count_safetensors_parameters

            return ModelShape.from_folder(Path(base), count_safetensors_parameters(Path(base)))
    except (OSError, ValueError):
        pass
    return ModelShape.gemma3_270m()


def logit_rows(config: TrainConfig, tokens: int, on_gpu: bool, vocab_size: int) -> int:
    """Positions whose logits exist at once: on a CPU, CPT, SFT and DPO project the frozen
    output layer a chunk at a time (``core.training.loss``); otherwise every position of
    the step."""
    import psutil

    from core.training.logprobs import CHUNK_ROWS
    from core.training.loss import choose_loss_path

    if on_gpu or config.recipe not in ("cpt", "sft", "dpo"):
        return tokens
    path = choose_loss_path("cpu", config.batch_size, max(1, tokens // config.batch_size),
                            vocab_size, psutil.virtual_memory().available, CHUNK_ROWS)
    return min(tokens, CHUNK_ROWS) if path == "plain" else tokens


def estimate(config: TrainConfig, hardware: Hardware, shape: ModelShape | None = None,
             total_steps: int | None = None, length: int | None = None) -> Estimate:
    """Memory, time and whether it fits, for ``config`` on ``hardware`` (sequences of
    ``length`` tokens: default ``max_length``, the longest a batch can be)."""
    shape = shape or ModelShape.gemma3_270m()
    on_gpu = hardware.has_cuda and config.device != "cpu"
    dtype = config.dtype if config.dtype != "auto" else ("bfloat16" if on_gpu else "float32")
    weight_bytes = shape.parameters * (0.55 if config.quantize_4bit else _BYTES[dtype])
    adapter = lora_parameters(shape, config.lora.r)
    adapter_bytes = adapter * 4 * 4  # weights, gradients, two Adam moments
    sequences = 2 if config.recipe in ("dpo", "orpo") else 1
    tokens = config.batch_size * (length or config.max_length) * sequences
    layers_kept = 2 if config.gradient_checkpointing else shape.num_layers
    activations = tokens * shape.hidden_size * _ACTIVATION_FACTOR * layers_kept
    activations += logit_rows(config, tokens, on_gpu, shape.vocab_size) * shape.vocab_size \
        * (_PLAIN_LOGIT_BYTES if not on_gpu and config.recipe != "orpo" else _LOGIT_BYTES)
    memory = int(weight_bytes + adapter_bytes + activations + _PROCESS_BYTES)

    work = (shape.parameters / _CALIBRATION_PARAMS) * (tokens * config.grad_accum
                                                       / _CALIBRATION_TOKENS)
    step_s = _CALIBRATION_STEP_S * work * (1 + (config.lora.r - 8) / 400)
    if config.recipe == "dpo":
        step_s *= 1.5  # reference log-probs: one more forward pass
    if on_gpu:
        step_s /= _GPU_SPEEDUP
    else:
        step_s *= _CALIBRATION_CORES / max(1, hardware.cpu_count)
    steps = total_steps or config.max_steps or 100
    seconds = step_s * steps

    if on_gpu:
        available = max(g.memory_bytes for g in hardware.gpus)
        where = "GPU memory"
    else:
        available = hardware.memory_bytes
        where = "RAM"
    fits = memory <= available * 0.9
    warning = ""
    if not fits:
        warning = (f"Needs about {memory / 2**30:.1f} GiB of {where}, "
                   f"{available / 2**30:.1f} GiB available: lower batch_size or max_length, "
                   "or turn on gradient_checkpointing.")
    elif not on_gpu and seconds > 4 * 3600:
        warning = f"About {seconds / 3600:.0f} h on this CPU; a GPU would be much faster."
    return Estimate(memory, seconds, fits, warning, steps, step_s,
                    "cuda" if on_gpu else "cpu", dtype)
