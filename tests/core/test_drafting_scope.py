"""Drafting retrieval stays on the solicitation being answered: passages come from that
RFP and the company's own material, never another RFP; an evaluation leaves out given
documents; reference-table lookup is not scoped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.hash_embedder import HashEmbedder
from retrieval_corpus import add_table, add_text_document

from core.drafting.scope import eval_retriever, other_rfps, proposal_retriever, rfp_ids
from core.drafting.sources import WorkspaceRetriever
from core.ingest.store import DocumentError, DocumentStore
from core.retrieval.index import update_index
from core.retrieval.search import build_filter, search
from core.workspace import Workspace

STAFFING = ("Key personnel are a program manager and a lead engineer; resumes are required "
            "and substitutions need approval.")
QUERIES = ["key personnel and staffing for the program manager",
           "evaluation criteria of solicitation 69TRSA-27-R-0042",
           "security operations centre monitoring round the clock",
           "evaluation criteria and price", "labour categories and hourly rates"]


def _docs(workspace: Workspace, folder: Path) -> dict[str, str]:
    def rfp(name: str, title: str, number: str, scope: str) -> str:
        return add_text_document(workspace, folder, name, "rfp", title, [
            ((title, "Background"), [f"Solicitation {number}. {scope}"]),
            ((title, "Staffing"), [STAFFING]),
            ((title, "Evaluation Criteria"), [
                "Technical approach, key personnel and past performance are more important "
                "than price."]),
        ]).id

    ids = {
        "rfp-data": rfp("rfp-data.md", "Data Platform RFP", "69TRSA-27-R-0042",
                        "The agency modernises its safety data platform in the cloud."),
        "rfp-soc": rfp("rfp-soc.md", "SOC Support RFP", "JL4410-27-R-0115",
                       "The agency needs security operations centre monitoring round the clock."),
        "rfp-old": rfp("rfp-old.md", "Old Records RFP", "36VR12-27-R-0219",
                       "The agency digitises paper records."),
    }
    ids["proposal-soc"] = add_text_document(
        workspace, folder, "proposal-soc.md", "proposal", "SOC proposal", [
            (("Staffing",), ["Our program manager led security operations centre monitoring "
                             "round the clock for three agencies; key personnel are named."]),
        ]).id
    ids["capabilities"] = add_text_document(
        workspace, folder, "capabilities.md", "reference", "Capabilities", [
            (("Capabilities",), ["We migrate data platforms to the cloud and staff key "
                                 "personnel within ten days of award."]),
        ]).id
    ids["policy"] = add_text_document(
        workspace, folder, "policy.md", "other", "Staffing policy", [
            (("Policy",), ["Every program manager reviews key personnel resumes yearly."]),
        ]).id
    ids["labour"] = add_table(
        workspace, folder / "reference", "labour.csv", "Labour categories",
        ["code", "labor_category", "hourly_rate_usd"],
        [("NAS-PM-01", "Program Manager", "210.00"), ("NAS-SE-03", "Senior Systems Engineer",
                                                        "185.00")]).id
    return ids


@pytest.fixture
def indexed(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, dict[str, str], Any]:
    embedder = HashEmbedder()
    ids = _docs(workspace, tmp_path / "corpus")
    update_index(workspace, embedder=embedder)
    return workspace, ids, embedder


def _docs_found(retriever: WorkspaceRetriever) -> set[str]:
    return {source.doc_id for query in QUERIES for source in retriever.search(query, 20)}


def test_proposal_retriever_never_returns_another_rfp(indexed) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    everything = _docs_found(WorkspaceRetriever(workspace, embedder=embedder))
    assert {ids["rfp-soc"], ids["rfp-old"]} <= everything  # unscoped, other RFPs come up
    retriever = proposal_retriever(workspace, ids["rfp-data"], embedder=embedder)
    found = _docs_found(retriever)
    assert ids["rfp-soc"] not in found and ids["rfp-old"] not in found
    assert {ids["rfp-data"], ids["proposal-soc"], ids["capabilities"], ids["policy"]} <= found
    # a query naming another solicitation's number still gets nothing from it
    hits = retriever.search("evaluation criteria of solicitation JL4410-27-R-0115", 10)
    assert hits and ids["rfp-soc"] not in {h.doc_id for h in hits}


def test_lookup_is_not_scoped(indexed) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    retriever = proposal_retriever(workspace, ids["rfp-data"], embedder=embedder)
    rows = retriever.lookup("What is the rate of a Senior Systems Engineer (NAS-SE-03)?", 3)
    assert rows and rows[0].doc_id == ids["labour"] and "NAS-SE-03" in rows[0].text


def test_other_rfps_include_rfps_the_index_still_holds(indexed) -> None:  # noqa: ANN001
    workspace, ids, _ = indexed
    assert rfp_ids(workspace) == {ids["rfp-data"], ids["rfp-soc"], ids["rfp-old"]}
    DocumentStore(workspace).set_kind(ids["rfp-old"], "other")  # not re-indexed yet
    assert other_rfps(workspace, ids["rfp-data"]) == sorted([ids["rfp-old"], ids["rfp-soc"]])
    with pytest.raises(DocumentError):
        proposal_retriever(workspace, "no-such-document")


def test_eval_retriever_leaves_out_the_given_documents(indexed) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    query = "security operations centre monitoring round the clock"
    plain = WorkspaceRetriever(workspace, embedder=embedder).search(query, 3)
    assert ids["proposal-soc"] in {s.doc_id for s in plain}
    retriever = eval_retriever(workspace, [ids["proposal-soc"], ids["policy"]],
                               embedder=embedder)
    found = _docs_found(retriever)
    assert ids["proposal-soc"] not in found and ids["policy"] not in found
    assert ids["rfp-soc"] in found
    assert len(retriever.search(query, 3)) == 3  # filtered before the limit


def test_search_includes_and_excludes_documents(indexed) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    for mode in ("hybrid", "vector", "text"):
        only = search(workspace, "key personnel program manager", k=10, mode=mode,
                      embedder=embedder, include_docs=[ids["policy"], ids["rfp-old"]])
        assert only and {h.doc_id for h in only} <= {ids["policy"], ids["rfp-old"]}
        rest = search(workspace, "key personnel program manager", k=10, mode=mode,
                      embedder=embedder, exclude_docs=[ids["policy"]], kinds=["rfp", "other"])
        assert rest and {h.kind for h in rest} == {"rfp"}


def test_document_filters() -> None:
    assert build_filter(include_docs=["a"], exclude_docs=["b", "o'c"]) == (
        "doc_id IN ('a') AND doc_id NOT IN ('b', 'o''c')")
    assert build_filter(["rfp"], exclude_docs=["x"]) == "kind IN ('rfp') AND doc_id NOT IN ('x')"
