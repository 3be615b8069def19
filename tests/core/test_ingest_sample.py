"""The sample workspace's documents: imported by folder kind, paired, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_corpus import CSV, JSONL

from core.ingest import sample as sample_module
from core.ingest.sample import populate_sample, sample_source
from core.ingest.store import DocumentStore
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(180)

BODY = "The navy needs hydrographic survey vessels with multibeam sonar, crews and training."


def _fake_sample(root: Path) -> Path:
    docs = root / "documents"
    for folder in ("rfps", "proposals", "reference", "pairs"):
        (docs / folder).mkdir(parents=True)
    (docs / "rfps" / "hydro-survey.md").write_text(
        f"# Hydrographic Survey\n\nSolicitation N00024-26-R-1234. {BODY}\n"
    )
    (docs / "rfps" / "cafeteria.txt").write_text("Food service for the base kitchen.\n")
    (docs / "proposals" / "hydro-survey-response.md").write_text(
        f"# Hydrographic Survey Response\n\nFor N00024-26-R-1234 we offer: {BODY}\n"
    )
    (docs / "reference" / "labor-rates.csv").write_text(CSV)
    (docs / "pairs" / "instruction-pairs.jsonl").write_text(JSONL)
    (root / "feedback").mkdir()
    (root / "feedback" / "preferences.jsonl").write_text(
        '{"prompt": "p", "chosen": "a", "rejected": "b"}\n'
    )
    return root


def test_populate_sample_is_idempotent(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _fake_sample(tmp_path / "sample")
    monkeypatch.setattr(sample_module, "sample_source", lambda: source)
    first = populate_sample(workspace)
    assert first["counts"] == {"imported": 5} and not first["failed"]
    store = DocumentStore(workspace)
    kinds = {r.latest.source_name: r.kind for r in store.list()}
    assert kinds == {
        "hydro-survey.md": "rfp",
        "cafeteria.txt": "rfp",
        "hydro-survey-response.md": "proposal",
        "labor-rates.csv": "reference",
        "instruction-pairs.jsonl": "other",
    }
    assert len(first["paired"]) == 1
    rfp_id, proposal_id = first["paired"][0]
    assert store.get(rfp_id).latest.source_name == "hydro-survey.md"
    assert store.get(proposal_id).paired_with == (rfp_id,)
    feedback = workspace.feedback_dir / "preferences.jsonl"
    assert feedback.read_bytes() == (source / "feedback" / "preferences.jsonl").read_bytes()

    second = populate_sample(workspace)
    assert second["counts"] == {"already-imported": 5} and second["paired"] == []
    assert len(store.list()) == 5


def _bundled_ready() -> bool:
    documents = sample_source() / "documents"
    return all(any((documents / folder).glob("*")) for folder in ("rfps", "proposals"))


@pytest.mark.skipif(not _bundled_ready(), reason="the bundled sample corpus is not there yet")
def test_bundled_sample_imports_cleanly(workspace: Workspace) -> None:
    result = populate_sample(workspace)
    assert not result["failed"], result["failed"]
    store = DocumentStore(workspace)
    kinds = {r.kind for r in store.list()}
    assert {"rfp", "proposal"} <= kinds
    assert result["paired"], "the sample RFPs and proposals should pair up"
    assert populate_sample(workspace)["counts"].keys() == {"already-imported"}


@pytest.mark.timeout(600)
def test_the_sample_job_imports_and_indexes(workspace: Workspace) -> None:
    """Issue 17: after opening the sample, drafts found no sources until the knowledge base
    was updated by hand; the sample's job now indexes what it imported."""
    from core.jobs import JobRunner
    from core.retrieval.index import index_status

    final = JobRunner(workspace).submit("populate-sample", {}).wait(540)
    assert final.state == "succeeded", final.error
    assert final.result["index"]["indexed"]
    status = index_status(workspace)
    assert status["built"] and not status["out_of_date"] and status["chunks"] > 100
