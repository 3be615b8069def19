"""What a training run ends with: steps, losses, time, tokens and the loss history.

Its own module so the recipes that produce it and the multi-process launcher that reads
rank 0's copy back (``core.training.distributed``) both depend on it, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainOutcome:
    steps: int
    train_loss: float
    final_loss: float
    seconds: float
    tokens: int
    stopped_for_cancel: bool
    history: tuple[dict[str, float], ...]
    # building the trainer: tokenising, packing, and for DPO the reference log-probabilities
    prepare_seconds: float = 0.0
