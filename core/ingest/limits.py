"""Limits that keep a hostile or huge file from hurting the batch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MB = 1_000_000
GIB = 1 << 30


class IngestLimits(BaseModel):
    """How big, slow and memory-hungry parsing one file may be."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_file_bytes: int = Field(default=200 * MB, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    memory_bytes: int = Field(default=2 * GIB, ge=64 * MB)
    max_unzipped_bytes: int = Field(default=1000 * MB, ge=1, description="DOCX, all members")
    max_zip_ratio: float = Field(default=200.0, gt=1, description="per member, when large")
    max_zip_members: int = Field(default=20_000, ge=1)
