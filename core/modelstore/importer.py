"""Import a base model the user brings (job ``import-model``): check, store, register.

1. ``inspect_base`` checks the folder or GGUF file (headers only) and refuses what cannot
   be trained here, with the reason, before anything is copied;
2. its files go into the machine's model store (``core.modelstore.store``): copied once,
   hashed while copied, with progress and cancel; a GGUF is also de-quantised there once;
3. the workspace registers the model with hard links to the store, the check's per-stage
   support in its record (so later stages can refuse up front), and for a GGUF the file
   itself as a ready-to-run child model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ModelError
from core.fsutil import link_or_copy, read_json, require_free_space, staging_dir
from core.jobs.progress import JobContext
from core.modelstore.check import BaseCheck, inspect_base, model_files
from core.modelstore.store import MANIFEST, add_files, store_files, store_root
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry


class ImportModelConfig(BaseModel):
    """Config of the ``import-model`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str = Field(min_length=1, description="a Hugging Face model folder or a .gguf file")
    model_id: str | None = Field(default=None, description="registry id (default: from the "
                                 "folder or file name)")
    name: str | None = Field(default=None, description="display name")


def default_id(path: Path) -> str:
    stem = path.stem if path.is_file() else path.name
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60] or "imported-model"


def support_config(check: BaseCheck) -> dict[str, Any]:
    return {s.stage: {"ok": s.ok, "detail": s.detail} for s in check.support}


def _register(registry: ModelRegistry, model_id: str, files: list[Path],
              record: ModelRecord) -> None:
    """Link the store's files into the workspace; their checksums are the store manifest's
    (computed while they were copied) when the folder has one."""
    manifest = files[0].parent / MANIFEST if files else None
    known = dict(read_json(manifest)) if manifest and manifest.exists() else {}
    with registry.create(model_id, lambda folder: record, known=known) as folder:
        for source in files:
            link_or_copy(source, folder / source.name)


class _Progress:
    """Weighted steps of an import on one 0–1000 scale."""

    def __init__(self, ctx: JobContext | None, weights: dict[str, int]) -> None:
        self.ctx, self.weights, self.base = ctx, weights, 0

    def part(self, name: str, fraction: float, message: str) -> None:
        if self.ctx is not None:
            self.ctx.check_cancelled()
            done = self.base + int(self.weights[name] * min(1.0, fraction))
            self.ctx.report(done, 1000, message, force=fraction == 0)

    def next(self, name: str) -> None:
        self.base += self.weights[name]


def _dequantised(gguf_store: Path, gguf: Path, progress: _Progress) -> Path:
    """The store's float32 folder made from the stored GGUF (made once)."""
    from core.models.dequantise import dequantise_gguf

    folder = gguf_store.with_name(gguf_store.name + "-float32")
    if (folder / "config.json").exists():
        return folder
    stored = gguf_store / gguf.name
    parameters = inspect_header_parameters(stored)
    require_free_space(store_root(), parameters * 4 + (256 << 20), "de-quantising the model")
    words = {"tokenizer": "reading the tokenizer", "weights": "de-quantising the weights",
             "save": "saving as safetensors"}
    share = {"tokenizer": 0.1, "weights": 0.3, "save": 0.8}
    with staging_dir(folder) as staging:
        dequantise_gguf(stored, staging, name=gguf.stem,
                        step=lambda s: progress.part("dequantise", share[s], words[s]))
    return folder


def inspect_header_parameters(path: Path) -> int:
    from core.models.gguf_header import read_header

    return read_header(path).parameters


def _check(path: Path, progress: _Progress) -> BaseCheck:
    progress.part("check", 0, f"checking {path.name}")
    check = inspect_base(path)
    if not check.ok:
        raise ModelError(f"{path.name} cannot be imported: " + " ".join(check.refusals),
                         hint="see `scriptorium models check PATH` for every check")
    progress.next("check")
    return check


def import_model(workspace: Workspace, config: ImportModelConfig,
                 ctx: JobContext | None = None) -> dict[str, Any]:
    """Import ``config.path`` into the model store and ``workspace``; returns the ids."""
    path = Path(config.path).expanduser().absolute()
    registry = ModelRegistry(workspace)
    model_id = config.model_id or default_id(path)
    gguf_id = f"{model_id}-gguf"
    taken = [i for i in (model_id, gguf_id if path.suffix.lower() == ".gguf" else None)
             if i and registry.exists(i)]
    if taken:
        raise ModelError(f"This workspace already has a model {taken[0]!r}.",
                         hint="choose another id with --id")
    is_gguf = path.is_file()
    progress = _Progress(ctx, {"check": 20, "copy": 280 if is_gguf else 880,
                               "dequantise": 600 if is_gguf else 0, "register": 100})
    check = _check(path, progress)
    files = [path] if is_gguf else model_files(path)
    folder = add_files(files, progress=lambda done, total, name: progress.part(
        "copy", done / max(1, total), f"copying {name} into the model store"),
        check=ctx.check_cancelled if ctx else lambda: None)
    progress.next("copy")
    name = config.name or path.name
    result = {"model_id": model_id, "store": str(folder), "check": check.lines()}
    if is_gguf:
        gguf_store = folder
        folder = _dequantised(gguf_store, path, progress)
        progress.next("dequantise")
        trainable = inspect_base(folder)  # the de-quantised copy, checked as a folder
        support = support_config(trainable)
    else:
        trainable, support = check, support_config(check)
    progress.part("register", 0, "registering in the workspace")
    record = ModelRecord(
        id=model_id, name=name, kind="base", architecture=trainable.architecture,
        model_type=trainable.model_type, parameters=trainable.parameters,
        format="safetensors",
        config={"source": "imported", "store": folder.name, "dtype": trainable.dtype,
                "support": support, "licence": check.licence,
                "chat_template": trainable.chat_template},
        source=f"imported from {path}")
    _register(registry, model_id, store_files(folder), record)
    if is_gguf:
        gguf_record = ModelRecord(
            id=gguf_id, name=f"{name} (GGUF)", kind="gguf", architecture=check.architecture,
            model_type=check.model_type, parameters=check.parameters, format="gguf",
            parents=(model_id,), config={"source": "imported", "quantization": check.dtype,
                                         "store": gguf_store.name},
            source=f"imported from {path}")
        _register(registry, gguf_id, [gguf_store / path.name], gguf_record)
        result["gguf_id"] = gguf_id
    progress.part("register", 1.0, "imported")
    return result


def run_import_model_job(config: ImportModelConfig, ctx: JobContext) -> dict[str, Any]:
    return import_model(ctx.workspace(), config, ctx)

