"""Indexing: incremental updates, interruption, filters, status, and the job/CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from retrieval_corpus import TEXT_DOCUMENTS, add_text_document, build_corpus

from core.cli.main import main
from core.errors import JobCancelled
from core.ingest.store import DocumentStore
from core.jobs.kinds import get_kind, validate_config
from core.retrieval import index as index_module
from core.retrieval.embedder import Embedder, load_embedder
from core.retrieval.index import IndexDocumentsConfig, index_status, update_index
from core.retrieval.search import passage_context, search
from core.retrieval.store import CHUNKS, IndexNotBuilt, connect, open_pinned, require_active
from core.workspace import Workspace


class SpyEmbedder:
    """The real embedder, recording what it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.embedded: list[str] = []
        self.dim = inner.dim
        self.path = inner.path
        self.max_tokens = inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: list[str], **kwargs: Any) -> Any:
        self.embedded.extend(texts)
        return self.inner.embed(texts, **kwargs)

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)


class FakeContext:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.reports: list[tuple[int, int, str]] = []
        self.cancel_after = cancel_after

    def report(self, step: int, total: int, message: str = "", **_: Any) -> None:
        self.reports.append((step, total, message))

    def log(self, message: str, level: str = "info") -> None:
        pass

    def cancelled(self) -> bool:
        done = sum(1 for step, _, _ in self.reports if step > 0)
        return self.cancel_after is not None and done >= self.cancel_after

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled("The job was cancelled.")


@pytest.fixture
def spy() -> SpyEmbedder:
    return SpyEmbedder(load_embedder(None))


@pytest.fixture
def corpus(workspace: Workspace, tmp_path: Path) -> dict[str, Any]:
    return build_corpus(workspace, tmp_path / "corpus")


def chunk_counts(workspace: Workspace) -> Counter[str]:
    table = open_pinned(connect(workspace), require_active(workspace), CHUNKS)
    rows = table.search().select(["doc_id", "version"]).limit(table.count_rows()).to_list()
    return Counter(f"{r['doc_id']}@{r['version']}" for r in rows)


def test_search_before_indexing_says_so(workspace: Workspace) -> None:
    with pytest.raises(IndexNotBuilt, match="not been indexed"):
        search(workspace, "anything")
    assert index_status(workspace)["built"] is False


def test_build_then_search_with_metadata_and_context(workspace, corpus, spy) -> None:  # noqa: ANN001
    ctx = FakeContext()
    result = update_index(workspace, ctx=ctx, embedder=spy)
    assert result["documents"] == 7 and result["reference_rows"] == 7
    assert [step for step, _, _ in ctx.reports][-1] == ctx.reports[-1][1]  # ends at 100 %
    assert len({total for _, total, _ in ctx.reports}) == 1
    hits = search(workspace, "response time for critical alerts", k=3, embedder=spy)
    top = next(hit for hit in hits if "fifteen minutes" in hit.text)
    assert top.title == "Harbour Data Platform RFP" and top.kind == "rfp"
    assert top.section == ("Harbour Data Platform", "Requirements") and top.page == 1
    assert top.version == 1 and "fifteen minutes" in top.text
    assert "response" in [top.text[s:e].lower() for s, e in top.spans]
    passage = passage_context(workspace, top)
    assert passage.text == DocumentStore(workspace).text(top.doc_id)
    assert "fifteen minutes" in passage.text[passage.start:passage.end]
    status = index_status(workspace)
    assert status["documents"] == 7 and status["chunks"] == result["chunks"]
    assert status["out_of_date"] == [] and status["last_update"]


def test_filters_by_kind_tag_and_date(workspace, corpus, spy) -> None:  # noqa: ANN001
    store = DocumentStore(workspace)
    store.set_tags(corpus["proposal-fleet-maintenance.md"].id, ["fleet", "2025"])
    update_index(workspace, embedder=spy)
    for mode in ("hybrid", "vector", "text"):
        hits = search(workspace, "databases migration", mode=mode, kinds=["proposal"],
                      embedder=spy)
        assert hits and {h.kind for h in hits} == {"proposal"}
        tagged = search(workspace, "maintenance", mode=mode, tags=["fleet"], embedder=spy)
        assert {h.doc_id for h in tagged} == {corpus["proposal-fleet-maintenance.md"].id}
        assert tagged[0].tags == ("2025", "fleet")
    assert search(workspace, "databases", since="2999-01-01", embedder=spy) == []
    assert search(workspace, "databases", until="2000-01-01", embedder=spy) == []
    today = corpus["policy-travel.md"].latest.imported[:10]
    assert search(workspace, "databases", since=today, until=today, embedder=spy)


