"""Continual adaptation on the sample workspace with the real Gemma 3 270M: a first
update promoted as release 1, new documents proposed as an update, a second run that
continues from the release's adapter and is gated against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.workspaces import add_text_document

from core.adaptation.changes import check_for_update
from core.adaptation.pipeline import AdaptRunConfig, run_adaptation
from core.generation.runtime import default_model_id
from core.jobs.progress import JobContext
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry
from core.workspace.releases import read_releases

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

NEW_RECORD = """PP-9: Port Authority Document Management Modernization
Contract Number: 70PADM-25-C-0031. Customer: Harbour Port Authority.
NAS migrated 41 million scanned records to a searchable cloud archive in 14 months,
cut retrieval time from 3 days to 40 seconds, and held 99.98 percent availability.
"""


def _run(workspace: Workspace, name: str, **values: object) -> dict:
    config = AdaptRunConfig.model_validate({
        "stages": ["cpt"], "seq_len": 128, "quant": "q4_k_m",
        "training_overrides": ["max_steps=3", "batch_size=2", "max_length=128",
                               "eval_every=0", "save_every=100",
                               # before/after perplexity of each stage: 8 held-out rows
                               # are enough here; the gate scores its own text
                               "eval_samples=8"], **values})
    ctx = JobContext(workspace.root / "runs" / name)
    ctx.job_dir.mkdir(parents=True)
    return run_adaptation(workspace, config, ctx)


def test_sample_update_release_and_gated_second_update(tmp_path: Path) -> None:
    from core.ingest.sample import populate_sample
    from core.models.bundled import import_base_model

    workspace = Workspace.create(tmp_path / "ws")
    populate_sample(workspace)
    import_base_model(workspace)
    first_check = check_for_update(workspace)
    assert first_check.propose and first_check.reference_model is None
    assert first_check.index_updated  # the labour-category table went to the index

    first = _run(workspace, "adapt-1", promote=True)
    assert first["released"] == 1 and not first["gate"]["compared"]
    registry = ModelRegistry(workspace)
    release = read_releases(workspace).current
    assert release.model_id == first["candidate"] == default_model_id(workspace)
    assert registry.get(release.model_id).kind == "gguf"
    assert "cpt" in release.notes

    add_text_document(workspace, tmp_path / "new", "pp-9.md", NEW_RECORD * 3,
                      kind="other")
    again = check_for_update(workspace)
    assert [c.title for c in again.text_changes] == ["pp-9.md"]
    second = _run(workspace, "adapt-2", replay_ratio=1.0)
    assert second["new_documents"] == [again.text_changes[0].document_id]
    assert second["replay_documents"]
    assert first["adapters"][0] in registry.get(second["adapters"][0]).parents
    gate = second["gate"]
    assert gate["compared"] and gate["deployed"] == release.model_id
    old = gate["perplexity"]["old"]
    assert old["deployed"] > 1 and old["candidate"] > 1
    assert len(gate["prompts"]) == 4 and all(p["candidate"] for p in gate["prompts"])
