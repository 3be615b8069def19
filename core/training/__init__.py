"""Fine-tuning: LoRA recipes (CPT, SFT, DPO, ORPO) run as ``train`` jobs.

Light to import (no torch): the config, recipes' YAML presets and the hardware estimate.
The recipes themselves live in ``core.training.recipes`` and run in the job's process
through ``core.training.job.run_train_job``.
"""

from core.training.config import TrainConfig, build_config, parse_config, preset_names
from core.training.estimate import Estimate, estimate

__all__ = ["Estimate", "TrainConfig", "build_config", "estimate", "parse_config", "preset_names"]