def test_incremental_update_touches_only_changed_documents(
    workspace, corpus, spy, tmp_path  # noqa: ANN001
) -> None:
    update_index(workspace, embedder=spy)
    before = chunk_counts(workspace)
    travel = corpus["policy-travel.md"]
    fleet = corpus["rfp-fleet-maintenance.md"]
    harbour = corpus["proposal-harbour-data-platform.md"]

    spy.embedded.clear()
    assert update_index(workspace, embedder=spy)["indexed"] == []
    assert spy.embedded == []  # nothing changed, nothing embedded

    new = add_text_document(workspace, tmp_path / "more", "rfp-drones.md", "rfp", "Drone RFP",
                            [(("Drones",), ["Quadcopters survey the breakwater weekly."])])
    add_text_document(workspace, tmp_path / "more", "policy-travel.md", "other", "Travel policy",
                      [(("Travel",), ["Rail is preferred for trips under four hours."])],
                      doc_id=travel.id)
    DocumentStore(workspace).remove(fleet.id)
    spy.embedded.clear()
    result = update_index(workspace, embedder=spy)

    assert sorted(result["indexed"]) == sorted([new.id, travel.id])
    assert result["removed"] == [fleet.id]
    assert all("Quadcopters" in t or "Rail is preferred" in t for t in spy.embedded)
    after = chunk_counts(workspace)
    assert f"{travel.id}@2" in after and f"{travel.id}@1" not in after
    assert f"{new.id}@1" in after
    assert not any(key.startswith(fleet.id) for key in after)
    unchanged = [k for k in before if not k.startswith((travel.id, fleet.id))]
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert harbour.id + "@1" in after
    hits = search(workspace, "train or flight for short trips", k=1, embedder=spy)
    assert "Rail is preferred" in hits[0].text and hits[0].version == 2

    spy.embedded.clear()  # a kind change re-indexes that document only
    DocumentStore(workspace).set_kind(travel.id, "reference")
    assert update_index(workspace, embedder=spy)["indexed"] == [travel.id]
    assert search(workspace, "rail", kinds=["reference"], embedder=spy)[0].doc_id == travel.id


