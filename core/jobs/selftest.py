"""A small job that exercises the job system end to end (used by `doctor` and tests)."""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ScriptoriumError
from core.jobs.progress import JobContext


class SelfTestConfig(BaseModel):
    """Count to ``steps``, sleeping ``delay_s`` each step; optionally fail on purpose."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    steps: int = Field(default=20, ge=1, le=100_000)
    delay_s: float = Field(default=0.05, ge=0, le=60)
    fail_at_step: int | None = Field(default=None, description="raise a user error here")
    crash_at_step: int | None = Field(default=None, description="hard-exit the process here")


def run_selftest(config: SelfTestConfig, ctx: JobContext) -> dict[str, Any]:
    ctx.log(f"counting to {config.steps}")
    for step in range(1, config.steps + 1):
        ctx.check_cancelled()
        time.sleep(config.delay_s)
        if step == config.fail_at_step:
            raise ScriptoriumError(f"Self-test failed on purpose at step {step}.")
        if step == config.crash_at_step:
            print(f"self-test: simulating a crash at step {step}", flush=True)
            os._exit(3)
        ctx.report(step, config.steps, f"step {step}/{config.steps}", tokens=step * 100,
                   score=float(step))
    return {"counted": config.steps}
