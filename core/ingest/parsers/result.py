"""What a parser returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.ingest.model import Block


@dataclass
class ParseResult:
    """The blocks of one file in reading order, its page count, and warnings."""

    blocks: list[Block]
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    signature: list[int] | None = None  # MinHash of the text (set by the parser process)
    kind: str | None = None  # guessed document kind (set by the parser process)
    title: str | None = None  # the file's own title property (PDF, DOCX, HTML), if any

    def to_json(self) -> dict[str, object]:
        return {
            "blocks": [b.model_dump(mode="json") for b in self.blocks],
            "pages": self.pages,
            "warnings": list(self.warnings),
            "signature": self.signature,
            "kind": self.kind,
            "title": self.title,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ParseResult:
        return cls(
            blocks=[Block.model_validate(b) for b in raw["blocks"]],
            pages=raw.get("pages"),
            warnings=list(raw.get("warnings") or []),
            signature=raw.get("signature"),
            kind=raw.get("kind"),
            title=raw.get("title"),
        )
