"""Build a dataset version: resolve the tokenizer, check for an identical build, run the
kind's builder, commit the result to the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clock import now_iso
from core.datasets.corpus import live_documents
from core.datasets.cpt import build_cpt
from core.datasets.model import BuildDatasetConfig, Built, DatasetRecord
from core.datasets.prefs import build_prefs
from core.datasets.sft import build_sft
from core.datasets.store import DatasetStore
from core.datasets.synthetic import accepted_digest
from core.datasets.tokenizer import load_tokenizer, resolve_tokenizer_source, tokenizer_info
from core.datasets.user_pairs import user_pairs_digest
from core.fsutil import sha256_file
from core.ingest.store import DocumentStore
from core.workspace import Workspace

FORMAT = 4  # bump when builders change what they write: old builds are then not reused
# (2: CPT rows start with BOS; 3: SFT prompts grounded in retrieved sources; 4: preference
# prompts grounded too, example lengths recorded)
BUILDERS: dict[str, Callable[..., Built]] = {"cpt": build_cpt, "sft": build_sft,
                                             "prefs": build_prefs}


@dataclass(frozen=True)
class BuildResult:
    record: DatasetRecord
    reused: bool  # an identical earlier build was returned instead of a new version


def _inputs(workspace: Workspace, config: BuildDatasetConfig) -> Any:
    """Everything outside the config that the build reads, in a comparable form."""
    manifest = workspace.index_dir / "manifest.json"  # what grounded prompts retrieve
    index = sha256_file(manifest) if config.grounded and manifest.exists() else None
    if config.kind == "prefs":
        feedback = {p.name: sha256_file(p) for p in sorted(workspace.feedback_dir.glob("*.jsonl"))}
        return {"feedback": feedback, "index": index}
    kinds = config.document_kinds if config.kind == "cpt" else None
    documents = [[r.id, r.latest.version, r.latest.sha256, r.kind, list(r.paired_with)]
                 for r in live_documents(DocumentStore(workspace), kinds)]
    if config.kind == "sft":
        return {"documents": documents, "user_pairs": user_pairs_digest(workspace),
                "synthetic": accepted_digest(workspace), "index": index}
    return documents


def fingerprint(workspace: Workspace, config: BuildDatasetConfig, tokenizer_digest: str) -> str:
    payload = {"format": FORMAT, "config": config.fingerprint_dict(),
               "tokenizer": tokenizer_digest, "inputs": _inputs(workspace, config)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def build_dataset(
    workspace: Workspace, config: BuildDatasetConfig,
    progress: Callable[[int, int, str], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> BuildResult:
    """Build ``config.kind`` as a new version (or return an identical latest one)."""
    progress = progress or (lambda step, total, message: None)
    check_cancelled = check_cancelled or (lambda: None)
    store = DatasetStore(workspace)
    source = resolve_tokenizer_source(workspace, config.model)
    digest = fingerprint(workspace, config, source.fingerprint())
    latest = store.latest(config.kind)
    if config.reuse and latest is not None and latest.fingerprint == digest:
        progress(1, 1, f"{latest.id} already holds these inputs with this config; reused")
        return BuildResult(latest, True)
    progress(0, 1, f"loading the tokenizer of {config.model}")
    tokenizer = load_tokenizer(source)
    built = BUILDERS[config.kind](workspace, config, tokenizer, progress, check_cancelled)
    check_cancelled()
    record = store.commit(config.kind, built.files, {
        "created": now_iso(),
        "model": config.model, "tokenizer": tokenizer_info(source, tokenizer),
        "config": config.model_dump(mode="json"),
        "documents": [ref.model_dump() for ref in built.documents],
        "sources": built.sources, "summary": built.summary, "fingerprint": digest,
    })
    return BuildResult(record, False)
