"""Helpers for the training tests: small datasets and fast configs.

Imported by name (not through ``conftest``, which other test folders also have). The tiny
base model and its datasets come from ``helpers.workspaces``, shared with the desktop tests.
"""

from __future__ import annotations

from typing import Any

from helpers.workspaces import (  # noqa: F401  (re-exported for the training tests)
    SEQ,
    TINY_BASE,
    build_datasets,
    commit_dataset,
    register_tiny_base,
    turn,
)

from core.jobs.progress import ProgressEvent


class Recorder:
    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def losses(self) -> list[float]:
        return [e.metrics["loss"] for e in self.events if "loss" in e.metrics]



FAST = ["max_steps=8", "save_every=4", "eval_every=4", "learning_rate=0.01",
        "batch_size=4", "max_length=64", "warmup_ratio=0", "seed=7", "deterministic=true"]


def fast_config(recipe: str, dataset: str, *overrides: str, base: str = TINY_BASE) -> Any:
    from core.training.config import build_config

    return build_config(recipe, base=base, dataset=dataset, overrides=[*FAST, *overrides])
