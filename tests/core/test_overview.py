"""The workspace's pipeline, stage by stage, and the next step (issue 17's Overview), the
same for the app and `scriptorium status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.hash_embedder import HashEmbedder
from helpers.workspaces import add_text_document

from core.cli.main import main
from core.overview import workspace_overview
from core.retrieval.index import update_index
from core.workspace import Workspace
from core.workspace.registry import DocumentRef, ModelRecord, ModelRegistry


def _states(workspace: Workspace) -> dict[str, str]:
    return {s.key: s.state for s in workspace_overview(workspace).stages}


def test_each_stage_follows_the_workspace(workspace: Workspace, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    overview = workspace_overview(workspace)
    assert overview.next_stage is not None and overview.next_stage.key == "documents"
    assert overview.next_stage.action == "import"

    doc = add_text_document(workspace, tmp_path / "d", "rfp.md",
                            "The contractor shall staff the SOC around the clock.\n" * 5)
    assert _states(workspace)["documents"] == "done"
    assert workspace_overview(workspace).next_stage.key == "knowledge"  # type: ignore[union-attr]
    update_index(workspace, embedder=HashEmbedder())
    states = _states(workspace)
    assert states["knowledge"] == "done" and states["training"] == "todo"

    registry = ModelRegistry(workspace)
    adapter = ModelRecord(id="sft-1", name="a", kind="adapter", architecture="gemma3",
                          documents=(DocumentRef(document_id=doc.id, version=1),))
    with registry.create("sft-1", lambda _: adapter) as folder:
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    states = _states(workspace)
    assert states["training"] == "done" and states["export"] == "attention"
    gguf = ModelRecord(id="sft-1-q4", name="g", kind="gguf", architecture="gemma3",
                       format="gguf", parents=("sft-1",))
    with registry.create("sft-1-q4", lambda _: gguf) as folder:
        (folder / "model.gguf").write_bytes(b"GGUF")
    overview = workspace_overview(workspace)
    states = {s.key: s.state for s in overview.stages}
    assert states["export"] == "done" and states["release"] == "todo"
    release = next(s for s in overview.stages if s.key == "release")
    assert "promote one of your 1 GGUF model" in release.summary

    add_text_document(workspace, tmp_path / "d", "proposal.md", "We propose three shifts.\n")
    assert _states(workspace)["knowledge"] == "attention"  # the new one is not indexed

    assert main(["status", "-w", str(workspace.root)]) == 0
    printed = capsys.readouterr().out
    assert "! Knowledge base" in printed and "next: Knowledge base: `scriptorium index`" in printed
    assert main(["status", "-w", str(workspace.root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["next"] == "knowledge" and len(report["stages"]) == 8


def test_generated_pairs_waiting_for_review_are_the_next_step(workspace: Workspace) -> None:
    from core.datasets.synthetic import SynthPair, add_pair, open_batch, review

    open_batch(workspace, "b1", {"teacher": "t"})
    for n in (1, 2):
        add_pair(workspace, SynthPair(id=f"p{n}", batch="b1", task="qa", instruction="Q?",
                                      response="A.", doc_id="d", version=1, chunk_id="c"))
    stage = next(s for s in workspace_overview(workspace).stages if s.key == "datasets")
    assert stage.state == "attention" and stage.action == "review"
    assert stage.summary.startswith("2 generated pairs wait for your review")
    review(workspace, "b1", "p1", "accepted")
    review(workspace, "b1", "p2", "rejected")
    stage = next(s for s in workspace_overview(workspace).stages if s.key == "datasets")
    assert stage.action != "review"
