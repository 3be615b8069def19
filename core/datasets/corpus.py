"""The documents a dataset is built from: live documents, their text and lineage refs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.ingest.model import Block, DocumentRecord
from core.ingest.store import DocumentStore
from core.workspace.registry import DocumentRef

_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class SourceDocument:
    record: DocumentRecord
    blocks: tuple[Block, ...]

    @property
    def ref(self) -> DocumentRef:
        latest = self.record.latest
        return DocumentRef(document_id=self.record.id, version=latest.version,
                           sha256=latest.sha256)

    def text(self) -> str:
        """The cleaned text: non-empty blocks separated by blank lines."""
        parts = (block.text.strip() for block in self.blocks)
        return _BLANKS.sub("\n\n", "\n\n".join(p for p in parts if p)).strip()


def live_documents(store: DocumentStore,
                   kinds: Iterable[str] | None = None) -> list[DocumentRecord]:
    """Documents not removed, optionally only of ``kinds``, in id order."""
    wanted = set(kinds) if kinds is not None else None
    return [r for r in store.list() if wanted is None or r.kind in wanted]


def load(store: DocumentStore, record: DocumentRecord) -> SourceDocument:
    """The latest version of ``record`` with its blocks."""
    return SourceDocument(record, tuple(store.blocks(record.id, record.latest.version)))


def refs_of(records: Iterable[DocumentRecord]) -> list[DocumentRef]:
    return [DocumentRef(document_id=r.id, version=r.latest.version, sha256=r.latest.sha256)
            for r in records]