def test_interrupted_update_leaves_the_old_index_searchable(
    workspace, corpus, spy, tmp_path, monkeypatch  # noqa: ANN001
) -> None:
    update_index(workspace, embedder=spy)
    travel = corpus["policy-travel.md"]
    add_text_document(workspace, tmp_path / "more", "policy-travel.md", "other", "Travel policy",
                      [(("Travel",), ["Rail is preferred for trips under four hours."])],
                      doc_id=travel.id)

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("power cut at the commit point")

    monkeypatch.setattr(index_module, "write_manifest", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        update_index(workspace, embedder=spy)
    monkeypatch.undo()

    # the new rows were written, but readers still see the committed index
    hits = search(workspace, "economy class flights", k=1, embedder=spy)
    assert "economy class" in hits[0].text and hits[0].version == 1
    assert all(h.version == 1 for h in search(workspace, "rail trips", k=10, embedder=spy)
               if h.doc_id == travel.id)
    assert index_status(workspace)["out_of_date"] == [travel.id]

    result = update_index(workspace, embedder=spy)  # the re-run finishes the work
    assert result["indexed"] == [travel.id]
    counts = chunk_counts(workspace)
    assert counts[f"{travel.id}@2"] == 1 and counts[f"{travel.id}@1"] == 0
    assert "Rail" in search(workspace, "rail trips", k=1, embedder=spy)[0].text


def test_cancelled_update_keeps_committed_work(workspace, corpus, spy, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(index_module, "BATCH_DOCUMENTS", 2)
    with pytest.raises(JobCancelled):
        update_index(workspace, ctx=FakeContext(cancel_after=3), embedder=spy)
    partial = index_status(workspace)
    assert 0 < partial["documents"] < 7  # the batches that finished were committed
    assert search(workspace, "databases", embedder=spy)
    result = update_index(workspace, embedder=spy)
    assert len(result["indexed"]) == 7 - partial["documents"]
    assert index_status(workspace)["documents"] == 7


def test_rebuild_with_new_chunk_size_swaps_generations(workspace, corpus, spy) -> None:  # noqa: ANN001
    update_index(workspace, embedder=spy)
    first = require_active(workspace)
    result = update_index(workspace, IndexDocumentsConfig(chunk_tokens=64, chunk_overlap=8),
                          embedder=spy)
    assert result["rebuilt"] and len(result["indexed"]) == 7
    second = require_active(workspace)
    assert second.number == first.number + 1 and second.settings.chunk_tokens == 64
    from core.retrieval.store import table_names

    names = table_names(connect(workspace))
    assert first.table(CHUNKS) not in names and second.table(CHUNKS) in names
    assert search(workspace, "berth allocation", embedder=spy)


def test_job_kind_is_registered() -> None:
    kind = get_kind("index-documents")
    assert kind.config.endswith("IndexDocumentsConfig")
    config = validate_config("index-documents", {"chunk_tokens": 128})
    assert config.chunk_tokens == 128


@pytest.mark.timeout(600)
def test_cli_index_search_lookup_status_eval(
    workspace, corpus, tmp_path, capsys  # noqa: ANN001
) -> None:
    root = str(workspace.root)
    assert main(["index", "-w", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == len(TEXT_DOCUMENTS) + 2
    assert main(["search", "-w", root, "critical alerts", "--k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and any("fifteen minutes" in hit["text"] for hit in hits)
    assert main(["search", "-w", root, "NAS-SE-03", "--kind", "reference", "--mode", "text"]) == 0
    assert "Senior Systems Engineer" in capsys.readouterr().out.splitlines()[1]
    assert main(["lookup", "-w", root, "nas-se-03"]) == 0
    assert "[exact]" in capsys.readouterr().out
    assert main(["lookup", "-w", root, "no such thing"]) == 1
    capsys.readouterr()
    assert main(["index-status", "-w", root]) == 0
    assert "documents: 7" in capsys.readouterr().out
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "critical alerts response",
                                     "expected_source": "rfp-harbour-data-platform.md"}) + "\n")
    assert main(["eval-retrieval", "-w", root, str(questions), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) == {"hybrid", "vector", "text"}
    assert scores["hybrid"]["recall_at_k"] == 1.0


def _tiny_cross_encoder(folder: Path) -> Path:
    """A tiny random BERT cross-encoder (1 label) with MiniLM's tokenizer, as safetensors."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    from core.retrieval.embedder import bundled_model_path

    source = bundled_model_path()
    folder.mkdir()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=1)
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    return folder


def test_cross_encoder_reranks_when_configured(workspace, corpus, spy, tmp_path) -> None:  # noqa: ANN001
    from core.retrieval.embedder import load_reranker

    model = _tiny_cross_encoder(tmp_path / "cross-encoder")
    update_index(workspace, IndexDocumentsConfig(reranker_model=str(model)), embedder=spy)
    assert index_status(workspace)["reranker_model"] == str(model)
    hits = search(workspace, "databases", k=4, embedder=spy)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    expected = load_reranker(str(model)).scores("databases", [h.text for h in hits])
    assert scores == pytest.approx(expected, rel=1e-4)
    plain = search(workspace, "databases", k=4, embedder=spy, use_reranker=False)
    assert all(0 < h.score < 0.05 for h in plain)  # RRF scores without the re-ranker


def test_a_huge_document_is_indexed_up_to_the_passage_cap(
        workspace: Workspace, corpus: dict[str, Any], spy: SpyEmbedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: one pathological file must not hold indexing for hours; it is indexed up
    to MAX_PASSAGES, the job's log says so, and progress is reported while it embeds."""
    monkeypatch.setattr(index_module, "MAX_PASSAGES", 3)
    logged: list[str] = []
    ctx = FakeContext()
    ctx.log = lambda message, level="info": logged.append(message)  # type: ignore[method-assign]
    result = update_index(workspace, ctx=ctx, embedder=spy)  # type: ignore[arg-type]
    counts = chunk_counts(workspace)
    assert max(counts.values()) == 3
    assert result["truncated"] and all(counts[f"{doc}@1"] == 3 for doc in result["truncated"])
    assert any("only its first 3 passages are indexed" in line for line in logged)
    assert any("embedding passage" in message for _, _, message in ctx.reports)
