"""What changed since the deployed release, and when an update is proposed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers.workspaces import add_text_document as _add

from core.adaptation.changes import (
    AdaptPolicy,
    check_for_update,
    save_policy,
    summary_lines,
)
from core.cli.main import main
from core.ingest.model import DocumentRecord
from core.ingest.store import DocumentStore
from core.workspace import Workspace
from core.workspace.registry import DocumentRef, ModelRecord, ModelRegistry
from core.workspace.releases import promote, read_releases


def _release_trained_on(workspace: Workspace, documents: list[DocumentRecord]) -> None:
    """An adapter trained on ``documents`` and a GGUF exported from it, promoted."""
    registry = ModelRegistry(workspace)
    refs = tuple(DocumentRef(document_id=d.id, version=d.latest.version) for d in documents)
    adapter = ModelRecord(id="adapter-1", name="a", kind="adapter", architecture="gemma3",
                          documents=refs, config={"recipe": "cpt"})
    with registry.create("adapter-1", lambda folder: adapter) as folder:
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    gguf = ModelRecord(id="gguf-1", name="g", kind="gguf", architecture="gemma3",
                       format="gguf", parents=("adapter-1",))
    with registry.create("gguf-1", lambda folder: gguf) as folder:
        (folder / "model.gguf").write_bytes(b"GGUF")
    promote(workspace, "gguf-1")


def test_before_any_release_every_text_document_is_waiting(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    _add(workspace, tmp_path / "d", "a.md", "The contractor shall report monthly.\n" * 40)
    _add(workspace, tmp_path / "d", "rates.md", "code: X; rate: 1", kind="reference")
    check = check_for_update(workspace, update_index=False)
    assert check.reference_model is None and check.propose
    assert [(c.title, c.change) for c in check.text_changes] == [("a.md", "added")]
    assert [c.title for c in check.reference_changes] == ["rates.md"]
    assert check.text_changes[0].tokens == pytest.approx(37 * 40 / 4, abs=12)
    assert "no release" in check.reasons[0]


def test_changes_since_the_release_and_the_thresholds(workspace: Workspace,
                                                      tmp_path: Path) -> None:
    docs = tmp_path / "d"
    first = _add(workspace, docs, "a.md", "Old past performance text.")
    gone = _add(workspace, docs, "b.md", "A document that will be removed.")
    same = _add(workspace, docs, "c.md", "Unchanged text.")
    _release_trained_on(workspace, [first, gone, same])
    save_policy(workspace, AdaptPolicy(min_documents=3, min_tokens=10_000, max_age_days=180))
    quiet = check_for_update(workspace, update_index=False)
    assert quiet.text_changes == () and not quiet.propose
    assert quiet.reference_model == "gguf-1" and quiet.release == 1

    _add(workspace, docs, "a2.md", "New past performance text, longer.", doc_id=first.id)
    DocumentStore(workspace).remove(gone.id)
    _add(workspace, docs, "d.md", "A new proposal. " * 10)
    check = check_for_update(workspace, update_index=False)
    changes = {c.title: (c.change, c.trained_version, c.current_version)
               for c in check.text_changes}
    assert changes == {"a.md": ("changed", 1, 2), "b.md": ("removed", 1, None),
                       "d.md": ("added", None, 1)}
    assert not check.propose  # two touched documents, few tokens, a fresh release

    save_policy(workspace, AdaptPolicy(min_documents=2))
    assert check_for_update(workspace, update_index=False).propose
    save_policy(workspace, AdaptPolicy(min_documents=50, min_tokens=40))
    assert "tokens" in check_for_update(workspace, update_index=False).reasons[0]
    save_policy(workspace, AdaptPolicy(min_documents=50, max_age_days=30))
    promoted = datetime.fromisoformat(read_releases(workspace).current.promoted)
    old = check_for_update(workspace, update_index=False, now=promoted + timedelta(days=31))
    assert old.propose and "days old" in old.reasons[0]
    assert any("changed" in line and "v1 → v2" in line for line in summary_lines(check))


def test_reference_changes_go_to_the_index_at_once(workspace: Workspace, tmp_path: Path,
                                                   capsys) -> None:  # noqa: ANN001
    from core.retrieval.index import index_status

    _add(workspace, tmp_path / "d", "rates.csv", "code: NAS-1; rate: 100", kind="reference")
    assert main(["adapt", "-w", str(workspace.root), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["index_updated"] and len(result["reference_changes"]) == 1
    assert result["text_changes"] == [] and not result["propose"]
    assert index_status(workspace)["documents"] == 1
    assert main(["adapt", "-w", str(workspace.root), "--no-index"]) == 0
    assert "reference tables" in capsys.readouterr().out


def test_lineage_tree_reaches_the_documents(workspace: Workspace, tmp_path: Path) -> None:
    from core.adaptation.lineage import lineage_tree
    from core.datasets import DatasetStore

    doc = _add(workspace, tmp_path / "d", "a.md", "Past performance text.")
    fields = {"created": "2026-01-01T00:00:00+00:00", "model": "x",
              "documents": [{"document_id": doc.id, "version": 1}]}
    dataset = DatasetStore(workspace).commit("cpt", {"train.jsonl": [], "heldout.jsonl": []},
                                             fields).id
    registry = ModelRegistry(workspace)
    adapter = ModelRecord(id="adapter-1", name="a", kind="adapter", architecture="gemma3",
                          config={"recipe": "cpt"}, datasets=(dataset,), parents=("gone-base",))
    with registry.create("adapter-1", lambda folder: adapter) as folder:
        (folder / "adapter_model.safetensors").write_bytes(b"w")
    lines = lineage_tree(workspace, "adapter-1")
    assert lines[0].startswith("adapter-1 (adapter); recipe cpt")
    assert f"dataset {dataset} (cpt): a.md v1" in lines[1]
    assert lines[2].strip() == "← gone-base (removed)"


def test_one_state_for_the_app_and_the_cli(workspace: Workspace, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17: the Releases pane proposed an update while `adapt --check` said none was
    needed; both now read the same state and the same sentence."""
    def state() -> tuple[str, str]:
        check = check_for_update(workspace, update_index=False)
        assert main(["adapt", "--check", "-w", str(workspace.root), "--no-index"]) == 0
        printed = capsys.readouterr().out
        assert check.headline() in printed  # the CLI says what the app says
        assert main(["adapt", "--check", "-w", str(workspace.root), "--no-index",
                     "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == check.state
        return check.state, check.headline()

    assert state()[0] == "no-documents"
    first = _add(workspace, tmp_path / "d", "a.md", "The contractor shall report monthly.\n")
    found, said = state()
    assert found == "first-release" and "ready to train the first one" in said
    _release_trained_on(workspace, [first])
    found, said = state()
    assert found == "current" and said.startswith("Release 1 is current")
    _add(workspace, tmp_path / "d", "b.md", "A new past performance record.")
    save_policy(workspace, AdaptPolicy(min_documents=5, min_tokens=10_000))
    assert state()[0] == "below-threshold"
    save_policy(workspace, AdaptPolicy(min_documents=1))
    found, said = state()
    assert found == "update-proposed" and said.startswith("Update proposed: 1 text document")
