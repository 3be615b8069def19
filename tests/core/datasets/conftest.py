"""Fixtures for the dataset tests: a workspace with the tiny model and documents in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import (
    JSONL_PAIRS,
    PROPOSAL_BLOCKS,
    RFP_BLOCKS,
    add_document,
    paragraphs,
    register_tiny,
)

from core.ingest.model import Block
from core.ingest.store import DocumentStore
from core.workspace import Workspace


@pytest.fixture
def ds_workspace(workspace: Workspace, tiny_model_dir: Path) -> Workspace:
    """A workspace with the tiny model registered as ``tiny-base`` (no documents yet)."""
    register_tiny(workspace, tiny_model_dir)
    return workspace


@pytest.fixture
def corpus_workspace(ds_workspace: Workspace, tmp_path: Path) -> Workspace:
    """Twelve plain documents of generated RFP-flavoured text (different lengths)."""
    from helpers.tiny_model import training_lines

    lines = training_lines(120, seed=99)
    start = 0
    for number in range(12):
        size = 4 + number % 5
        add_document(ds_workspace, tmp_path / "src", f"doc-{number:02d}.md",
                     paragraphs(lines[start:start + size]),
                     kind="reference" if number % 3 else "rfp")
        start += size
    return ds_workspace


@pytest.fixture
def paired_workspace(ds_workspace: Workspace, tmp_path: Path) -> Workspace:
    """An RFP paired with its proposal, plus a JSONL document of two pairs."""
    folder = tmp_path / "src"
    rfp = add_document(ds_workspace, folder, "rfp-atlas.md", RFP_BLOCKS, kind="rfp")
    proposal = add_document(ds_workspace, folder, "atlas-proposal.md", PROPOSAL_BLOCKS,
                            kind="proposal")
    DocumentStore(ds_workspace).pair(rfp.id, proposal.id)
    pair_blocks = [Block(kind="pair", text=f"{p['instruction']}\n\n{p['response']}", fields=p)
                   for p in JSONL_PAIRS]
    add_document(ds_workspace, folder, "pairs.jsonl", pair_blocks, kind="other")
    return ds_workspace


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir), local_files_only=True)
