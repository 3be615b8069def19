"""Rank fusion, highlighting, filters and safe model loading (no index needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelError
from core.retrieval.embedder import check_model_folder
from core.retrieval.ranking import highlight_html, query_terms, rrf_fuse, term_spans
from core.retrieval.search import build_filter, fts_query
from core.retrieval.store import RetrievalError


def test_rrf_on_hand_made_rankings() -> None:
    vector = ["a", "b", "c", "d"]
    text = ["c", "a", "e"]
    fused = rrf_fuse([vector, text], k=60)
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["e"] == pytest.approx(1 / 63)
    assert [key for key, _ in fused] == ["a", "c", "b", "e", "d"]
    # in both lists beats top of one list; duplicates in a list count once
    assert rrf_fuse([["x", "y"], ["y", "y"]])[0][0] == "y"
    assert rrf_fuse([[], []]) == []


def test_rrf_ties_keep_first_appearance() -> None:
    assert [k for k, _ in rrf_fuse([["p"], ["q"]])] == ["p", "q"]


def test_query_terms_and_spans() -> None:
    assert query_terms("What is the code for a Senior Systems Engineer?") == [
        "code", "senior", "systems", "engineer"]
    text = "Senior systems engineers (NAS-SE-03) lead; a senior engineer reviews."
    spans = term_spans(text, "senior engineer NAS-SE-03")
    assert [text[s:e] for s, e in spans] == [
        "Senior", "engineers", "NAS-SE-03", "senior", "engineer"]
    html = highlight_html("a < b and migrate", term_spans("a < b and migrate", "migration"))
    assert html == "a &lt; b and <b>migrate</b>"


def test_filters() -> None:
    assert build_filter() is None
    where = build_filter(["rfp", "proposal"], ["navy"], "2026-01-01", "2026-02-01")
    assert where == ("kind IN ('rfp', 'proposal') AND tags LIKE '%|navy|%' AND "
                     "imported >= '2026-01-01' AND imported <= '2026-02-01\uffff'")
    assert "''" in build_filter(tags=["o'brien"])
    with pytest.raises(RetrievalError):
        build_filter(since="last week")
    assert fts_query('"quoted" AND (x) it\'s') == "quoted AND x it s"


def test_pickle_only_model_folders_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(ModelError, match="pickle"):
        check_model_folder(folder)
    with pytest.raises(ModelError, match="does not exist"):
        check_model_folder(tmp_path / "missing")
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(ModelError, match="safetensors"):
        check_model_folder(folder)
