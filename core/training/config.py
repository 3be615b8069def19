"""The training config: one frozen, validated model per run, built from a YAML recipe.

A recipe file (``resources/recipes/<recipe>.yaml``) holds ``defaults`` and named
``presets`` (quick / balanced / thorough). ``build_config`` layers, in order: the
recipe's defaults, the chosen preset, the explicit arguments (base, dataset) and
``--set key=value`` overrides (dotted keys reach nested fields: ``lora.r=16``). Every
problem is reported at once in one ``ConfigError``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import resources
from core.errors import ConfigError, validation_message
from core.fsutil import read_yaml
from core.jobs.overrides import parse_overrides

Recipe = Literal["cpt", "sft", "dpo", "orpo"]
RECIPES: tuple[str, ...] = ("cpt", "sft", "dpo", "orpo")
PRESETS: tuple[str, ...] = ("quick", "balanced", "thorough")
# The dataset kind each recipe trains on (see core.datasets).
DATASET_KIND: dict[str, str] = {"cpt": "cpt", "sft": "sft", "dpo": "prefs", "orpo": "prefs"}


class LoraSettings(BaseModel):
    """Low-rank adapter shape. ``all-linear`` targets every linear projection."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    r: int = Field(default=8, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1, le=4096)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: Literal["all-linear"] | tuple[str, ...] = "all-linear"


class TrainConfig(BaseModel):
    """Everything one LoRA training run needs; saved as YAML next to its output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipe: Recipe
    base: str = Field(min_length=1, description="registry model id, model folder or .gguf file")
    dataset: str = Field(min_length=1, description="dataset id in the workspace")
    init_adapter: str | None = Field(
        default=None, description="adapter id to continue from (CPT → SFT → DPO)")
    name: str | None = Field(default=None, description="name of the produced model")

    lora: LoraSettings = LoraSettings()
    quantize_4bit: bool = Field(default=False, description="QLoRA (CUDA + bitsandbytes only)")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    nproc: int = Field(
        default=0, ge=0, le=1024,
        description="training processes on this machine: 0 = one per visible GPU (1 on CPU)")
    strategy: Literal["auto", "ddp", "fsdp"] = Field(
        default="auto", description="with several processes: DDP (a full copy per process) or "
        "FSDP (weights, gradients and optimizer state sharded); auto = DDP")
    gradient_checkpointing: bool = False
    packing: bool = Field(default=True, description="pack SFT examples into full sequences")
    max_length: int = Field(
        default=256, ge=0, le=131_072,
        description="tokens per sequence; 0 = auto: the dataset's longest example (CPT: its "
                    "seq_len), at most 2048")

    batch_size: int = Field(default=4, ge=1, le=4096)
    grad_accum: int = Field(default=1, ge=1, le=4096)
    learning_rate: float = Field(default=2e-4, gt=0, le=1.0)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(default=0.05, ge=0.0, le=0.5)
    max_steps: int | None = Field(default=None, ge=1)
    epochs: float = Field(default=1.0, gt=0, le=1000)
    beta: float = Field(default=0.1, gt=0, le=100, description="DPO beta / ORPO lambda")
    reference_once: Literal["auto", "always", "never"] = Field(
        default="auto", description="DPO: the reference model's log-probabilities of each "
        "pair computed once before training, not at every step; auto = for runs of several "
        "epochs")

    eval_every: int = Field(default=50, ge=0, description="steps between held-out evals; 0=off")
    eval_samples: int = Field(default=64, ge=1, le=100_000, description="held-out rows used")
    save_every: int = Field(default=50, ge=1, description="steps between checkpoints")
    keep_checkpoints: int = Field(default=2, ge=1, le=100)
    log_every: int = Field(default=1, ge=1)
    seed: int = Field(default=42, ge=0)
    deterministic: bool = False
    merge_full_model: bool = False
    resume: bool | str = Field(
        default=False, description="true: the latest resumable run of this recipe; or a run id")
    oom_retry: bool = Field(default=True, description="on out-of-memory, halve the batch "
                            "(doubling gradient accumulation) until it fits or is 1")

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        problems = []
        if 0 < self.max_length < 8:
            problems.append("max_length: at least 8 tokens, or 0 for auto")
        if self.recipe == "cpt" and self.packing is False:
            problems.append("packing: CPT datasets are already packed; leave packing on")
        if self.dtype == "float16" and self.device == "cpu":
            problems.append("dtype: float16 training needs a GPU (use float32 or auto on CPU)")
        if self.quantize_4bit and self.device == "cpu":
            problems.append("quantize_4bit: 4-bit QLoRA needs a CUDA GPU")
        if self.quantize_4bit and self.nproc > 1:
            problems.append("quantize_4bit: 4-bit QLoRA runs in one process; set nproc=1")
        if self.lora.target_modules != "all-linear" and not self.lora.target_modules:
            problems.append("lora.target_modules: name at least one module, or all-linear")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum

    def to_yaml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        if isinstance(data["lora"]["target_modules"], list):
            data["lora"]["target_modules"] = list(data["lora"]["target_modules"])
        return data


def parse_config(raw: Mapping[str, Any]) -> TrainConfig:
    """Validate a raw mapping; every problem is listed in one ``ConfigError``."""
    try:
        return TrainConfig.model_validate(dict(raw))
    except ValidationError as error:
        raise ConfigError(validation_message(error, "training config")) from error


# -- recipes and overrides -------------------------------------------------------------
def recipe_path(recipe: str) -> Path:
    return resources.path("recipes", f"{recipe}.yaml")


def load_recipe(recipe: str) -> dict[str, Any]:
    """The raw recipe file: ``{"recipe", "description", "defaults", "presets"}``."""
    if recipe not in RECIPES:
        raise ConfigError(f"Unknown recipe {recipe!r} (known: {', '.join(RECIPES)}).")
    data = read_yaml(recipe_path(recipe)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"The recipe file {recipe_path(recipe)} is not a mapping.")
    return data


def preset_names(recipe: str) -> list[str]:
    return list((load_recipe(recipe).get("presets") or {}).keys())


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def build_config(
    recipe: str,
    *,
    preset: str | None = None,
    base: str | None = None,
    dataset: str | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults ← preset ← arguments ← ``--set`` overrides, validated all at once."""
    data = load_recipe(recipe)
    raw: dict[str, Any] = _merge({}, data.get("defaults") or {})
    problems: list[str] = []
    presets = data.get("presets") or {}
    if preset:
        if preset not in presets:
            problems.append(f"preset: {preset!r} is not one of {', '.join(presets) or 'none'}")
        else:
            _merge(raw, presets[preset] or {})
    raw["recipe"] = recipe
    for key, value in (("base", base), ("dataset", dataset)):
        if value:
            raw[key] = value
    _merge(raw, dict(extra or {}))
    parsed, bad = parse_overrides(overrides)
    problems.extend(bad)
    _merge(raw, parsed)
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as error:
        message = validation_message(error, "training config").removesuffix(".")
        problems.insert(0, message.removeprefix("Invalid training config: "))
        config = None
    if problems:
        raise ConfigError("Invalid training config: " + "; ".join(problems) + ".")
    assert config is not None
    return config
