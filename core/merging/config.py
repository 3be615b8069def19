"""The merge config: one frozen, validated model per merge, and its mergekit YAML.

A ``MergeConfig`` names registry models (base, merged or adapter); the job resolves them
to absolute folders (adapters merged into their base first) and hands mergekit the YAML
that ``merge_yaml`` renders. Every problem in a config is reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError, validation_message

MergeMethod = Literal["linear", "slerp", "ties", "dare_ties", "task_arithmetic"]
METHODS: tuple[str, ...] = ("linear", "slerp", "ties", "dare_ties", "task_arithmetic")
METHOD_TITLES: dict[str, str] = {
    "linear": "Linear (weighted average)",
    "slerp": "SLERP (spherical interpolation of two models)",
    "ties": "TIES (trim, elect sign, merge task vectors)",
    "dare_ties": "DARE-TIES (random drop and rescale, then TIES)",
    "task_arithmetic": "Task arithmetic (add weighted task vectors)",
}
# Methods that merge *differences from a base model* (task vectors).
NEEDS_BASE: frozenset[str] = frozenset({"ties", "dare_ties", "task_arithmetic"})
TAKES_DENSITY: frozenset[str] = frozenset({"ties", "dare_ties"})
COMMON_PARENT = "<common parent>"  # shown until the job resolves the default base
# Aliases accepted from mergekit-style YAML and the command line.
_METHOD_ALIASES = {"dare-ties": "dare_ties", "task-arithmetic": "task_arithmetic",
                   "dare": "dare_ties", "average": "linear"}


class MergeSource(BaseModel):
    """One model in a merge, with its weight and (TIES/DARE) density."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str = Field(min_length=1, description="registry model id")
    weight: float | None = Field(default=None, ge=-10.0, le=10.0)
    density: float | None = Field(default=None, gt=0.0, le=1.0,
                                  description="fraction of each task vector kept")


