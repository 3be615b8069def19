"""The workspace: a folder that is the source of truth for one team's models and data.

Layout::

    W/workspace.json   manifest (id, name, created, schema version)
    W/documents/       imported documents and their extracted text
    W/datasets/        versioned training datasets
    W/runs/            one folder per job (config, progress events, log, status)
    W/models/          one folder per registered model (weights + model.json record)
    W/index/           the retrieval index
    W/feedback/        analysts' feedback (preference pairs)
    W/audit.log        append-only, hash-chained audit log
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from core.clock import now_iso
from core.errors import WorkspaceError, disk_full, is_disk_full
from core.fsutil import atomic_write_json, make_private_dir, read_json, require_free_space
from core.privacy import tighten
from core.workspace.audit import AuditLog

SCHEMA_VERSION = 1
MANIFEST = "workspace.json"
SUBFOLDERS = ("documents", "datasets", "runs", "models", "index", "feedback")
MIN_FREE_BYTES = 200 << 20  # an empty workspace is small; less than this fills at import


@dataclass(frozen=True)
class Manifest:
    id: str
    name: str
    created: str
    schema_version: int

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "schema_version": self.schema_version,
            "app": "scriptorium",
        }


class Workspace:
    """An opened workspace. Cheap to construct; holds no open handles."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self.audit = AuditLog(root / "audit.log")

    # -- creation and opening -------------------------------------------------
    @classmethod
    def create(cls, root: Path | str, name: str | None = None) -> Workspace:
        """Create a new workspace at ``root`` (an empty or missing folder)."""
        root = Path(root).expanduser().absolute()
        if (root / MANIFEST).exists():
            raise WorkspaceError(f"{root} is already a workspace.", hint="open it instead")
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"{root} is a file, not a folder.")
        if root.exists() and any(root.iterdir()):
            raise WorkspaceError(
                f"{root} is not empty.", hint="choose an empty or new folder for a workspace"
            )
        existed = root.exists()
        probe = root if existed else next(p for p in root.parents if p.exists())
        require_free_space(probe, MIN_FREE_BYTES, "a new workspace")
        try:
            make_private_dir(root)
            tighten(root)  # a folder the user made for it may be open to others
            manifest = Manifest(
                id=uuid.uuid4().hex[:12],
                name=name or root.name,
                created=now_iso(),
                schema_version=SCHEMA_VERSION,
            )
            for folder in SUBFOLDERS:
                make_private_dir(root / folder)
            atomic_write_json(root / MANIFEST, manifest.to_json())
            workspace = cls(root, manifest)
            workspace.audit.record("workspace.create", name=manifest.name)
        except OSError as error:  # leave no half-made workspace behind
            _remove_partial(root, existed)
            if is_disk_full(error):
                raise disk_full(error, "creating the workspace") from error
            raise WorkspaceError(f"Could not create a workspace at {root}: {error}") from error
        return workspace

    @classmethod
    def open(cls, root: Path | str) -> Workspace:
        """Open an existing workspace, checking its manifest and schema version."""
        root = Path(root).expanduser().absolute()
        path = root / MANIFEST
        if not root.exists():
            raise WorkspaceError(f"No workspace at {root}: the folder does not exist.",
                                 hint="create one with `scriptorium init`")
        if not path.exists():
            raise WorkspaceError(f"{root} is not a Scriptorium workspace (no {MANIFEST}).",
                                 hint="create one with `scriptorium init`")
        try:
            raw = read_json(path)
            manifest = Manifest(
                id=str(raw["id"]),
                name=str(raw["name"]),
                created=str(raw["created"]),
                schema_version=int(raw["schema_version"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise WorkspaceError(f"The workspace manifest {path} is damaged: {error}.") from error
        if manifest.schema_version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{root} was written by a newer Scriptorium (schema {manifest.schema_version}, "
                f"this version reads up to {SCHEMA_VERSION}).",
                hint="upgrade Scriptorium",
            )
        for folder in SUBFOLDERS:
            make_private_dir(root / folder)
        return cls(root, manifest)

    @staticmethod
    def is_workspace(root: Path | str) -> bool:
        return (Path(root) / MANIFEST).is_file()

    # -- layout ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def documents_dir(self) -> Path:
        return self.root / "documents"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    def relative(self, path: Path) -> str:
        """A path inside the workspace as a portable relative string."""
        return Path(path).absolute().relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """The absolute path of a relative workspace path, refusing escapes."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise WorkspaceError(f"The path {relative!r} points outside the workspace.")
        return path

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, name={self.name!r})"


def _remove_partial(root: Path, existed: bool) -> None:
    """Undo a failed ``create``: the folder if it made it, else what it put in it."""
    import shutil

    if not existed:
        shutil.rmtree(root, ignore_errors=True)
        return
    (root / MANIFEST).unlink(missing_ok=True)
    for folder in SUBFOLDERS:
        shutil.rmtree(root / folder, ignore_errors=True)
