"""The index's on-disk layout: LanceDB tables and the manifest that pins them.

``W/index/``::

    manifest.json     what the index holds: settings, each document's indexed version,
                      and the LanceDB table versions that hold exactly that (written
                      atomically, after the rows: the commit point)
    lancedb/          chunks_g<N> (vector + text + metadata, full-text index on content)
                      reference_rows_g<N> (reference-table rows with their fields as JSON)

Readers open each table *at the version the manifest names*, so rows written by an
update that has not committed yet (or was interrupted) are never seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.errors import ScriptoriumError
from core.fsutil import atomic_write_json, make_private_dir, read_json
from core.workspace import Workspace

MANIFEST = "manifest.json"
SCHEMA = 1
CHUNKS = "chunks"
ROWS = "reference_rows"


class RetrievalError(ScriptoriumError):
    """The retrieval index is damaged or cannot answer this request."""


class IndexNotBuilt(RetrievalError):
    """The workspace has no index yet."""


CHUNKER_VERSION = 2  # 2: pairs are not indexed; the vector embeds the nearest heading only


class IndexSettings(BaseModel):
    """What the vectors and chunks depend on; a change means a rebuild."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    embedding_model: str | None = None  # None: the bundled all-MiniLM-L6-v2
    dim: int = 0
    chunk_tokens: int = 200
    chunk_overlap: int = 30
    chunker: int = 1  # CHUNKER_VERSION when built; manifests from before the field read as 1


class IndexedDocument(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: int
    sha256: str
    title: str = ""
    kind: str = "other"
    tags: tuple[str, ...] = ()
    chunks: int = 0
    rows: int = 0


class Generation(BaseModel):
    """One pair of tables and what they hold at the pinned versions."""

    model_config = ConfigDict(frozen=True)
    number: int = 1
    settings: IndexSettings = Field(default_factory=IndexSettings)
    versions: dict[str, int] = Field(default_factory=dict)  # table kind → LanceDB version
    documents: dict[str, IndexedDocument] = Field(default_factory=dict)
    # table kind → rows its approximate (ANN) vector index was trained on; absent: none
    ann_rows: dict[str, int] = Field(default_factory=dict)

    def table(self, kind: str) -> str:
        return f"{kind}_g{self.number}"


class IndexManifest(BaseModel):
    model_config = ConfigDict(frozen=True)
    schema_version: int = SCHEMA
    active: Generation | None = None
    building: Generation | None = None  # a rebuild in progress (new settings)
    reranker_model: str | None = None
    updated: str = ""


@dataclass
class IndexPaths:
    root: Path
    manifest: Path = field(init=False)
    lancedb: Path = field(init=False)
    lock: Path = field(init=False)

    def __post_init__(self) -> None:
        self.manifest = self.root / MANIFEST
        self.lancedb = self.root / "lancedb"
        self.lock = self.root / ".lock"


def index_paths(workspace: Workspace) -> IndexPaths:
    return IndexPaths(workspace.index_dir)


def read_manifest(workspace: Workspace) -> IndexManifest:
    path = index_paths(workspace).manifest
    if not path.exists():
        return IndexManifest()
    try:
        manifest = IndexManifest.model_validate(read_json(path))
    except ValueError as error:
        raise RetrievalError(f"The index manifest {path} is damaged: {error}.",
                          hint="run `scriptorium index --rebuild`") from error
    if manifest.schema_version > SCHEMA:
        raise RetrievalError("The index was written by a newer Scriptorium.",
                          hint="upgrade Scriptorium or rebuild the index")
    return manifest


def write_manifest(workspace: Workspace, manifest: IndexManifest) -> None:
    atomic_write_json(index_paths(workspace).manifest,
                      manifest.model_copy(update={"updated": now_iso()}).model_dump(mode="json"))


def connect(workspace: Workspace) -> Any:
    import lancedb

    folder = make_private_dir(index_paths(workspace).lancedb)
    return lancedb.connect(str(folder))


def table_names(db: Any) -> set[str]:
    listing = db.list_tables()
    names = getattr(listing, "tables", listing)
    return set(names)


def open_pinned(db: Any, generation: Generation, kind: str) -> Any | None:
    """The table of ``kind`` as of the manifest's version, or None if it has none."""
    version = generation.versions.get(kind)
    if version is None or generation.table(kind) not in table_names(db):
        return None
    table = db.open_table(generation.table(kind))
    if table.version != version:
        table.checkout(version)
    return table


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def require_active(workspace: Workspace) -> Generation:
    generation = read_manifest(workspace).active
    if generation is None:
        raise IndexNotBuilt("The knowledge base has not been indexed yet.",
                            hint="run `scriptorium index` or press Re-index")
    return generation
