"""The shape every training recipe shares: setup → train → save → cleanup.

A recipe says how many tokens one optimiser step reads (for throughput and ETA) and
builds its trainer; preparing the run, training with the out-of-memory retry, saving the
adapter and freeing the model are the same for all (``common``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.jobs.progress import JobContext
from core.training.config import TrainConfig
from core.training.outcome import TrainOutcome
from core.training.recipes import common
from core.workspace import Workspace


class Recipe:
    eval_is_lm = True  # eval_loss is a token NLL (perplexity); False for preference losses

    def __init__(self, config: TrainConfig, ctx: JobContext, workspace: Workspace,
                 output_dir: Path) -> None:
        self.config = config
        self.ctx = ctx
        self.workspace = workspace
        self.output_dir = output_dir
        self.state: common.RunState | None = None

    def setup(self) -> common.RunState:
        self.state = common.prepare(self.config, self.ctx, self.workspace, self.output_dir)
        return self.state

    def tokens_per_step(self, state: common.RunState) -> int:
        raise NotImplementedError

    def build_trainer(self, state: common.RunState) -> Any:
        raise NotImplementedError

    def train(self, resume_from: Path | None) -> TrainOutcome:
        assert self.state is not None
        return common.train_with_retry(self.state, self.build_trainer, resume_from,
                                       self.tokens_per_step, self.eval_is_lm)

    def save(self, folder: Path) -> None:
        assert self.state is not None
        common.save_adapter(self.state, folder)

    def cleanup(self) -> None:
        if self.state is not None:
            common.release(self.state)
