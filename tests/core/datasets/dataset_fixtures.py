"""Documents, feedback and model helpers shared by the dataset tests."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from core.ingest.model import Block
from core.ingest.store import DocumentStore
from core.models.info import hf_model_facts
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

TINY = "tiny-base"

RFP_BLOCKS = [
    Block(kind="heading", text="3 Statement of Work", level=1),
    Block(kind="heading", text="3.1 Help desk", level=2, section=("3 Statement of Work",)),
    Block(kind="paragraph", text="The help desk is open on working days.",
          section=("3 Statement of Work", "3.1 Help desk")),
    Block(kind="heading", text="3.2 Monthly reporting", level=2, section=("3 Statement of Work",)),
    Block(kind="paragraph",
          text="3.2 The contractor shall deliver the monthly status report to the contracting "
               "officer within 5 days of month end.",
          section=("3 Statement of Work", "3.2 Monthly reporting")),
    Block(kind="heading", text="Security", level=2, section=("3 Statement of Work",)),
    Block(kind="paragraph",
          text="The contractor must maintain an approved security plan and encrypt "
               "telemetry archives at rest.",
          section=("3 Statement of Work", "Security")),
]
PROPOSAL_BLOCKS = [
    Block(kind="heading", text="Company overview", level=1),
    Block(kind="paragraph", text="Atlas Corp has served federal agencies since 1999.",
          section=("Company overview",)),
    Block(kind="heading", text="Response to 3.2", level=1),
    Block(kind="paragraph",
          text="Our team will provide the monthly status report by the fifth working day.",
          section=("Response to 3.2",)),
    Block(kind="heading", text="Protecting your data", level=1),
    Block(kind="paragraph",
          text="We maintain an approved security plan, reviewed quarterly, and we encrypt "
               "every telemetry archive at rest.",
          section=("Protecting your data",)),
]
JSONL_PAIRS = [
    {"instruction": "List the labour categories for help desk support.",
     "response": "Help Desk Specialist I and Help Desk Specialist II."},
    {"instruction": "What is our CAGE code?", "response": "Our CAGE code is 1ABC2."},
]


def register_tiny(workspace: Workspace, model_dir: Path, model_id: str = TINY) -> str:
    facts = hf_model_facts(model_dir)
    record = ModelRecord(id=model_id, name="Tiny Gemma 3", kind="base",
                         architecture=facts.architecture, model_type=facts.model_type,
                         parameters=facts.parameters)
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        for path in model_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, folder / path.name)
    return model_id


def add_document(workspace: Workspace, folder: Path, name: str, blocks: list[Block],
                 kind: str = "other", doc_id: str | None = None) -> Any:
    """Put a document straight into the store (as the importer would), source in ``folder``."""
    source = folder / name
    source.parent.mkdir(parents=True, exist_ok=True)
    text = "\n\n".join(b.text for b in blocks)
    source.write_text(text, encoding="utf-8")
    sha = hashlib.sha256(text.encode()).hexdigest()
    return DocumentStore(workspace).add_version(
        source=source, sha256=sha, format="md", blocks=blocks, title=Path(name).stem,
        kind=kind, doc_id=doc_id)


def paragraphs(lines: list[str], section: tuple[str, ...] = ()) -> list[Block]:
    return [Block(kind="paragraph", text=line, section=section) for line in lines]


def write_feedback(workspace: Workspace, name: str, lines: list[Any]) -> Path:
    path = workspace.feedback_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path
