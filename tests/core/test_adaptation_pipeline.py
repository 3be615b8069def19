"""The retraining run on a tiny model: new documents plus replay, CPT continuing from the
released adapter, export, the gate against the deployed release, promotion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.workspaces import add_text_document as _add

from core.adaptation.changes import AdaptPolicy, check_for_update, save_policy
from core.adaptation.pipeline import AdaptRunConfig, run_adaptation
from core.errors import ConfigError
from core.generation.runtime import default_model_id
from core.jobs.progress import JobContext, read_events
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry
from core.workspace.releases import read_releases

pytestmark = pytest.mark.timeout(900)

TEXT = ("The contractor shall deliver the monthly status report within five days. "
        "Each report lists risks, staffing changes and the schedule. ")


def _config(**values: object) -> AdaptRunConfig:
    settings: dict[str, object] = {
        "base": "tiny-base", "stages": ("cpt",), "preset": "quick", "seq_len": 32,
        "pre_tokenizer": "gpt-2", "quant": "q8_0",
        "training_overrides": ("max_steps=2", "batch_size=2", "max_length=32", "eval_every=0",
                               "save_every=100")}
    return AdaptRunConfig.model_validate({**settings, **values})


def _run(workspace: Workspace, name: str, config: AdaptRunConfig) -> tuple[dict, JobContext]:
    ctx = JobContext(workspace.root / "runs" / name)
    ctx.job_dir.mkdir(parents=True)
    return run_adaptation(workspace, config, ctx), ctx


def test_first_release_then_an_update_with_replay(workspace: Workspace, tiny_model_dir: Path,
                                                  tmp_path: Path) -> None:
    from helpers.workspaces import register_tiny_base

    register_tiny_base(workspace, tiny_model_dir)
    (workspace.root / "prompts.jsonl").write_text(json.dumps({"prompt": "Status report?"}) + "\n")
    docs = tmp_path / "docs"
    first_docs = [_add(workspace, docs, f"old-{i}.md", TEXT * 6) for i in range(4)]
    save_policy(workspace, AdaptPolicy(min_documents=2, replay_ratio=1.0))

    result, ctx = _run(workspace, "adapt-1", _config(promote=True))
    assert not result["gate"]["compared"] and result["released"] == 1
    assert sorted(result["new_documents"]) == sorted(d.id for d in first_docs)
    registry = ModelRegistry(workspace)
    candidate = registry.get(result["candidate"])
    assert candidate.kind == "gguf"
    assert default_model_id(workspace) == candidate.id
    events, _ = read_events(ctx.job_dir)
    steps = [e.step for e in events if e.type == "progress"]
    assert steps == sorted(steps) and steps[-1] == 1000  # one bar over every stage
    assert any("1/3 cpt" in e.message for e in events if e.type == "progress")

    quiet = check_for_update(workspace, update_index=False)
    assert not quiet.propose and quiet.text_changes == ()
    with pytest.raises(ConfigError, match="no new or changed text"):
        _run(workspace, "adapt-empty", _config())

    _add(workspace, docs, "new-a.md", TEXT.replace("monthly", "weekly") * 6)
    _add(workspace, docs, "new-b.md", TEXT.replace("five", "ten") * 6)
    assert check_for_update(workspace, update_index=False).propose
    second, _ = _run(workspace, "adapt-2", _config(stages=None))  # the release's stages
    assert second["stages"] == ["cpt"]
    assert len(second["new_documents"]) == 2
    assert second["replay_documents"]  # earlier documents mixed in
    assert set(second["replay_documents"]) <= {d.id for d in first_docs}
    adapter = registry.get(second["adapters"][0])
    released_adapter = registry.get(result["adapters"][0])
    assert released_adapter.id in adapter.parents  # continued from the release's adapter
    trained = {ref.document_id for ref in adapter.documents}
    assert set(second["new_documents"]) | set(second["replay_documents"]) >= trained
    gate = second["gate"]
    assert gate["compared"] and gate["deployed"] == candidate.id
    assert set(gate["perplexity"]["old"]) == {"deployed", "candidate"}
    assert gate["perplexity"]["new"]["candidate"] is not None
    assert second["released"] is None and read_releases(workspace).deployed == 1
