"""CPT datasets on the tiny tokenizer: packing, split by document, versions, reuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import TINY, add_document, paragraphs

from core.datasets import BuildDatasetConfig, DatasetError, DatasetStore, build_dataset
from core.datasets.corpus import load
from core.fsutil import read_json
from core.ingest.store import DocumentStore
from core.workspace import Workspace

SEQ = 32


def cpt(**values: Any) -> BuildDatasetConfig:
    return BuildDatasetConfig(**{"kind": "cpt", "model": TINY, "seq_len": SEQ, **values})


def test_cpt_rows_are_full_sequences_of_the_train_documents(
        corpus_workspace: Workspace, tiny_tokenizer: Any) -> None:
    record = build_dataset(corpus_workspace, cpt()).record
    store = DatasetStore(corpus_workspace)
    train = store.rows(record.id, "train")
    assert train and all(len(row["input_ids"]) == SEQ for row in train)
    # Every row starts with BOS; after it, the train stream rebuilt by hand: each train
    # document's tokens, then EOS.
    assert all(row["input_ids"][0] == tiny_tokenizer.bos_token_id for row in train)
    documents = DocumentStore(corpus_workspace)
    held = set(record.summary["heldout_document_ids"])
    stream: list[int] = []
    for doc in documents.list():
        if doc.id not in held:
            text = load(documents, doc).text()
            stream += tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
            stream.append(tiny_tokenizer.eos_token_id)
    flat = [t for row in train for t in row["input_ids"][1:]]
    assert flat == stream[: len(flat)]
    assert record.summary["remainder_tokens"]["train"] == len(stream) - len(flat) < SEQ - 1
    assert record.summary["train_tokens"] == len(stream)
    assert flat.count(tiny_tokenizer.eos_token_id) >= record.summary["train_documents"] - 1


def test_heldout_is_split_by_document_and_deterministic(corpus_workspace: Workspace) -> None:
    first = build_dataset(corpus_workspace, cpt()).record
    second = build_dataset(corpus_workspace, cpt(reuse=False)).record
    assert second.id != first.id
    held = set(first.summary["heldout_document_ids"])
    assert len(held) == first.summary["heldout_documents"] == 1  # round(0.1 × 12)
    assert held == set(second.summary["heldout_document_ids"])
    store = DatasetStore(corpus_workspace)
    assert store.rows(first.id, "train") == store.rows(second.id, "train")
    texts = store.rows(first.id, "heldout_text")
    assert {row["document_id"] for row in texts} == held
    assert all(row["text"] for row in texts)
    all_ids = {ref.document_id for ref in first.documents}
    assert len(all_ids) == 12 and held < all_ids
    bigger = build_dataset(corpus_workspace, cpt(heldout_fraction=0.3, reuse=False)).record
    assert bigger.summary["heldout_documents"] == 4
    assert set(bigger.summary["heldout_document_ids"]).isdisjoint(
        {d for d in all_ids if d not in bigger.summary["heldout_document_ids"]})
    other_seed = build_dataset(corpus_workspace, cpt(heldout_fraction=0.3, seed=7)).record
    assert other_seed.summary["heldout_document_ids"] != bigger.summary["heldout_document_ids"]


def test_versions_reuse_and_lineage(corpus_workspace: Workspace, tmp_path: Path) -> None:
    first = build_dataset(corpus_workspace, cpt())
    assert (first.record.id, first.record.version, first.reused) == ("cpt-v1", 1, False)
    again = build_dataset(corpus_workspace, cpt())
    assert again.reused and again.record.id == "cpt-v1"  # same inputs and config: reused
    documents = DocumentStore(corpus_workspace)
    target = documents.list()[0]
    add_document(corpus_workspace, tmp_path / "v2", "doc-00.md",
                 paragraphs(["0. The contractor shall deliver a revised plan."] * 20),
                 kind=target.kind, doc_id=target.id)
    second = build_dataset(corpus_workspace, cpt())
    assert (second.record.id, second.record.version, second.reused) == ("cpt-v2", 2, False)
    refs = {ref.document_id: ref for ref in second.record.documents}
    assert refs[target.id].version == 2
    assert refs[target.id].sha256 == documents.get(target.id).latest.sha256
    assert {ref.document_id: ref.version for ref in first.record.documents}[target.id] == 1
    store = DatasetStore(corpus_workspace)
    assert [r.id for r in store.list()] == ["cpt-v1", "cpt-v2"]
    assert store.latest("cpt").id == "cpt-v2" and store.latest("sft") is None
    record = read_json(corpus_workspace.datasets_dir / "cpt-v2" / "dataset.json")
    assert record["tokenizer"]["model"] == TINY and record["config"]["seq_len"] == SEQ
    assert set(record["files"]) == {"train.jsonl", "heldout.jsonl", "heldout_text.jsonl"}
    # Removing a dataset never hands its version number out again.
    store.remove("cpt-v2")
    assert build_dataset(corpus_workspace, cpt()).record.id == "cpt-v3"


def test_document_kinds_filter_and_removed_documents(corpus_workspace: Workspace) -> None:
    documents = DocumentStore(corpus_workspace)
    rfps = [r.id for r in documents.list() if r.kind == "rfp"]
    record = build_dataset(corpus_workspace, cpt(document_kinds=("rfp",))).record
    assert sorted(ref.document_id for ref in record.documents) == sorted(rfps)
    documents.remove(rfps[0])
    record = build_dataset(corpus_workspace, cpt(document_kinds="rfp")).record
    assert rfps[0] not in {ref.document_id for ref in record.documents}


def test_clear_errors(corpus_workspace: Workspace) -> None:
    with pytest.raises(DatasetError, match="fewer than one"):
        build_dataset(corpus_workspace, cpt(seq_len=100_000))
    with pytest.raises(DatasetError, match="No documents"):
        build_dataset(corpus_workspace, cpt(document_kinds=("proposal",)))
    with pytest.raises(Exception, match="No model 'nope'"):
        build_dataset(corpus_workspace, BuildDatasetConfig(kind="cpt", model="nope"))


def test_training_reads_the_store(corpus_workspace: Workspace) -> None:
    from core.training.data import load_training_data

    record = build_dataset(corpus_workspace, cpt()).record
    data = load_training_data(corpus_workspace, record.id, "cpt")
    assert data.kind == "cpt" and data.train.column_names == ["input_ids"]
    assert len(data.train) == record.summary["train"]
    assert len(data.heldout) == record.summary["heldout"]
