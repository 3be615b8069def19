"""The model registry: every model in a workspace with its lineage.

Each model lives in ``models/<id>/`` with a ``model.json`` record written last, so a
folder without a record (a crash mid-write) is never listed as a model.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.clock import now_iso
from core.errors import ModelError
from core.fsutil import atomic_write_json, read_json, sha256_file, staging_dir
from core.workspace.workspace import Workspace

RECORD = "model.json"
ModelKind = Literal["base", "adapter", "merged", "gguf"]
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


class DocumentRef(BaseModel):
    """One document version a model was trained on."""

    model_config = ConfigDict(frozen=True)
    document_id: str
    version: int = 1
    sha256: str = ""


class ModelRecord(BaseModel):
    """What the registry knows about one model."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    id: str
    name: str
    kind: ModelKind
    architecture: str
    model_type: str = ""
    parameters: int = 0
    format: Literal["safetensors", "peft", "gguf"] = "safetensors"
    parents: tuple[str, ...] = ()
    config: dict[str, Any] = Field(default_factory=dict)
    documents: tuple[DocumentRef, ...] = ()
    datasets: tuple[str, ...] = ()
    metrics: dict[str, float] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    size_bytes: int = 0
    created: str = ""
    source: str = ""

    def describe(self) -> str:
        millions = self.parameters / 1e6
        return f"{self.id} ({self.kind}, {self.architecture}, {millions:.0f}M params)"


def _staging(folder: Path) -> bool:
    """A ``staging_dir`` folder (``.<id>.*.partial``): never a model, even with a record."""
    return folder.name.startswith(".")


def new_model_id(prefix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")[:40] or "model"
    return f"{slug}-{uuid.uuid4().hex[:6]}"


class ModelRegistry:
    """Reads and writes model records in ``W/models``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.models_dir

    # -- reading ---------------------------------------------------------------
    def list(self) -> list[ModelRecord]:
        records = []
        for record_path in sorted(self.root.glob(f"*/{RECORD}")):
            if _staging(record_path.parent):
                continue  # ``create`` was interrupted before its final rename
            try:
                records.append(ModelRecord.model_validate(read_json(record_path)))
            except (ValueError, ValidationError):
                continue  # a damaged record is reported by verify(), not fatal to listing
        return sorted(records, key=lambda r: (r.created, r.id))

    def get(self, model_id: str) -> ModelRecord:
        path = self.root / model_id / RECORD
        if not _ID.match(model_id) or not path.exists():
            known = ", ".join(r.id for r in self.list()) or "none yet"
            raise ModelError(f"No model {model_id!r} in this workspace (models: {known}).")
        try:
            return ModelRecord.model_validate(read_json(path))
        except (ValueError, ValidationError) as error:
            raise ModelError(f"The record of model {model_id!r} is damaged: {error}") from error

    def exists(self, model_id: str) -> bool:
        return bool(_ID.match(model_id)) and (self.root / model_id / RECORD).exists()

    def path_of(self, record: ModelRecord) -> Path:
        return self.root / record.id

    def lineage(self, model_id: str) -> list[ModelRecord]:
        """The model and all its ancestors, nearest first (a DAG walked breadth-first)."""
        seen: dict[str, ModelRecord] = {}
        queue = [model_id]
        while queue:
            current = queue.pop(0)
            if current in seen or not self.exists(current):
                continue
            record = self.get(current)
            seen[current] = record
            queue.extend(record.parents)
        return list(seen.values())

    def children(self, model_id: str) -> list[ModelRecord]:
        return [r for r in self.list() if model_id in r.parents]

    # -- writing ---------------------------------------------------------------
    @contextmanager
    def create(
        self, model_id: str, build_record: Callable[[Path], ModelRecord],
        known: Mapping[str, str] | None = None,
    ) -> Iterator[Path]:
        """Stage a new model folder; on success checksum its files and register it.

        The caller writes artefacts into the yielded folder; ``build_record`` is then
        called with that folder to produce the record (files and size are filled in).
        ``known``: SHA-256 of files the caller has just hashed (a model store's manifest),
        not read again.
        """
        if not _ID.match(model_id):
            raise ModelError(f"{model_id!r} is not a valid model id (lower-case, digits, -._).")
        if self.exists(model_id):
            raise ModelError(f"A model {model_id!r} already exists in this workspace.")
        with staging_dir(self.root / model_id) as folder:
            yield folder
            record = build_record(folder)
            known = known or {}
            files = {
                name: known.get(name) or sha256_file(p)
                for p in sorted(folder.rglob("*"))
                if p.is_file() and (name := p.relative_to(folder).as_posix())
            }
            size = sum((folder / name).stat().st_size for name in files)
            record = record.model_copy(
                update={
                    "id": model_id,
                    "files": files,
                    "size_bytes": size,
                    "created": record.created or now_iso(),
                }
            )
            atomic_write_json(folder / RECORD, record.model_dump(mode="json"))
        self.workspace.audit.record(
            "model.register", id=model_id, kind=record.kind, parents=list(record.parents)
        )

    def update_metrics(self, model_id: str, metrics: dict[str, float]) -> ModelRecord:
        record = self.get(model_id)
        updated = record.model_copy(update={"metrics": {**record.metrics, **metrics}})
        atomic_write_json(self.root / model_id / RECORD, updated.model_dump(mode="json"))
        return updated

    def remove(self, model_id: str, *, force: bool = False) -> None:
        """Delete a model; refuses when other models descend from it unless ``force``."""
        record = self.get(model_id)
        children = self.children(model_id)
        if children and not force:
            names = ", ".join(c.id for c in children)
            raise ModelError(f"Model {model_id!r} has descendants ({names}); remove them first.")
        folder = self.root / record.id
        (folder / RECORD).unlink()  # unregister first: a crash leaves an orphan, not a ghost
        shutil.rmtree(folder, ignore_errors=True)
        self.workspace.audit.record("model.remove", id=model_id)

    def verify(self, model_id: str) -> list[str]:
        """Re-hash a model's files; returns the names of missing or altered files."""
        record = self.get(model_id)
        folder = self.root / record.id
        bad = []
        for name, digest in record.files.items():
            path = folder / name
            if not path.exists() or sha256_file(path) != digest:
                bad.append(name)
        return bad

    def orphans(self) -> list[Path]:
        """Folders under models/ that are not models: without a record, or a staging
        folder of an interrupted ``create`` (which may hold a record already)."""
        return [
            p for p in self.root.iterdir()
            if p.is_dir() and (_staging(p) or not (p / RECORD).exists())
        ]