class MergeConfig(BaseModel):
    """Everything one merge needs; saved as YAML next to the merged model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: MergeMethod
    models: tuple[MergeSource, ...] = Field(min_length=1)
    base: str | None = Field(
        default=None, description="base model id (TIES, DARE-TIES, task arithmetic; "
        "default: the models' common parent in the registry)")
    t: float | None = Field(default=None, ge=0.0, le=1.0,
                            description="SLERP: 0 gives the first model, 1 the second")
    normalize: bool | None = Field(
        default=None, description="divide by the sum of the weights (default: mergekit's, "
        "on for linear and TIES, off for task arithmetic)")
    dtype: Literal["float32", "bfloat16", "float16"] | None = Field(
        default=None, description="dtype of the merge and its output (default: the dtype "
        "the base's weights are stored in)")
    seed: int = Field(default=0, ge=0, description="random seed (DARE drops at random)")
    name: str | None = Field(default=None, description="display name of the merged model")
    model_id: str | None = Field(default=None, description="id of the merged model")

    @model_validator(mode="after")
    def _cross_checks(self) -> MergeConfig:
        problems = []
        ids = [m.model for m in self.models]
        if len(set(ids)) != len(ids):
            problems.append("models: a model is listed twice")
        if self.method == "slerp":
            if len(self.models) != 2:
                problems.append(f"models: SLERP merges exactly two models, got {len(ids)}")
            if any(m.weight is not None for m in self.models):
                problems.append("weight: SLERP takes t, not per-model weights")
        elif self.t is not None:
            problems.append(f"t: only SLERP takes t, not {self.method}")
        if self.method in NEEDS_BASE and len(self.models) < 1:
            problems.append("models: name at least one fine-tune to merge into the base")
        if self.method not in NEEDS_BASE and self.method != "slerp" and len(self.models) < 2:
            problems.append(f"models: {self.method} needs at least two models")
        if self.method not in TAKES_DENSITY and any(m.density is not None for m in self.models):
            problems.append(f"density: {self.method} does not take a density "
                            "(only ties and dare_ties do)")
        if self.base is not None and self.base in ids and self.method in NEEDS_BASE:
            problems.append(f"base: {self.base!r} is also listed as a model to merge")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def slerp_t(self) -> float:
        return 0.5 if self.t is None else self.t

    def to_yaml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        data["models"] = [m.model_dump(exclude_none=True) for m in self.models]
        return data


def parse_merge_config(raw: Mapping[str, Any]) -> MergeConfig:
    """Validate our own or a mergekit-style mapping; every problem in one ``ConfigError``."""
    data = dict(raw)
    if "merge_method" in data:
        data = _from_mergekit(data)
    if isinstance(data.get("method"), str):
        method = data["method"].lower()
        data["method"] = _METHOD_ALIASES.get(method, method)
    if isinstance(data.get("models"), list):
        data["models"] = [{"model": m} if isinstance(m, str) else m for m in data["models"]]
    try:
        return MergeConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_message(error, "merge config")) from error


def _from_mergekit(raw: dict[str, Any]) -> dict[str, Any]:
    """A mergekit YAML (``merge_method``, ``models: [{model, parameters}]``) → our fields."""
    unsupported = sorted(set(raw) - {"merge_method", "models", "base_model", "parameters",
                                     "dtype", "out_dtype", "name", "tokenizer_source",
                                     "chat_template", "random_seed"})
    if unsupported:
        raise ConfigError(
            f"Unsupported mergekit keys: {', '.join(unsupported)} (Scriptorium merges whole "
            "models; slices and modules are not supported).")
    params = raw.get("parameters") or {}
    data: dict[str, Any] = {"method": raw["merge_method"], "models": []}
    for entry in raw.get("models") or []:
        entry = {"model": entry} if isinstance(entry, str) else dict(entry)
        source: dict[str, Any] = {"model": str(entry.get("model", ""))}
        for key, value in (entry.get("parameters") or {}).items():
            if key not in ("weight", "density"):
                raise ConfigError(f"Unsupported per-model parameter {key!r} "
                                  "(only weight and density).")
            source[key] = value
        data["models"].append(source)
    if raw.get("base_model"):
        data["base"] = str(raw["base_model"])
    if "t" in params:
        data["t"] = params["t"]
    if "normalize" in params:
        data["normalize"] = params["normalize"]
    for key in ("dtype", "name"):
        if raw.get(key):
            data[key] = raw[key]
    if raw.get("random_seed") is not None:
        data["seed"] = raw["random_seed"]
    if data["method"] == "slerp" and "base" in data:
        # mergekit lists the SLERP base among the models: t=0 is the base.
        others = [m["model"] for m in data["models"] if m["model"] != data["base"]]
        data["models"] = [{"model": m} for m in [data["base"], *others]]
        data.pop("base")
    return data


def merge_yaml(config: MergeConfig, paths: Mapping[str, Path] | None = None,
               base: str | None = None, dtype: str | None = None) -> str:
    """The mergekit YAML of ``config``.

    ``paths`` maps model ids to absolute folders (as the job hands them to mergekit);
    without it the ids are shown. ``base`` overrides ``config.base`` (the resolved default),
    ``dtype`` an unset ``config.dtype`` (the job resolves it from the base's weights).
    """

    def ref(model_id: str) -> str:
        if paths is None:
            return model_id
        return str(Path(paths[model_id]).absolute())

    method = config.method
    data: dict[str, Any] = {"merge_method": method}
    base_id = base or config.base
    if method == "slerp":
        first, second = config.models[0].model, config.models[1].model
        data["base_model"] = ref(first)
        data["models"] = [{"model": ref(first)}, {"model": ref(second)}]
        data["parameters"] = {"t": config.slerp_t}
    else:
        count = len(config.models)
        models = []
        for source in config.models:
            params: dict[str, float] = {
                "weight": source.weight if source.weight is not None else round(1.0 / count, 6)}
            if method in TAKES_DENSITY:
                params["density"] = source.density if source.density is not None else 0.5
            models.append({"model": ref(source.model), "parameters": params})
        if method in NEEDS_BASE:
            if base_id is None and paths is not None:
                raise ConfigError(f"{method} needs a base model; none given or found.")
            data["base_model"] = ref(base_id) if base_id else COMMON_PARENT
        data["models"] = models
        if config.normalize is not None:
            data["parameters"] = {"normalize": config.normalize}
    data["dtype"] = config.dtype or dtype or "float32"
    return yaml.safe_dump(data, sort_keys=False)
