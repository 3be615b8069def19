"""Workspaces for tests: the tiny model registered as a base, small datasets committed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.datasets import DatasetStore
from core.models.info import hf_model_facts
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

TINY_BASE = "tiny-base"
SEQ = 32


def register_tiny_base(workspace: Workspace, model_dir: Path, model_id: str = TINY_BASE, *,
                       kind: str = "base", parents: tuple[str, ...] = ()) -> str:
    """Register a copy of ``model_dir`` (a base, or with ``kind`` and ``parents`` one of its
    fine-tunes)."""
    facts = hf_model_facts(model_dir)
    record = ModelRecord(id=model_id, name="Tiny Gemma 3", kind=kind,  # type: ignore[arg-type]
                         parents=parents, architecture=facts.architecture,
                         model_type=facts.model_type, parameters=facts.parameters)
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        for path in model_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, folder / path.name)
    return model_id


def turn(role: str, text: str) -> str:
    return f"<start_of_turn>{role}\n{text}<end_of_turn>\n"


def commit_dataset(workspace: Workspace, kind: str, train: list[dict[str, Any]],
                   heldout: list[dict[str, Any]], tokenizer: Any) -> str:
    """Store a dataset through ``core.datasets`` (as its builders do) and return its id."""
    docs = [{"document_id": "doc-rfp-1", "version": 1, "sha256": "ab" * 32}]
    record = DatasetStore(workspace).commit(
        kind, {"train.jsonl": train, "heldout.jsonl": heldout},
        {"created": "2026-01-01T00:00:00+00:00", "model": TINY_BASE, "documents": docs,
         "tokenizer": {"vocab_size": len(tokenizer), "eos_token_id": tokenizer.eos_token_id}})
    return record.id


def build_datasets(workspace: Workspace, tokenizer: Any, lines: list[str]) -> dict[str, str]:
    """cpt / sft / prefs datasets from ``lines`` (held-out = the first tenth)."""
    ids: list[int] = []
    for line in lines:
        ids.extend(tokenizer(line)["input_ids"] + [tokenizer.eos_token_id])
    blocks = [ids[i:i + SEQ] for i in range(0, len(ids) - SEQ + 1, SEQ)]
    cut = max(1, len(blocks) // 10)
    cpt = commit_dataset(workspace, "cpt", [{"input_ids": b} for b in blocks[cut:]],
                         [{"input_ids": b} for b in blocks[:cut]], tokenizer)

    def pair(line: str) -> dict[str, str]:
        head, _, tail = line.partition(" shall ") if " shall " in line else line.partition(" ")
        return {"prompt": "<bos>" + turn("user", f"Complete: {head}") + "<start_of_turn>model\n",
                "completion": f"{tail}<end_of_turn>\n"}

    rows = [pair(line) for line in lines]
    cut = max(2, len(rows) // 10)
    sft = commit_dataset(workspace, "sft", rows[cut:], rows[:cut], tokenizer)
    prefs = [{"prompt": row["prompt"], "chosen": row["completion"],
              "rejected": "no.<end_of_turn>\n"} for row in rows]
    pref = commit_dataset(workspace, "prefs", prefs[cut:], prefs[:cut], tokenizer)
    return {"cpt": cpt, "sft": sft, "dpo": pref, "orpo": pref}


def tiny_training_workspace(workspace: Workspace, model_dir: Path) -> dict[str, str]:
    """Register the tiny base in ``workspace`` and commit its datasets; returns their ids."""
    from transformers import AutoTokenizer

    from helpers.tiny_model import training_lines

    register_tiny_base(workspace, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return build_datasets(workspace, tokenizer, training_lines(120))


def add_text_document(workspace: Workspace, folder: Path, name: str, text: str,
                      kind: str = "proposal", doc_id: str | None = None) -> Any:
    """Store ``text`` as a document (one paragraph per line), or as a new version of
    ``doc_id``; returns its ``DocumentRecord``."""
    import hashlib

    from core.ingest.model import Block
    from core.ingest.store import DocumentStore

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    blocks = [Block(kind="paragraph", text=line) for line in text.splitlines() if line]
    return DocumentStore(workspace).add_version(
        source=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), format="md",
        blocks=blocks, title=name, kind=kind, doc_id=doc_id)
