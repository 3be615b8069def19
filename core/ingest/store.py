"""The workspace's document store.

``W/documents/<doc-id>/``::

    document.json        the DocumentRecord (written last: the commit point)
    v<N>/source.<ext>    the original file of version N, byte for byte
    v<N>/blocks.jsonl    its extracted, cleaned text as structured blocks

A version folder not named in ``document.json`` (a crash mid-import) is ignored.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from core.clock import now_iso
from core.errors import DiskSpaceError, ScriptoriumError
from core.fsutil import (
    DIR_MODE,
    atomic_write_json,
    fsync_dir,
    fsync_file,
    make_private_dir,
    read_json,
    sync_filesystem,
    sync_tree,
    write_temp,
)
from core.ingest.model import DOCUMENT_KINDS, Block, DocumentRecord, DocumentVersion
from core.ingest.titles import MAX_TITLE
from core.workspace import Workspace
from core.workspace.locking import file_lock

RECORD = "document.json"
STALE_STAGING_S = 3600.0  # a staging folder this old was left by a killed import


class DocumentError(ScriptoriumError):
    """A document is missing, or a change to the store is not allowed."""


class AlreadyStored(DocumentError):
    """Another import (another process) stored these bytes first."""

    def __init__(self, record: DocumentRecord, version: int) -> None:
        super().__init__(f"already imported as {record.id} (version {version})")
        self.record, self.version = record, version


def document_id_for(name: str, sha256: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-")[:48] or "document"
    return f"{stem}-{sha256[:6]}"


class DocumentStore:
    """Reads and changes the documents of one workspace (safe across processes)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.documents_dir
        self._lock = self.root / ".lock"

    # -- reading -----------------------------------------------------------------------
    def list(self, *, include_deleted: bool = False) -> list[DocumentRecord]:
        records = []
        for path in sorted(self.root.glob(f"*/{RECORD}")):
            try:
                record = DocumentRecord.model_validate(read_json(path))
            except (ValueError, ValidationError):
                continue
            if include_deleted or not record.deleted:
                records.append(record)
        return records

    def record_path(self, doc_id: str) -> Path | None:
        """Where ``doc_id``'s record is, if it has one (None for a name that is no id)."""
        path = self.root / doc_id / RECORD
        return None if "/" in doc_id or doc_id.startswith(".") or not path.exists() else path

    def get(self, doc_id: str) -> DocumentRecord:
        path = self.record_path(doc_id)
        if path is None:
            raise DocumentError(f"No document {doc_id!r} in this workspace.")
        return DocumentRecord.model_validate(read_json(path))

    def find_sha(self, sha256: str) -> tuple[DocumentRecord, DocumentVersion] | None:
        """The document version with exactly these bytes, if already imported."""
        for record in self.list(include_deleted=True):
            for version in record.versions:
                if version.sha256 == sha256:
                    return record, version
        return None

    def find_source(self, source_name: str) -> DocumentRecord | None:
        """The live document last imported from a file of this name (for new versions)."""
        for record in self.list():
            if record.latest.source_name == source_name:
                return record
        return None

    def version_dir(self, doc_id: str, version: int) -> Path:
        return self.root / doc_id / f"v{version}"

    def blocks(self, doc_id: str, version: int | None = None) -> list[Block]:
        record = self.get(doc_id)
        number = record.version(version).version
        path = self.version_dir(doc_id, number) / "blocks.jsonl"
        with open(path, encoding="utf-8") as handle:
            return [Block.model_validate_json(line) for line in handle if line.strip()]

    def text(self, doc_id: str, version: int | None = None) -> str:
        """The document's text: blocks separated by blank lines."""
        return "\n\n".join(block.text for block in self.blocks(doc_id, version))

    def source_file(self, doc_id: str, version: int | None = None) -> Path:
        record = self.get(doc_id)
        folder = self.version_dir(doc_id, record.version(version).version)
        return next(folder.glob("source.*"))

    # -- writing ------------------------------------------------------------------------
    def add_version(
        self, *, source: Path, sha256: str, format: str, blocks: list[Block],
        title: str, kind: str = "other", pages: int | None = None,
        warnings: Iterable[str] = (), doc_id: str | None = None,
    ) -> DocumentRecord:
        """Store a new document, or a new version of ``doc_id`` (whose kind it keeps);
        atomic. A batch of one: ``batch`` stores many with one commit."""
        if kind not in DOCUMENT_KINDS:
            raise DocumentError(f"Unknown document kind {kind!r} "
                                f"(use {', '.join(DOCUMENT_KINDS)}).")
        batch = self.batch()
        batch.stage(NewVersion(source=source, sha256=sha256, format=format, blocks=blocks,
                               title=title, kind=None if doc_id else kind, pages=pages,
                               warnings=tuple(warnings), doc_id=doc_id))
        outcome = batch.commit()[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def sweep_staging(self, older_than_s: float = STALE_STAGING_S) -> int:
        """Remove what imports killed mid-way left: staging folders and temp records not
        touched for ``older_than_s`` (a running import's are seconds old). Returns how
        many were removed."""
        cutoff, removed = time.time() - older_than_s, 0
        for pattern in (".v*.partial", f".{RECORD}.*.tmp"):
            for path in self.root.glob(f"*/{pattern}"):
                try:
                    if path.lstat().st_mtime >= cutoff:
                        continue
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                    removed += 1
                except OSError:
                    continue
        return removed

    def batch(self) -> VersionBatch:
        """A group commit: stage versions one by one, then commit them all at once."""
        return VersionBatch(self)

    def _update(self, doc_id: str, **changes: object) -> DocumentRecord:
        with file_lock(self._lock):
            record = self.get(doc_id).model_copy(update=changes)
            atomic_write_json(self.root / doc_id / RECORD, record.model_dump(mode="json"))
        return record

    def set_kind(self, doc_id: str, kind: str) -> DocumentRecord:
        if kind not in DOCUMENT_KINDS:
            raise DocumentError(f"Unknown document kind {kind!r} "
                                f"(use {', '.join(DOCUMENT_KINDS)}).")
        return self._update(doc_id, kind=kind)

    def set_title(self, doc_id: str, title: str) -> DocumentRecord:
        """Rename a document (citations, pickers and exports use the title); later versions
        keep it. The index takes the new title at its next update."""
        cleaned = " ".join(title.split())
        if not cleaned:
            raise DocumentError("A document's title cannot be empty.")
        if len(cleaned) > MAX_TITLE:
            raise DocumentError(f"A title is at most {MAX_TITLE} characters "
                                f"(this one has {len(cleaned)}).")
        before = self.get(doc_id).title
        record = self._update(doc_id, title=cleaned)
        self.workspace.audit.record("document.retitle", id=doc_id, title=cleaned, was=before)
        return record

    def set_tags(self, doc_id: str, tags: Iterable[str]) -> DocumentRecord:
        return self._update(doc_id, tags=tuple(sorted({t.strip() for t in tags if t.strip()})))

    def pair(self, rfp_id: str, proposal_id: str) -> None:
        """Record that ``proposal_id`` answered ``rfp_id`` (both directions)."""
        rfp, proposal = self.get(rfp_id), self.get(proposal_id)
        if rfp.kind != "rfp" or proposal.kind != "proposal":
            raise DocumentError(
                f"Pairing needs an RFP and a proposal; {rfp_id} is {rfp.kind}, "
                f"{proposal_id} is {proposal.kind}."
            )
        self._update(rfp_id, paired_with=tuple(sorted({*rfp.paired_with, proposal_id})))
        self._update(proposal_id, paired_with=tuple(sorted({*proposal.paired_with, rfp_id})))
        self.workspace.audit.record("document.pair", rfp=rfp_id, proposal=proposal_id)

    def unpair(self, first: str, second: str) -> None:
        for a, b in ((first, second), (second, first)):
            record = self.get(a)
            self._update(a, paired_with=tuple(p for p in record.paired_with if p != b))
        self.workspace.audit.record("document.unpair", first=first, second=second)

    def remove(self, doc_id: str) -> DocumentRecord:
        """Mark a document removed; its files stay so models' lineage still resolves."""
        record = self._update(doc_id, deleted=now_iso())
        self.workspace.audit.record("document.remove", id=doc_id)
        return record

    def summary(self) -> dict[str, int]:
        records = self.list()
        counts = {kind: 0 for kind in DOCUMENT_KINDS}
        for record in records:
            counts[record.kind] += 1
        counts["documents"] = len(records)
        counts["characters"] = sum(r.latest.characters for r in records)
        return counts


@dataclass(frozen=True)
class NewVersion:
    """A version to store: the source file, its sha256, format and blocks. ``doc_id``
    names the document it is a new version of (None: a new document); ``kind`` sets the
    document's kind (None: "other" for a new document, unchanged for an existing one)."""

    source: Path
    sha256: str
    format: str
    blocks: list[Block]
    title: str
    kind: str | None = None
    pages: int | None = None
    warnings: tuple[str, ...] = ()
    doc_id: str | None = None


@dataclass
class _Staged:
    item: NewVersion
    doc_id: str
    folder: Path  # the version's files, written but not yet synced nor in place


Outcome = DocumentRecord | ScriptoriumError | OSError  # DocumentError, DiskSpaceError


class VersionBatch:
    """Versions stored with one group commit (see ``commit``).

    ``stage`` writes each version's files (source copy, blocks) into a hidden staging
    folder in its document's folder, unsynced, and says what its record will be. Nothing
    of it is visible until ``commit``: a crash before leaves staging folders, which no
    reader looks at, and never a document half there.
    """

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._staged: list[_Staged] = []
        self._pending: dict[str, DocumentRecord] = {}  # doc id -> its record once committed

    def __len__(self) -> int:
        return len(self._staged)

    def pending(self, doc_id: str) -> DocumentRecord | None:
        """The record ``doc_id`` will have once committed, if this batch changes it."""
        return self._pending.get(doc_id)

    def stage(self, item: NewVersion) -> DocumentRecord:
        """Write ``item``'s files; returns the record its document will have once
        committed (another import committing first may still change the version number).
        Raises ``DiskSpaceError`` on a full disk, ``OSError`` when the files cannot be
        written; nothing is left behind then."""
        if item.kind is not None and item.kind not in DOCUMENT_KINDS:
            raise DocumentError(f"Unknown document kind {item.kind!r} "
                                f"(use {', '.join(DOCUMENT_KINDS)}).")
        doc_id = item.doc_id or document_id_for(item.source.name, item.sha256)
        current = self._pending.get(doc_id) or self._stored(doc_id)
        if item.doc_id and current is None:
            raise DocumentError(f"No document {doc_id!r} in this workspace.")
        folder = make_private_dir(self.store.root / doc_id)
        staging = Path(tempfile.mkdtemp(prefix=".v.", suffix=".partial", dir=folder))
        try:
            os.chmod(staging, DIR_MODE)
            shutil.copyfile(item.source,
                            staging / f"source{item.source.suffix.lower() or '.bin'}")
            with open(staging / "blocks.jsonl", "w", encoding="utf-8") as handle:
                for block in item.blocks:
                    handle.write(block.model_dump_json() + "\n")
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError) and error.errno == errno.ENOSPC:
                raise DiskSpaceError(
                    f"The disk is full: {item.source.name} could not be stored.") from error
            raise
        entry = _Staged(item, doc_id, staging)
        self._staged.append(entry)
        self._pending[doc_id] = record = _next_record(current, entry)
        return record

    def _stored(self, doc_id: str) -> DocumentRecord | None:
        path = self.store.record_path(doc_id)
        if path is None:
            return None
        try:
            return DocumentRecord.model_validate(read_json(path))
        except ValueError as error:  # a validation error or broken JSON
            raise DocumentError(f"The record of {doc_id} is damaged: {error}") from error

    def discard(self) -> None:
        """Remove every staged folder: nothing is committed."""
        for entry in self._staged:
            shutil.rmtree(entry.folder, ignore_errors=True)
        self._staged, self._pending = [], {}

    def commit(self) -> list[Outcome]:
        """Store every staged version; per version, in order, its document's record or
        the error that stopped it (one failure costs only its own version).

        Under the store's lock: sync the staged files (one ``syncfs`` for them all where
        the system has it), check each version against what is stored now (another
        import may have stored the same bytes: ``AlreadyStored``), rename each folder into
        place, write the records to temp files, sync, rename each record over the old one
        (the commit point) and sync again. Then one audit append for the batch."""
        staged, self._staged, self._pending = self._staged, [], {}
        if not staged:
            return []
        root = self.store.root
        with file_lock(self.store._lock):
            _sync(root, [entry.folder for entry in staged])
            records: dict[str, DocumentRecord] = {}
            outcomes = [self._place(entry, records) for entry in staged]
            temps = self._write_records(records, outcomes, staged)
            _sync(root, list(temps.values()), files=True)
            for doc_id, tmp in temps.items():
                os.replace(tmp, root / doc_id / RECORD)
            _sync(root, [root / doc_id for doc_id in temps], folders=True)
        self.store.workspace.audit.record_many([
            ("document.import", {"id": outcome.id, "version": version.version,
                                 "sha256": version.sha256, "source": version.source_name})
            for outcome, entry in zip(outcomes, staged)
            if isinstance(outcome, DocumentRecord)
            for version in outcome.versions if version.sha256 == entry.item.sha256
        ])
        return outcomes

    def _place(self, entry: _Staged, records: dict[str, DocumentRecord]) -> Outcome:
        """Rename one staged folder into place as its document's next version."""
        try:
            current = records.get(entry.doc_id) or self._stored(entry.doc_id)
            if current is not None and not current.deleted:
                for version in current.versions:
                    if version.sha256 == entry.item.sha256:
                        raise AlreadyStored(current, version.version)
            record = _next_record(current, entry)
            final = self.store.version_dir(entry.doc_id, record.latest.version)
            if final.exists():  # left by a crash before its record was written
                shutil.rmtree(final)
            os.replace(entry.folder, final)
        except (DocumentError, OSError) as error:
            shutil.rmtree(entry.folder, ignore_errors=True)
            return error
        records[entry.doc_id] = record
        return record

    def _write_records(self, records: dict[str, DocumentRecord], outcomes: list[Outcome],
                       staged: list[_Staged]) -> dict[str, Path]:
        """Each document's new record in a temp file next to it. A document whose record
        cannot be written fails: its versions stay unnamed, as after a crash."""
        temps: dict[str, Path] = {}
        for doc_id, record in records.items():
            data = record.model_dump_json(indent=2) + "\n"  # (pydantic's fast encoder)
            try:
                temps[doc_id] = write_temp(self.store.root / doc_id / RECORD,
                                           data.encode("utf-8"))
            except (DiskSpaceError, OSError) as error:
                failed = error
                for index, entry in enumerate(staged):
                    if entry.doc_id == doc_id and isinstance(outcomes[index], DocumentRecord):
                        outcomes[index] = failed
        return temps


