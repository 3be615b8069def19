"""What an imported document is: its versions and its structured text blocks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal["rfp", "proposal", "reference", "other"]
DOCUMENT_KINDS: tuple[str, ...] = ("rfp", "proposal", "reference", "other")
BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "pair"]


class Block(BaseModel):
    """One structural piece of a document's text, in reading order.

    ``section`` is the heading path above the block; ``fields`` holds a table row's
    column → value, or an instruction/response pair's parts.
    """

    model_config = ConfigDict(frozen=True)
    kind: BlockKind
    text: str
    section: tuple[str, ...] = ()
    page: int | None = None
    level: int = 0
    fields: dict[str, str] = Field(default_factory=dict)


class DocumentVersion(BaseModel):
    """One imported version of a document (a changed file becomes a new version)."""

    model_config = ConfigDict(frozen=True)
    version: int
    sha256: str
    size_bytes: int
    source_name: str
    source_path: str = ""
    format: str
    imported: str
    pages: int | None = None
    characters: int = 0
    blocks: int = 0
    warnings: tuple[str, ...] = ()


class DocumentRecord(BaseModel):
    """A document in the workspace: identity, tags, pairing and every version."""

    model_config = ConfigDict(frozen=True)
    id: str
    title: str
    kind: DocumentKind = "other"
    tags: tuple[str, ...] = ()
    paired_with: tuple[str, ...] = ()
    versions: tuple[DocumentVersion, ...] = ()
    deleted: str | None = None  # when it was removed (kept for lineage)

    @property
    def latest(self) -> DocumentVersion:
        return self.versions[-1]

    def version(self, number: int | None = None) -> DocumentVersion:
        if number is None:
            return self.latest
        for version in self.versions:
            if version.version == number:
                return version
        raise KeyError(number)
