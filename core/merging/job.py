"""The ``merge`` job: resolve, check, merge with mergekit, verify, register.

1. resolve the models (and the base: given, or the models' common parent in the registry);
2. refuse incompatible models with a message that names what differs;
3. merge adapters into their base (scratch folder in the run), check free disk;
4. run mergekit on absolute paths, a progress step and cancel point per tensor;
5. check the result has no NaN/inf, write ``merge.yaml`` and ``mergekit.yaml`` beside it and
   register it as kind ``merged`` with the source models as parents.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.fsutil import atomic_write_text, require_free_space
from core.jobs.progress import JobContext
from core.merging.compat import base_of_adapter, check_compatible, explain
from core.merging.config import METHOD_TITLES, MergeConfig, merge_yaml
from core.merging.engine import run_mergekit
from core.merging.fold import stored_dtype
from core.merging.plan import resolve_models
from core.merging.sources import full_model_folder
from core.models.info import hf_model_facts
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry, new_model_id

MERGE_YAML = "merge.yaml"
MERGEKIT_YAML = "mergekit.yaml"
# Share of the progress bar per phase (measured on the 270M model: merging dominates).
_PHASES = {"prepare": (0.0, 0.08), "load": (0.08, 0.02), "plan": (0.10, 0.02),
           "merge": (0.12, 0.78), "save": (0.90, 0.02), "verify": (0.92, 0.08)}
_TOTAL = 1000
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_CHECK_CHUNK = 1 << 24


class _Progress:
    def __init__(self, ctx: JobContext | None) -> None:
        self.ctx = ctx

    def __call__(self, phase: str, step: int, total: int, message: str) -> None:
        if not self.ctx:
            return
        self.ctx.check_cancelled()
        start, width = _PHASES[phase]
        fraction = start + width * (step / total if total else 0.0)
        self.ctx.report(int(fraction * _TOTAL), _TOTAL, message, force=step == 0)


def verify_finite(folder: Path) -> int:
    """Raise if any merged tensor holds NaN or infinity; returns the tensor count."""
    import torch
    from safetensors import safe_open

    count = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            names = list(handle.keys())
        for name in names:
            # one tensor at a time, its file mapping closed after it (a handle kept open
            # keeps every page read so far in memory)
            with safe_open(str(path), framework="pt") as handle:
                values = handle.get_tensor(name).reshape(-1)
            if values.is_floating_point() and not all(
                    bool(torch.isfinite(values[start:start + _CHECK_CHUNK]).all())
                    for start in range(0, values.numel(), _CHECK_CHUNK)):
                raise ModelError(f"The merge produced NaN or infinite values in {name}; "
                                 "try other weights or densities.")
            del values
            count += 1
    return count


def merge_models(workspace: Workspace, config: MergeConfig,
                 ctx: JobContext | None = None, scratch: Path | None = None) -> dict[str, Any]:
    """Run one merge end to end; returns the new model's id and facts."""
    registry = ModelRegistry(workspace)
    progress = _Progress(ctx)
    progress("prepare", 0, 1, "checking the models")
    records, base = resolve_models(workspace, config)
    everything = records + ([base] if base else [])
    problems = check_compatible(everything, registry)
    if problems:
        raise ModelError(explain(problems))
    largest = max(r.parameters for r in everything) or 1
    adapters = sum(1 for r in everything if r.kind == "adapter")
    dtype = config.dtype or merge_dtype(registry, base or records[0])
    require_free_space(workspace.models_dir,
                       largest * _BYTES[dtype] * (1 + adapters) + (64 << 20), "the merged model")
    model_id = config.model_id or new_model_id(config.name or f"merge-{config.method}")
    scratch = Path(scratch or (ctx.job_dir / "scratch" if ctx else workspace.root / "tmp-merge"))
    try:
        paths = {}
        count = len(everything)
        for index, record in enumerate(everything):
            if record.kind == "adapter":
                progress("prepare", index, count, f"folding adapter {record.id} into its base")

            def folded(done: int, total: int, index: int = index, record: ModelRecord = record,
                       ) -> None:
                progress("prepare", index * total + done, count * total,
                         f"folding adapter {record.id}: tensor {done} of {total}")

            paths[record.id] = full_model_folder(registry, record, scratch, dtype,
                                                 for_merge=True, report=folded)
        text = merge_yaml(config, paths, base=base.id if base else None, dtype=dtype)
        name = config.name or f"{METHOD_TITLES[config.method].split(' (')[0]} merge of " + \
            " + ".join(r.id for r in records)
        parents = tuple(r.id for r in records) + ((base.id,) if base else ())
        result: dict[str, Any] = {}

        def build(folder: Path) -> ModelRecord:
            facts = hf_model_facts(folder)
            return ModelRecord(
                id=model_id, name=name, kind="merged", architecture=facts.architecture,
                model_type=facts.model_type, parameters=facts.parameters,
                format="safetensors", parents=parents,
                config={**config.to_yaml_dict(), "base": base.id if base else None,
                        "run": ctx.job_dir.name if ctx else None},
                metrics={"tensors": float(result["tensors"])},
                source=f"mergekit {config.method} merge",
            )

        with registry.create(model_id, build) as folder:
            result["tensors"] = run_mergekit(text, folder, seed=config.seed, report=progress)
            progress("verify", 0, 1, "checking the merged weights")
            verify_finite(folder)
            atomic_write_text(folder / MERGE_YAML, _our_yaml(config, base))
            atomic_write_text(folder / MERGEKIT_YAML, text)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if ctx:
        ctx.report(_TOTAL, _TOTAL, f"registered {model_id}", force=True)
    return {"model_id": model_id, "parents": list(parents), "method": config.method,
            "base": base.id if base else None, "tensors": result["tensors"]}


def merge_dtype(registry: ModelRegistry, record: ModelRecord) -> str:
    """The dtype the merge follows unless asked: how the base's weights are stored."""
    if record.kind == "adapter":
        record = base_of_adapter(registry, record)
    return stored_dtype(registry.path_of(record))


def _our_yaml(config: MergeConfig, base: ModelRecord | None) -> str:
    import yaml

    data = config.to_yaml_dict()
    if base and not config.base:
        data["base"] = base.id
    return yaml.safe_dump(data, sort_keys=False)


def run_merge_job(config: MergeConfig, ctx: JobContext) -> dict[str, Any]:
    """Job kind ``merge``."""
    return merge_models(ctx.workspace(), config, ctx)
