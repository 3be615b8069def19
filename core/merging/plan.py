"""What a merge will do before it runs: the models, the base, and what stops it.

``resolve_models`` finds the records and the base (given, or the models' nearest common
parent in the registry); ``plan_merge`` answers the merge wizard and ``merge --dry-run`` in
one call, without raising: the base it would use and every problem found. When one of the
chosen models is the one the others were trained from, the plan says so (``parent_chosen``):
methods that merge differences need it as the base, not as a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError, ScriptoriumError
from core.merging.compat import check_compatible
from core.merging.config import METHOD_TITLES, NEEDS_BASE, MergeConfig
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

_FULL = ("base", "merged")


def _ancestors(registry: ModelRegistry, record: ModelRecord) -> list[ModelRecord]:
    return registry.lineage(record.id)[1:]  # nearest first


def common_parent(registry: ModelRegistry, records: list[ModelRecord]) -> ModelRecord | None:
    """The nearest full model (base or merged) every record descends from, if any."""
    if not records:
        return None
    shared: set[str] | None = None
    for record in records:
        ancestors = {r.id for r in _ancestors(registry, record) if r.kind in _FULL}
        shared = ancestors if shared is None else shared & ancestors
    for candidate in _ancestors(registry, records[0]):
        if candidate.id in (shared or set()):
            return candidate
    return None


def parent_among(registry: ModelRegistry, records: list[ModelRecord]) -> ModelRecord | None:
    """A chosen full model that every other chosen model descends from (base + its
    fine-tunes), if any."""
    for candidate in records:
        others = [r for r in records if r.id != candidate.id]
        if candidate.kind in _FULL and others and all(
                candidate.id in {a.id for a in _ancestors(registry, r)} for r in others):
            return candidate
    return None


def _named(method: str) -> str:
    """"TIES", "DARE-TIES", "Task arithmetic": the method's title without its gloss."""
    return METHOD_TITLES.get(method, method).split(" (")[0]


def _parent_chosen_error(method: str, parent: ModelRecord) -> ConfigError:
    return ConfigError(
        f"{_named(method)} merges each model's difference from a base, and {parent.id} is the "
        "model the others were trained from: leave it out of the models and use it as the "
        "base.",
        hint=f"--base {parent.id}")


def resolve_models(workspace: Workspace, config: MergeConfig
                   ) -> tuple[list[ModelRecord], ModelRecord | None]:
    """The records to merge and the base (``None`` for linear and SLERP)."""
    registry = ModelRegistry(workspace)
    records = [registry.get(source.model) for source in config.models]
    if config.method not in NEEDS_BASE:
        return records, None
    if config.base:
        base = registry.get(config.base)
    else:
        found = common_parent(registry, records)
        if found is None:
            parent = parent_among(registry, records)
            if parent is not None:
                raise _parent_chosen_error(config.method, parent)
            raise ConfigError(
                f"{_named(config.method)} merges differences from a base model, and these "
                "models have no common parent in this workspace: choose the base.",
                hint="--base MODEL")
        base = found
    if base.id in {r.id for r in records}:
        raise _parent_chosen_error(config.method, base)
    return records, base


def compatibility_report(workspace: Workspace, config: MergeConfig) -> list[str]:
    """Problems that stop this merge (empty when it can run); used by ``--dry-run`` too."""
    records, base = resolve_models(workspace, config)
    return check_compatible(records + ([base] if base else []), ModelRegistry(workspace))


@dataclass(frozen=True)
class MergePlan:
    base: str | None  # the base the merge would use (None: linear, SLERP, or none found)
    problems: tuple[str, ...]  # empty: it can run
    parent_chosen: str | None = None  # a chosen model the others were trained from

    @property
    def ok(self) -> bool:
        return not self.problems


def plan_merge(workspace: Workspace, config: MergeConfig) -> MergePlan:
    """The base and every problem of ``config`` in this workspace; never raises for a user
    error (an unknown model, no base, incompatible weights are problems)."""
    registry = ModelRegistry(workspace)
    try:
        records = [registry.get(source.model) for source in config.models]
    except ScriptoriumError as error:
        return MergePlan(None, (error.message,))
    parent = parent_among(registry, records) if config.method in NEEDS_BASE else None
    parent_id = parent.id if parent else None
    try:
        records, base = resolve_models(workspace, config)
    except ScriptoriumError as error:
        return MergePlan(None, (error.message,), parent_id)
    problems = check_compatible(records + ([base] if base else []), registry)
    return MergePlan(base.id if base else None, tuple(problems), parent_id)
