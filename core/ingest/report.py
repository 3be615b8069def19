"""What an import did, file by file."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field

FileStatus = Literal["imported", "new-version", "already-imported", "failed", "skipped"]


class FileResult(BaseModel):
    """The outcome for one file of an import."""

    path: str
    name: str
    status: FileStatus
    message: str = ""
    reason: str = ""  # for failures: the error's short code (encrypted, corrupt, ...)
    doc_id: str | None = None
    version: int | None = None
    kind: str | None = None
    format: str | None = None
    pages: int | None = None
    blocks: int = 0
    characters: int = 0
    size_bytes: int = 0
    warnings: list[str] = Field(default_factory=list)


class ImportReport(BaseModel):
    """Every file's outcome, in the order the files were taken."""

    files: list[FileResult] = Field(default_factory=list)
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r.status for r in self.files))

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.files if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def summary(self) -> str:
        counts = self.counts
        parts = [
            f"{counts[s]} {s}"
            for s in ("imported", "new-version", "already-imported", "failed", "skipped")
            if counts.get(s)
        ]
        return ", ".join(parts) or "nothing to import"
