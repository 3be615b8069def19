"""The embedder's precision: indexing in bfloat16 where the CPU multiplies it in hardware,
float32 elsewhere or when the settings say so; queries and scores always float32;
bfloat16 passage vectors stay within cosine 0.999 of float32's and are found by the same
queries; on the sample workspace an index built at either precision answers the shipped
questions as well."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from core.cpu import cpu_flags, cpu_has_bf16_matmul
from core.errors import ModelError
from core.retrieval import embedder as embedder_module
from core.retrieval.embedder import load_embedder, resolve_precision
from core.settings import Settings, save_settings


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some Xeon\n"
                    "flags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n\nprocessor\t: 1\n")
    flags = cpu_flags.__wrapped__(info)
    assert {"fpu", "avx512f", "amx_bf16"} <= flags
    assert cpu_has_bf16_matmul(flags)
    assert not cpu_has_bf16_matmul(frozenset({"avx512f", "avx2"}))
    assert cpu_has_bf16_matmul(frozenset({"avx512_bf16"}))
    assert cpu_flags.__wrapped__(tmp_path / "missing") == frozenset()


def test_auto_follows_the_cpu_and_the_settings_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_module, "cpu_has_bf16_matmul", lambda: True)
    assert resolve_precision("auto") == "bfloat16"
    monkeypatch.setattr(embedder_module, "cpu_has_bf16_matmul", lambda: False)
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    assert resolve_precision(None) == "float32"  # default settings: auto
    save_settings(Settings(embedding_precision="bfloat16"))
    assert resolve_precision(None) == "bfloat16"
    with pytest.raises(ModelError, match="precision"):
        resolve_precision("int4")


SENTENCES = [
    "The contractor shall deliver the monthly status report within ten days.",
    "Key personnel: the program manager holds a PMP certification.",
    "Labour category: Senior Systems Engineer, code SE3, hourly rate $185.",
    "The security plan is reviewed quarterly by the information system owner.",
    "Past performance: three contracts of similar size and scope since 2019.",
    "Transition-in shall be complete within 60 days of contract award.",
    "Quality control: defects are logged, triaged within one business day.",
    "Section L asks for a 20-page technical volume in 12-point font.",
]


def test_bfloat16_vectors_match_float32_and_find_the_same_neighbours() -> None:
    rng = random.Random(3)
    texts = [" ".join(rng.sample(SENTENCES, 4)) for _ in range(40)] + SENTENCES
    exact = load_embedder(None, "float32")
    fast = load_embedder(None, "bfloat16")
    assert (exact.precision, fast.precision) == ("float32", "bfloat16")
    a, b = exact.embed(texts, bulk=True), fast.embed(texts, bulk=True)
    assert a.dtype == b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    assert np.abs(a - b).max() > 1e-6  # bfloat16 arithmetic did run
    # not bulk (queries, scores): float32 whatever the embedder's precision
    assert np.array_equal(fast.embed(texts[:5]), exact.embed(texts[:5]))
    assert np.array_equal(fast.embed_query(texts[0]), exact.embed_query(texts[0]))
    queries = ["When is the status report due?", "hourly rate of a systems engineer",
               "how many pages is the technical volume?"]
    for query in queries:
        vector = exact.embed_query(query)
        top_exact, top_fast = np.argsort(-(a @ vector))[:5], np.argsort(-(b @ vector))[:5]
        assert top_exact[0] == top_fast[0], query
        assert len(set(top_exact) & set(top_fast)) >= 4, query


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_index_built_at_either_precision_answers_the_sample_questions(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001
    from core.ingest.sample import populate_sample, sample_source
    from core.retrieval.evaluate import evaluate
    from core.retrieval.index import update_index
    from core.workspace import Workspace

    recall = {}
    for precision in ("float32", "bfloat16"):
        save_settings(Settings(embedding_precision=precision))
        workspace = Workspace.create(tmp_path / precision)
        populate_sample(workspace)
        update_index(workspace)
        scores = evaluate(workspace, sample_source() / "questions.jsonl", k=5,
                          modes=("vector", "hybrid"))
        recall[precision] = {mode: round(s.recall_at_k, 3) for mode, s in scores.items()}
    record_property("recall_at_5", json.dumps(recall))
    print("sample questions, recall@5 by index precision:", recall)
    for mode in ("vector", "hybrid"):
        assert recall["bfloat16"][mode] >= recall["float32"][mode], recall
