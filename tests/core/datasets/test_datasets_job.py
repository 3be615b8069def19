"""The ``build-dataset`` job function with a fake context; the real base model's tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_fixtures import PROPOSAL_BLOCKS, RFP_BLOCKS, TINY, add_document

from core.datasets import BuildDatasetConfig, DatasetStore, build_dataset
from core.datasets.job import run_build_job
from core.errors import JobCancelled, ModelError
from core.ingest.store import DocumentStore
from core.jobs.progress import JobContext, ProgressEvent
from core.workspace import Workspace


def context(workspace: Workspace, cancel_after: int | None = None
            ) -> tuple[JobContext, list[ProgressEvent]]:
    events: list[ProgressEvent] = []
    job_dir = workspace.runs_dir / "run-dataset"
    job_dir.mkdir(parents=True, exist_ok=True)

    def cancelled() -> bool:
        steps = [e for e in events if e.type == "progress" and e.step > 0]
        return cancel_after is not None and len(steps) >= cancel_after

    return JobContext(job_dir, cancelled, min_interval_s=0, sink=events.append), events


def test_job_reports_each_document(corpus_workspace: Workspace) -> None:
    ctx, events = context(corpus_workspace)
    config = BuildDatasetConfig(kind="cpt", model=TINY, seq_len=32)
    result = run_build_job(config, ctx)
    assert result["dataset_id"] == "cpt-v1" and result["reused"] is False
    tokenised = [e for e in events if e.message.startswith("tokenised")]
    assert len(tokenised) == 12 and tokenised[-1].step == tokenised[-1].total == 12
    again = run_build_job(config, ctx)
    assert again["reused"] is True and again["dataset_id"] == "cpt-v1"


def test_job_cancel_leaves_no_dataset(corpus_workspace: Workspace) -> None:
    ctx, _ = context(corpus_workspace, cancel_after=3)
    with pytest.raises(JobCancelled):
        run_build_job(BuildDatasetConfig(kind="cpt", model=TINY, seq_len=32), ctx)
    assert DatasetStore(corpus_workspace).list() == []
    assert not [p for p in corpus_workspace.datasets_dir.iterdir() if p.is_dir()]


def test_pickle_only_model_folder_is_refused(corpus_workspace: Workspace,
                                             tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 not really")
    with pytest.raises(ModelError, match="pickle"):
        build_dataset(corpus_workspace, BuildDatasetConfig(kind="cpt", model=str(folder)))


@pytest.mark.slow
def test_real_base_model_tokenizer_and_chat_template(tmp_path: Path) -> None:
    """The default ``gemma3-270m``: its own tokenizer and chat template (cached conversion)."""
    from core.models.bundled import import_base_model

    workspace = Workspace.create(tmp_path / "ws")
    import_base_model(workspace)
    rfp = add_document(workspace, tmp_path / "src", "rfp.md", RFP_BLOCKS, kind="rfp")
    proposal = add_document(workspace, tmp_path / "src", "proposal.md", PROPOSAL_BLOCKS,
                            kind="proposal")
    DocumentStore(workspace).pair(rfp.id, proposal.id)
    sft = build_dataset(workspace, BuildDatasetConfig(kind="sft")).record
    assert sft.model == "gemma3-270m" and sft.summary["by_source"] == {"rfp-proposal": 2}
    store = DatasetStore(workspace)
    row = (store.rows(sft.id) + store.rows(sft.id, "heldout"))[0]
    assert "<start_of_turn>user" in row["prompt"] and row["prompt"].endswith("model\n")
    assert row["completion"].rstrip().endswith("<end_of_turn>")
    cpt = build_dataset(workspace, BuildDatasetConfig(kind="cpt", seq_len=16)).record
    assert cpt.tokenizer["vocab_size"] > 200_000 and cpt.summary["train"] >= 1
