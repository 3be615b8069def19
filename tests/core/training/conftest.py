"""Fixtures for the training tests: a workspace with the tiny model and small datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from training_fixtures import (
    Recorder,
    build_datasets,
    fast_config,
    register_tiny_base,
)

from core.jobs.progress import JobContext
from core.workspace import Workspace


@pytest.fixture
def train_workspace(workspace: Workspace, tiny_model_dir: Path) -> Workspace:
    from helpers.tiny_model import training_lines
    from transformers import AutoTokenizer

    register_tiny_base(workspace, tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    build_datasets(workspace, tokenizer, training_lines(120))
    return workspace

@pytest.fixture
def make_ctx() -> Callable[..., tuple[JobContext, Recorder]]:
    def make(workspace: Workspace, run_id: str = "run-test",
             cancelled: Callable[[], bool] = lambda: False) -> tuple[JobContext, Recorder]:
        job_dir = workspace.root / "runs" / run_id
        job_dir.mkdir(parents=True, exist_ok=True)
        recorder = Recorder()
        return JobContext(job_dir, cancelled, sink=recorder), recorder

    return make

@pytest.fixture
def train_run(make_ctx: Callable[..., tuple[JobContext, Recorder]]) -> Callable[..., Any]:
    """Run one training in this process: ``train_run(ws, recipe, *overrides)``."""
    from core.training.job import run_training

    def run(workspace: Workspace, recipe: str, *overrides: str, run_id: str | None = None,
            dataset: str | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> tuple[dict[str, Any], Recorder]:
        datasets = {"cpt": "cpt-v1", "sft": "sft-v1", "dpo": "prefs-v1", "orpo": "prefs-v1"}
        config = fast_config(recipe, dataset or datasets[recipe], *overrides)
        ctx, recorder = make_ctx(workspace, run_id or f"run-{recipe}", cancelled)
        return run_training(config, ctx), recorder

    return run
