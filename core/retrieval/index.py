"""Building and updating the knowledge base index (job kind ``index-documents``).

``update_index`` brings the index in line with the document store, touching only what
changed: new documents are added, a document with a new version (or new kind, tags or
title) has its rows replaced, a removed document's rows are deleted. Work is done in
batches; each batch writes its new rows, deletes the old ones, then commits by writing
the manifest with the new table versions. Readers see only committed versions, so an
interrupted update leaves the previous index fully usable, and a re-run starts from the
last commit (rolling back anything written after it) and finishes the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.fsutil import require_free_space
from core.ingest.model import DocumentRecord
from core.ingest.store import DocumentStore
from core.jobs.progress import JobContext
from core.memory import release_freed_memory
from core.retrieval import ann
from core.retrieval.ann import ensure_vector_index
from core.retrieval.chunking import Chunk, ChunkingOptions, chunk_document
from core.retrieval.embedder import Embedder, load_embedder, resolve_model_path
from core.retrieval.store import (
    CHUNKER_VERSION,
    CHUNKS,
    ROWS,
    Generation,
    IndexedDocument,
    IndexManifest,
    IndexSettings,
    connect,
    index_paths,
    read_manifest,
    sql_quote,
    table_names,
    write_manifest,
)
from core.workspace import Workspace
from core.workspace.locking import file_lock

BATCH_CHUNKS = 512
BATCH_DOCUMENTS = 32
# A document is indexed up to this many passages (about 1,500 pages of prose: a real RFP
# or proposal is far shorter), so that one pathological file (a 50 MB data dump on one
# line) indexes in minutes, not hours; the rest of it is named in the job's log.
MAX_PASSAGES = 5000
KEEP_OLD_VERSIONS = timedelta(hours=1)


class IndexDocumentsConfig(BaseModel):
    """Config of the ``index-documents`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    embedding_model: str | None = Field(
        default=None, description="local sentence-transformers folder (default: bundled)")
    reranker_model: str | None = Field(
        default=None, description="local cross-encoder folder used to re-rank results")
    chunk_tokens: int = Field(default=200, ge=32, le=512)
    chunk_overlap: int = Field(default=30, ge=0, le=128)
    rebuild: bool = Field(default=False, description="re-index every document from scratch")


def _schema(kind: str, dim: int) -> Any:
    import pyarrow as pa

    common = [
        pa.field("doc_id", pa.string()), pa.field("version", pa.int32()),
        pa.field("title", pa.string()), pa.field("kind", pa.string()),
        pa.field("tags", pa.string()), pa.field("imported", pa.string()),
        pa.field("section", pa.list_(pa.string())), pa.field("page", pa.int32()),
        pa.field("block_start", pa.int32()), pa.field("block_end", pa.int32()),
        pa.field("text", pa.string()),
    ]
    vector = pa.field("vector", pa.list_(pa.float32(), dim))
    if kind == CHUNKS:
        return pa.schema([pa.field("chunk_id", pa.string()), *common,
                          pa.field("block_kind", pa.string()), pa.field("content", pa.string()),
                          vector])
    return pa.schema([pa.field("row_id", pa.string()), *common,
                      pa.field("fields_json", pa.string()), pa.field("match_text", pa.string()),
                      vector])


def encode_tags(tags: Sequence[str]) -> str:
    """Tags as ``|a|b|`` so that a filter is ``tags LIKE '%|a|%'``."""
    return "|" + "|".join(tags) + "|" if tags else ""


def _chunk_row(chunk: Chunk, vector: np.ndarray) -> dict[str, Any]:
    return {
        "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "version": chunk.version,
        "title": chunk.title, "kind": chunk.kind, "tags": encode_tags(chunk.tags),
        "imported": chunk.imported, "section": list(chunk.section), "page": chunk.page,
        "block_start": chunk.block_start, "block_end": chunk.block_end, "text": chunk.text,
        "block_kind": chunk.block_kind, "content": chunk.content, "vector": vector.tolist(),
    }


def _reference_row(chunk: Chunk, vector: np.ndarray) -> dict[str, Any]:
    values = [v for v in chunk.fields.values() if v]
    return {
        "row_id": chunk.chunk_id, "doc_id": chunk.doc_id, "version": chunk.version,
        "title": chunk.title, "kind": chunk.kind, "tags": encode_tags(chunk.tags),
        "imported": chunk.imported, "section": list(chunk.section), "page": chunk.page,
        "block_start": chunk.block_start, "block_end": chunk.block_end, "text": chunk.text,
        "fields_json": json.dumps(chunk.fields, ensure_ascii=False),
        "match_text": "\n".join(v.lower() for v in values), "vector": vector.tolist(),
    }


def _entry(record: DocumentRecord, chunks: int = 0, rows: int = 0) -> IndexedDocument:
    latest = record.latest
    return IndexedDocument(version=latest.version, sha256=latest.sha256, title=record.title,
                           kind=record.kind, tags=record.tags, chunks=chunks, rows=rows)


def _same(indexed: IndexedDocument, current: IndexedDocument) -> bool:
    keys = ("version", "sha256", "title", "kind", "tags")
    return all(getattr(indexed, key) == getattr(current, key) for key in keys)


@dataclass
class _Plan:
    generation: Generation
    rebuilding: bool
    changed: list[DocumentRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


def _plan(manifest: IndexManifest, settings: IndexSettings, records: list[DocumentRecord],
          rebuild: bool) -> _Plan:
    active = manifest.active
    building = manifest.building
    if building is not None and building.settings == settings and (
            rebuild or active is None or active.settings != settings):
        generation, rebuilding = building, True  # resume the interrupted rebuild
    elif active is not None and active.settings == settings and not rebuild:
        generation, rebuilding = active, False
    else:
        number = max(g.number for g in (active, building, Generation(number=0)) if g) + 1
        # A first build commits straight into the active index, so that what is done is
        # searchable; a rebuild is built aside and swapped in when complete.
        generation = Generation(number=number, settings=settings)
        rebuilding = active is not None
    plan = _Plan(generation, rebuilding)
    live = {record.id: record for record in records}
    for record in records:
        entry = generation.documents.get(record.id)
        if entry is not None and _same(entry, _entry(record)):
            plan.unchanged += 1
        else:
            plan.changed.append(record)
    plan.removed = sorted(doc for doc in generation.documents if doc not in live)
    return plan


class _Tables:
    """The generation's two tables at their head, rolled back to the last commit."""

    def __init__(self, db: Any, generation: Generation, dim: int) -> None:
        self.db = db
        self.generation = generation
        existing = table_names(db)
        self.tables: dict[str, Any] = {}
        for kind in (CHUNKS, ROWS):
            name = generation.table(kind)
            pinned = generation.versions.get(kind)
            if name in existing and pinned is not None:
                table = db.open_table(name)
                if table.version != pinned:
                    table.checkout(pinned)
                    table.restore()
            else:
                if name in existing:
                    db.drop_table(name)
                from lancedb.index import FTS

                table = db.create_table(name, schema=_schema(kind, dim))
                table.create_index("content" if kind == CHUNKS else "text", config=FTS())
            self.tables[kind] = table

    def versions(self) -> dict[str, int]:
        return {kind: table.version for kind, table in self.tables.items()}

    def write(self, records: list[DocumentRecord], chunks: list[Chunk], vectors: np.ndarray,
              removed: Sequence[str]) -> None:
        new = " OR ".join(f"(doc_id = {sql_quote(r.id)} AND version = {r.latest.version})"
                          for r in records)
        old = " OR ".join(f"(doc_id = {sql_quote(r.id)} AND version != {r.latest.version})"
                          for r in records)
        gone = f"doc_id IN ({', '.join(sql_quote(d) for d in removed)})" if removed else ""
        chunk_rows = [_chunk_row(c, v) for c, v in zip(chunks, vectors)]
        ref_rows = [_reference_row(c, v) for c, v in zip(chunks, vectors)
                    if c.kind == "reference" and c.block_kind == "table_row"]
        for kind, rows in ((CHUNKS, chunk_rows), (ROWS, ref_rows)):
            table = self.tables[kind]
            if new:
                table.delete(new)  # left over from an interrupted run: written again below
            if rows:
                table.add(rows)
            stale = " OR ".join(part for part in (old, gone) if part)
            if stale:
                table.delete(stale)

    def optimize(self) -> None:
        """Compact the tables and fold new rows into their indexes."""
        for table in self.tables.values():
            table.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)

    def index_vectors(self, ctx: JobContext | None) -> dict[str, int]:
        """Train each table's ANN index where it now pays (``core.retrieval.ann``);
        returns the rows each index is trained on."""
        trained = dict(self.generation.ann_rows)
        for kind, table in self.tables.items():
            if ctx:
                ctx.check_cancelled()
            rows = ensure_vector_index(table, trained.get(kind, 0), min_rows=ann.ANN_MIN_ROWS,
                                       log=ctx.log if ctx else None)
            if rows:
                trained[kind] = rows
            else:
                trained.pop(kind, None)
        return trained


def index_settings(config: IndexDocumentsConfig, embedder: Embedder) -> IndexSettings:
    model = None if config.embedding_model in (None, "") else str(
        resolve_model_path(config.embedding_model))
    return IndexSettings(embedding_model=model, dim=embedder.dim,
                         chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap,
                         chunker=CHUNKER_VERSION)


def update_index(
    workspace: Workspace, config: IndexDocumentsConfig | None = None,
    ctx: JobContext | None = None, *, embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Bring the index in line with the document store; returns what changed."""
    config = config or IndexDocumentsConfig()
    embedder = embedder or load_embedder(config.embedding_model)
    settings = index_settings(config, embedder)
    options = ChunkingOptions(config.chunk_tokens, config.chunk_overlap)
    with file_lock(index_paths(workspace).lock):
        manifest = read_manifest(workspace)
        store = DocumentStore(workspace)
        plan = _plan(manifest, settings, store.list(), config.rebuild)
        require_free_space(workspace.index_dir, _space_needed(plan.changed), "indexing")
        db = connect(workspace)
        if (stale := manifest.building) and stale.number != plan.generation.number:
            _drop_tables(db, stale)  # an abandoned rebuild with other settings
            manifest = manifest.model_copy(update={"building": None})
        tables = _Tables(db, plan.generation, embedder.dim)
        generation = plan.generation.model_copy(update={"versions": tables.versions()})
        total = len(plan.changed) + (1 if plan.removed else 0)
        if ctx:
            ctx.log(f"{len(plan.changed)} document(s) to index, "
                    f"{len(plan.removed)} to remove, {plan.unchanged} unchanged")
            ctx.report(0, total, "starting", force=True)

        def commit(gen: Generation) -> None:
            nonlocal manifest
            where = "building" if plan.rebuilding else "active"
            manifest = manifest.model_copy(
                update={where: gen, "reranker_model": config.reranker_model})
            write_manifest(workspace, manifest)

        batch: list[tuple[DocumentRecord, list[Chunk]]] = []
        truncated: list[str] = []
        done = 0

        def flush(removed: Sequence[str] = ()) -> None:
            nonlocal generation, batch
            chunks = [c for _, cs in batch for c in cs]
            vectors = embedder.embed([c.embedding_text for c in chunks], bulk=True,
                                     progress=_embedding_progress(ctx, done, total, batch))
            release_freed_memory()  # the model's working memory, before LanceDB's
            tables.write([r for r, _ in batch], chunks, vectors, removed)
            documents = {k: v for k, v in generation.documents.items() if k not in removed}
            for record, cs in batch:
                rows = sum(1 for c in cs if c.kind == "reference" and c.block_kind == "table_row")
                documents[record.id] = _entry(record, len(cs), rows)
            generation = generation.model_copy(
                update={"documents": documents, "versions": tables.versions()})
            commit(generation)
            batch = []

        for record in plan.changed:
            if ctx:
                ctx.check_cancelled()
            chunks = _passages(record, store, options, embedder, ctx)
            if len(chunks) == MAX_PASSAGES:
                truncated.append(record.id)
            batch.append((record, chunks))
            if sum(len(cs) for _, cs in batch) >= BATCH_CHUNKS or len(batch) >= BATCH_DOCUMENTS:
                flush()
            done += 1
            if ctx:
                ctx.report(done, total, f"{record.title}: {len(chunks)} chunks")
        if batch or plan.removed:
            flush(plan.removed)
        if plan.changed or plan.removed:
            tables.optimize()  # then record the optimized versions
            if ctx:
                ctx.report(total, total, "updating the search index", force=True)
            generation = generation.model_copy(update={"ann_rows": tables.index_vectors(ctx)})
        generation = generation.model_copy(update={"versions": tables.versions()})
        commit(generation)
        if plan.rebuilding:
            old = manifest.active
            manifest = manifest.model_copy(update={"active": generation, "building": None})
            write_manifest(workspace, manifest)
            if old is not None and old.number != generation.number:
                _drop_tables(db, old)
        if ctx:
            ctx.report(total, total, "index up to date", force=True)
        return {**_summary(plan, generation), "truncated": truncated}


def _space_needed(records: Sequence[DocumentRecord]) -> int:
    """A generous guess at what indexing ``records`` writes: each passage's text twice
    (shown and full-text indexed), its vector and the full-text index, about five bytes a
    character, with a margin for LanceDB's compaction."""
    characters = sum(min(r.latest.characters, MAX_PASSAGES * 1_600) for r in records)
    return 5 * characters + (32 << 20)


def _passages(record: DocumentRecord, store: DocumentStore, options: ChunkingOptions,
              embedder: Embedder, ctx: JobContext | None) -> list[Chunk]:
    """The document's passages, at most ``MAX_PASSAGES`` (the job's log says when)."""
    chunks = chunk_document(record, store.blocks(record.id), options=options,
                            count_tokens=embedder.count_tokens, limit=MAX_PASSAGES + 1)
    release_freed_memory()  # the document's text, read whole, is no longer needed
    if len(chunks) > MAX_PASSAGES and ctx:
        ctx.log(f"{record.title}: only its first {MAX_PASSAGES:,} passages are indexed "
                "(about 1,500 pages); split the document to search the rest",
                level="warning")
    return chunks[:MAX_PASSAGES]


def _embedding_progress(ctx: JobContext | None, done: int, total: int,
                        batch: Sequence[tuple[DocumentRecord, list[Chunk]]],
                        ) -> Callable[[int, int], None] | None:
    """Cancel checks and a progress line while a batch's passages are embedded (a very
    large document is one batch that takes minutes)."""
    if ctx is None:
        return None
    names = ", ".join(record.title for record, _ in batch[:2]) + (
        " …" if len(batch) > 2 else "")

    def progress(embedded: int, passages: int) -> None:
        ctx.check_cancelled()
        ctx.report(done, total, f"{names}: embedding passage {embedded:,} of {passages:,}")

    return progress


def _drop_tables(db: Any, generation: Generation) -> None:
    for kind in (CHUNKS, ROWS):
        if generation.table(kind) in table_names(db):
            db.drop_table(generation.table(kind))


def _summary(plan: _Plan, generation: Generation) -> dict[str, Any]:
    """What an update changed, and what the index holds now."""
    documents = generation.documents
    return {
        "indexed": [r.id for r in plan.changed], "removed": plan.removed,
        "unchanged": plan.unchanged, "rebuilt": plan.rebuilding,
        "documents": len(documents), "chunks": sum(d.chunks for d in documents.values()),
        "reference_rows": sum(d.rows for d in documents.values()),
    }


def run_index_job(config: IndexDocumentsConfig, ctx: JobContext) -> dict[str, Any]:
    """Job ``index-documents``: update (or rebuild) the workspace's knowledge base."""
    return update_index(ctx.workspace(), config, ctx)


def index_status(workspace: Workspace) -> dict[str, Any]:
    """Documents, chunks, reference rows and last update of the index (no LanceDB open)."""
    manifest = read_manifest(workspace)
    active = manifest.active
    live = {r.id: _entry(r) for r in DocumentStore(workspace).list()}
    documents = active.documents if active else {}
    stale = sorted(d for d, entry in live.items()
                   if d not in documents or not _same(documents[d], entry))
    stale += sorted(d for d in documents if d not in live)
    return {
        "built": active is not None,
        "documents": len(documents),
        "chunks": sum(d.chunks for d in documents.values()),
        "reference_rows": sum(d.rows for d in documents.values()),
        "last_update": manifest.updated or None,
        "embedding_model": (active.settings.embedding_model or "bundled all-MiniLM-L6-v2")
        if active else None,
        "reranker_model": manifest.reranker_model,
        "out_of_date": stale,
        "rebuild_in_progress": manifest.building is not None,
        # rows the approximate (ANN) vector index was trained on; None: exact search
        "approximate_index_rows": (active.ann_rows.get(CHUNKS) if active else None),
    }
