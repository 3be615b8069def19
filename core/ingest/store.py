"""The workspace's document store.

``W/documents/<doc-id>/``::

    document.json        the DocumentRecord (written last: the commit point)
    v<N>/source.<ext>    the original file of version N, byte for byte
    v<N>/blocks.jsonl    its extracted, cleaned text as structured blocks

A version folder not named in ``document.json`` (a crash mid-import) is ignored.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from core.clock import now_iso
from core.errors import ScriptoriumError
from core.fsutil import atomic_write_json, read_json, staging_dir
from core.ingest.model import DOCUMENT_KINDS, Block, DocumentRecord, DocumentVersion
from core.ingest.titles import MAX_TITLE
from core.workspace import Workspace
from core.workspace.locking import file_lock

RECORD = "document.json"


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

    def get(self, doc_id: str) -> DocumentRecord:
        path = self.root / doc_id / RECORD
        if "/" in doc_id or doc_id.startswith(".") or not path.exists():
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
        """Store a new document, or a new version of ``doc_id``; atomic."""
        if kind not in DOCUMENT_KINDS:
            raise DocumentError(f"Unknown document kind {kind!r} "
                                f"(use {', '.join(DOCUMENT_KINDS)}).")
        with file_lock(self._lock):
            existing = self.get(doc_id) if doc_id else None
            doc_id = doc_id or document_id_for(source.name, sha256)
            self._refuse_twice(sha256, existing, doc_id)
            number = existing.latest.version + 1 if existing else 1
            # The record's atomic write below syncs the same folder, and with it this
            # rename: one folder sync for both.
            with staging_dir(self.version_dir(doc_id, number), sync=False) as folder:
                shutil.copyfile(source, folder / f"source{source.suffix.lower() or '.bin'}")
                with open(folder / "blocks.jsonl", "w", encoding="utf-8") as handle:
                    for block in blocks:
                        handle.write(block.model_dump_json() + "\n")
            version = DocumentVersion(
                version=number, sha256=sha256, size_bytes=source.stat().st_size,
                source_name=source.name, source_path=str(source), format=format,
                imported=now_iso(), pages=pages, characters=sum(len(b.text) for b in blocks),
                blocks=len(blocks), warnings=tuple(warnings),
            )
            if existing:
                record = existing.model_copy(update={
                    "versions": existing.versions + (version,), "deleted": None})
            else:
                record = DocumentRecord(id=doc_id, title=title, kind=kind, versions=(version,))
            atomic_write_json(self.root / doc_id / RECORD, record.model_dump(mode="json"))
        self.workspace.audit.record("document.import", id=doc_id, version=number,
                                    sha256=sha256, source=source.name)
        return record

    def _refuse_twice(self, sha256: str, existing: DocumentRecord | None, doc_id: str) -> None:
        """Under the store's lock: AlreadyStored when a concurrent import of the same file
        (same name and bytes: the same id; or the same document) got there first."""
        path = self.root / doc_id / RECORD
        same_id = DocumentRecord.model_validate(read_json(path)) if (
            existing is None and path.exists()) else None
        for record in (existing, same_id):
            if record is None or record.deleted:
                continue
            for version in record.versions:
                if version.sha256 == sha256:
                    raise AlreadyStored(record, version.version)

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
