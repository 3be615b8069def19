"""The approximate (ANN) vector index: built past the size threshold, kept current,
retrained after growth, and searching as exact search does."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from retrieval_corpus import add_text_document

from core.cli.main import main
from core.retrieval import ann
from core.retrieval.ann import needs_training, vector_index
from core.retrieval.index import IndexDocumentsConfig, index_status, update_index
from core.retrieval.search import search, vector_candidates
from core.retrieval.store import CHUNKS, connect, open_pinned, read_manifest, require_active
from core.workspace import Workspace

TOPICS = [
    "radar maintenance depot spare parts calibration field technicians".split(),
    "cybersecurity incident response monitoring network intrusion analysts".split(),
    "harbour berth cargo vessel scheduling maritime logistics cranes".split(),
    "payroll labour category rates timesheets invoicing finance audit".split(),
    "training courses curriculum instructors classroom simulators trainees".split(),
    "cloud migration database servers backups availability hosting".split(),
]
FILLER = "the contractor shall provide support services with staff and reports".split()
CONFIG = IndexDocumentsConfig(chunk_tokens=32, chunk_overlap=0)


class HashEmbedder:
    """Bag-of-words vectors (each word hashed to a few dimensions): passages on one topic
    lie close together, as real embeddings do, and embedding costs nothing."""

    dim = 64
    max_tokens = 256
    path = Path("hash-embedder")
    name = "hash-embedder"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.sha256(word.encode()).digest()
            for i in range(3):
                vector[digest[i] % self.dim] += 1.0 if digest[i + 3] % 2 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed(self, texts: list[str], **_: Any) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def _paragraph(rng: random.Random, topic: list[str]) -> str:
    return " ".join(rng.choice(topic) if rng.random() < 0.6 else rng.choice(FILLER)
                    for _ in range(28)) + "."


def add_documents(workspace: Workspace, folder: Path, start: int, count: int) -> None:
    """``count`` documents of 10 one-passage paragraphs each, on rotating topics."""
    rng = random.Random(start)
    for n in range(start, start + count):
        topic = TOPICS[n % len(TOPICS)]
        paragraphs = [_paragraph(rng, topic) for _ in range(10)]
        add_text_document(workspace, folder, f"doc{n}.md", "proposal", f"Document {n}",
                          [((f"Part {n}",), paragraphs)])


def chunk_table(workspace: Workspace) -> Any:
    return open_pinned(connect(workspace), require_active(workspace), CHUNKS)


@pytest.mark.parametrize(("rows", "trained", "indexed", "expected"), [
    (99, 0, False, False),      # under the threshold: exact search is fast enough
    (100, 0, False, True),      # at the threshold: build it
    (150, 100, True, False),    # grown, but not enough to retrain; optimize folds rows in
    (200, 100, True, True),     # grown 2×: retrain
    (120, 100, False, True),    # the manifest says trained, but the index is gone
    (50, 100, True, False),     # shrank: the index stays, harmless
])
def test_when_the_index_is_trained(rows: int, trained: int, indexed: bool,
                                   expected: bool) -> None:
    assert needs_training(rows, trained, indexed, min_rows=100) is expected


def test_the_index_is_built_past_the_threshold_kept_current_and_retrained(
        workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ann, "ANN_MIN_ROWS", 300)
    embedder = HashEmbedder()
    add_documents(workspace, tmp_path / "docs", 0, 25)  # ~250 passages: under it
    update_index(workspace, CONFIG, embedder=embedder)
    assert vector_index(chunk_table(workspace)) is None
    assert index_status(workspace)["approximate_index_rows"] is None

    add_documents(workspace, tmp_path / "docs", 25, 10)  # ~350: past it
    update_index(workspace, CONFIG, embedder=embedder)
    table = chunk_table(workspace)
    rows = table.count_rows()
    assert rows >= 300 and vector_index(table) is not None
    assert read_manifest(workspace).active.ann_rows[CHUNKS] == rows
    assert index_status(workspace)["approximate_index_rows"] == rows

    # the approximate search finds what the exact one finds
    rng = random.Random(1)
    recall = []
    for topic in TOPICS * 3:
        query = embedder.embed_query(_paragraph(rng, topic))
        approximate = vector_candidates(table, query, None, 10, ["chunk_id"])
        exact = vector_candidates(table, query, None, 10, ["chunk_id"], exact=True)
        recall.append(len({r["chunk_id"] for r in approximate}
                          & {r["chunk_id"] for r in exact}) / 10)
    assert np.mean(recall) >= 0.95
    hits = search(workspace, "harbour berth cargo cranes", k=5, embedder=embedder,
                  use_reranker=False, kinds=("proposal",))
    assert hits and all(hit.title.startswith("Document") for hit in hits)

    # growth under 2×: the new rows are folded into the same index, not retrained
    add_documents(workspace, tmp_path / "docs", 35, 10)
    update_index(workspace, CONFIG, embedder=embedder)
    table = chunk_table(workspace)
    stats = table.index_stats(vector_index(table).name)
    assert stats.num_unindexed_rows == 0 and stats.num_indexed_rows == table.count_rows()
    assert read_manifest(workspace).active.ann_rows[CHUNKS] == rows

    # past 2× the rows it was trained on: trained again on all of them
    add_documents(workspace, tmp_path / "docs", 45, 30)
    update_index(workspace, CONFIG, embedder=embedder)
    grown = chunk_table(workspace).count_rows()
    assert grown >= 2 * rows
    assert read_manifest(workspace).active.ann_rows[CHUNKS] == grown

    assert main(["index-status", "-w", str(workspace.root)]) == 0
    assert f"approximate index (IVF-PQ, trained on {grown:,} passages)" in capsys.readouterr().out
