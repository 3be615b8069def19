"""Releases and the regression gate on real GGUF files: the bundled Gemma 3 270M Q4_K_M
and a deliberately worse Q2_K re-quantization of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.adaptation.gate import run_gate
from core.cli.main import main
from core.generation.runtime import default_model_id
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from core.workspace.releases import (
    ReleaseError,
    deployed_model_id,
    promote,
    read_releases,
    rollback,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _register(workspace: Workspace, model_id: str, source: Path) -> None:
    from core.fsutil import link_or_copy

    record = ModelRecord(id=model_id, name=model_id, kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        link_or_copy(source, folder / f"{model_id}.gguf")


def _requantize_q2k(source: Path, target: Path) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q2_K
    params.allow_requantize = True
    assert llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(),
                                          params) == 0
    return target


@pytest.fixture(scope="module")
def releases_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from core.models.bundled import assemble_gguf

    folder = tmp_path_factory.mktemp("releases")
    workspace = Workspace.create(folder / "ws")
    good = assemble_gguf()
    _register(workspace, "good", good)
    _register(workspace, "good-copy", good)
    _register(workspace, "bad", _requantize_q2k(good, folder / "bad.gguf"))
    (workspace.root / "prompts.jsonl").write_text(
        json.dumps({"prompt": "Name one duty of a program manager."}) + "\n")
    return workspace


def test_promote_list_and_roll_back(releases_ws: Workspace, capsys) -> None:  # noqa: ANN001
    workspace = releases_ws
    assert read_releases(workspace).releases == ()
    assert deployed_model_id(workspace) is None
    with pytest.raises(ReleaseError, match="nothing to roll back"):
        rollback(workspace)

    first = promote(workspace, "good")
    assert (first.version, first.model_id) == (1, "good")
    assert "good (gguf)" in first.notes  # written from the lineage
    assert default_model_id(workspace) == "good"  # drafting follows the deployed release
    with pytest.raises(ReleaseError, match="first"):
        rollback(workspace)

    root = str(workspace.root)
    assert main(["release", "promote", "good-copy", "-w", root, "--no-gate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2
    assert default_model_id(workspace) == "good-copy"
    assert main(["release", "list", "-w", root]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[3].startswith("*  2") and "good-copy" in listing

    assert main(["release", "rollback", "-w", root]) == 0
    assert "release 1" in capsys.readouterr().out
    assert default_model_id(workspace) == "good"
    book = read_releases(workspace)
    assert book.deployed == 1 and len(book.releases) == 2  # history kept
    assert main(["release", "rollback", "2", "-w", root]) == 0
    assert default_model_id(workspace) == "good-copy"
    assert main(["release", "rollback", "9", "-w", root]) == 1
    assert "No release 9" in capsys.readouterr().err
    actions = [e.action for e in workspace.audit.entries()]
    assert actions.count("release.promote") == 2 and actions.count("release.rollback") == 2


def test_only_gguf_models_are_released(releases_ws: Workspace, tiny_model_dir: Path) -> None:
    from helpers.workspaces import register_tiny_base

    model_id = register_tiny_base(releases_ws, tiny_model_dir, "tiny-not-gguf")
    with pytest.raises(ReleaseError, match="export it to GGUF"):
        promote(releases_ws, model_id)


def test_the_gate_blocks_a_worse_candidate_and_passes_a_better_one(
        releases_ws: Workspace) -> None:
    workspace = releases_ws
    promote(workspace, "bad", gate=None)
    better = run_gate(workspace, "good")
    assert better["compared"] and better["passed"], better["reason"]
    old = better["perplexity"]["old"]
    assert old["candidate"] < old["deployed"]
    assert len(better["prompts"]) == 1 and better["prompts"][0]["candidate"]
    promote(workspace, "good", gate=better)

    worse = run_gate(workspace, "bad")
    assert worse["compared"] and not worse["passed"]
    assert worse["perplexity"]["old"]["candidate"] > worse["perplexity"]["old"]["deployed"]
    with pytest.raises(ReleaseError, match="gate blocked"):
        promote(workspace, "bad", gate=worse)
    assert deployed_model_id(workspace) == "good"
    forced = promote(workspace, "bad", gate=worse, override="needed the new rates today")
    assert forced.override == "needed the new rates today"
    last = workspace.audit.entries()[-1]
    assert last.action == "release.promote" and last.details["override"] == forced.override