def _next_record(current: DocumentRecord | None, entry: _Staged) -> DocumentRecord:
    """``current`` (None: no document yet) with ``entry`` as its next version."""
    item = entry.item
    version = DocumentVersion(
        version=current.latest.version + 1 if current else 1, sha256=item.sha256,
        size_bytes=item.source.stat().st_size, source_name=item.source.name,
        source_path=str(item.source), format=item.format, imported=now_iso(),
        pages=item.pages, characters=sum(len(b.text) for b in item.blocks),
        blocks=len(item.blocks), warnings=item.warnings,
    )
    if current is None:
        return DocumentRecord(id=entry.doc_id, title=item.title, kind=item.kind or "other",
                              versions=(version,))
    update: dict[str, object] = {"versions": current.versions + (version,), "deleted": None}
    if item.kind:
        update["kind"] = item.kind
    return current.model_copy(update=update)


def _sync(root: Path, paths: list[Path], *, files: bool = False, folders: bool = False) -> None:
    """Make ``paths`` durable: one ``syncfs`` of the store's filesystem or, where there is
    none, path by path (``files``: files; ``folders``: folders; else trees, with the
    folder holding each)."""
    if not paths or sync_filesystem(root):
        return
    for path in paths:
        if files:
            fsync_file(path)
        elif folders:
            fsync_dir(path)
        else:
            sync_tree(path)
            fsync_dir(path.parent)
