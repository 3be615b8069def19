"""Releases: which GGUF model is deployed in a workspace, numbered, with rollback.

``W/releases.json`` holds every release ever promoted (version, model, when, notes, the
regression gate's verdict and any logged override) and the version deployed now. A
rollback deploys an earlier release again; the history is never rewritten. The drafting
runtime uses the deployed release unless the user picks another model. The book is
workspace data, like the model registry; ``core.adaptation.lineage`` walks a release's
lineage down to its documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.clock import now_iso
from core.errors import ModelError, ScriptoriumError
from core.fsutil import atomic_write_json, read_json
from core.workspace import Workspace
from core.workspace.locking import file_lock
from core.workspace.registry import ModelRecord, ModelRegistry

RELEASES = "releases.json"


class ReleaseError(ScriptoriumError):
    """A release cannot be promoted or rolled back as asked."""


class Release(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: int
    model_id: str
    promoted: str
    notes: str = ""
    gate: dict[str, Any] = Field(default_factory=dict)
    override: str | None = None  # why a blocked gate was overridden


class ReleaseBook(BaseModel):
    model_config = ConfigDict(frozen=True)
    releases: tuple[Release, ...] = ()
    deployed: int | None = None

    def get(self, version: int) -> Release:
        for release in self.releases:
            if release.version == version:
                return release
        known = ", ".join(str(r.version) for r in self.releases) or "none yet"
        raise ReleaseError(f"No release {version} (releases: {known}).")

    @property
    def current(self) -> Release | None:
        return None if self.deployed is None else self.get(self.deployed)


def _path(workspace: Workspace) -> Path:
    return workspace.root / RELEASES


def read_releases(workspace: Workspace) -> ReleaseBook:
    path = _path(workspace)
    if not path.exists():
        return ReleaseBook()
    try:
        return ReleaseBook.model_validate(read_json(path))
    except (ValueError, ValidationError) as error:
        raise ReleaseError(f"{path} is damaged: {error}",
                           hint="restore it from a backup; the models themselves are intact"
                           ) from error


def read_releases_quietly(workspace: Workspace) -> ReleaseBook | None:
    """The release book, or ``None`` when it is damaged (callers fall back to defaults)."""
    try:
        return read_releases(workspace)
    except ReleaseError:
        return None


def _write(workspace: Workspace, book: ReleaseBook) -> None:
    atomic_write_json(_path(workspace), book.model_dump(mode="json"))


def deployed_model_id(workspace: Workspace) -> str | None:
    """The model of the deployed release, if one is deployed and still registered."""
    book = read_releases_quietly(workspace)
    current = book.current if book else None
    if current is None or not ModelRegistry(workspace).exists(current.model_id):
        return None
    return current.model_id


def release_notes(workspace: Workspace, model_id: str) -> str:
    """Notes from the model's lineage: each ancestor's recipe, data and metrics."""
    lines = []
    for record in ModelRegistry(workspace).lineage(model_id):
        lines.append(f"- {describe(record)}")
    return "\n".join(lines)


def describe(record: ModelRecord) -> str:
    """One line about a model: kind, recipe, quantization, datasets, headline metrics."""
    parts = [f"{record.id} ({record.kind})"]
    recipe = record.config.get("recipe") or record.config.get("method")
    if recipe:
        parts.append(f"recipe {recipe}")
    quant = record.config.get("quant") or record.config.get("label")
    if record.kind == "gguf" and quant:
        parts.append(f"quantization {quant}")
    if record.datasets:
        parts.append("datasets " + ", ".join(record.datasets))
    if record.documents:
        parts.append(f"{len(record.documents)} document versions")
    shown = {k: v for k, v in record.metrics.items()
             if k in ("perplexity_before", "perplexity_after", "perplexity", "perplexity_ratio",
                      "train_loss")}
    if shown:
        parts.append(", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())))
    return "; ".join(parts)


def promote(workspace: Workspace, model_id: str, *, notes: str | None = None,
            gate: dict[str, Any] | None = None, override: str | None = None) -> Release:
    """Deploy ``model_id`` (a registered GGUF) as a new release.

    A gate verdict that blocks promotion (``gate["passed"] is False``) needs an
    ``override`` reason, which is kept with the release and in the audit log.
    """
    registry = ModelRegistry(workspace)
    record = registry.get(model_id)
    if record.kind != "gguf":
        raise ReleaseError(f"Model {model_id!r} is a {record.kind} model; a release is a GGUF "
                           "model the drafting pane can run.", hint="export it to GGUF first")
    if registry.verify(model_id):
        raise ModelError(f"The files of model {model_id!r} do not match their checksums; "
                         "it cannot be released.")
    if gate is not None and gate.get("passed") is False and not (override or "").strip():
        raise ReleaseError(f"The regression gate blocked {model_id!r}: "
                           f"{gate.get('reason', 'it is worse than the deployed model')}.",
                           hint="pass an override reason to promote it anyway (it is logged)")
    with file_lock(workspace.root / (RELEASES + ".lock")):
        book = read_releases(workspace)
        version = max((r.version for r in book.releases), default=0) + 1
        release = Release(
            version=version, model_id=model_id,
            promoted=now_iso(),
            notes=notes if notes is not None else release_notes(workspace, model_id),
            gate=gate or {}, override=(override or "").strip() or None)
        _write(workspace, ReleaseBook(releases=(*book.releases, release), deployed=version))
    workspace.audit.record("release.promote", version=version, model=model_id,
                           gate=(gate or {}).get("passed"), override=release.override)
    return release


def rollback(workspace: Workspace, version: int | None = None) -> Release:
    """Deploy an earlier release again: ``version``, or the one before the deployed one."""
    with file_lock(workspace.root / (RELEASES + ".lock")):
        book = read_releases(workspace)
        if book.deployed is None:
            raise ReleaseError("No release is deployed yet, so there is nothing to roll back.")
        if version is None:
            earlier = [r.version for r in book.releases if r.version < book.deployed]
            if not earlier:
                raise ReleaseError(f"Release {book.deployed} is the first; there is no earlier "
                                   "release to roll back to.")
            version = max(earlier)
        target = book.get(version)
        if version == book.deployed:
            raise ReleaseError(f"Release {version} is already deployed.")
        if not ModelRegistry(workspace).exists(target.model_id):
            raise ReleaseError(f"Release {version}'s model {target.model_id!r} has been removed "
                               "from the workspace; it cannot be deployed again.")
        previous = book.deployed
        _write(workspace, book.model_copy(update={"deployed": version}))
    workspace.audit.record("release.rollback", to=version, model=target.model_id,
                           previous=previous)
    return target
