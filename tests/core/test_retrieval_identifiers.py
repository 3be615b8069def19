"""Exact identifiers in a query (solicitation and contract numbers, codes, distinctive
names): detection on fixed strings, and hybrid search putting the documents that hold
them first without changing queries that name none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.hash_embedder import HashEmbedder
from retrieval_corpus import add_text_document

from core.retrieval import search as search_module
from core.retrieval.exact import Identified, Mentions, identify, promote
from core.retrieval.identifiers import (
    Identifier,
    identifier_terms,
    is_shouting,
    mentions,
    query_identifiers,
)
from core.retrieval.index import update_index
from core.retrieval.search import _COLUMNS, search
from core.retrieval.store import CHUNKS, connect, open_pinned, require_active
from core.workspace import Workspace


# -- detection (pure) ---------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "expected"), [
    ("evaluation criteria of the TalentMAP solicitation", ["TalentMAP"]),
    ("What is the value of contract 36BPA0-20-D-0066?", ["36BPA0-20-D-0066"]),
    ("RFP#JL4410-27-R-0115: questions due?", ["JL4410-27-R-0115"]),
    ("NAICS 541512, PSC D302; labour code NAS-SE-03.", ["541512", "D302", "NAS-SE-03"]),
    ("(OVCR) records digitization, see the OVCR's SOW", ["OVCR"]),
    ("past performance on eMASS and the OVCRs", ["eMASS", "OVCR"]),
    ("NIST SP 800-53 Rev. 5 and ISO 27001 controls", ["NIST", "800-53", "ISO", "27001"]),
    # dashes as pasted from a PDF: non-breaking hyphen and en dash, kept as written
    ("solicitation JL4410\u201127\u2011R\u20110115 and JL4410-27-R-0115",
     ["JL4410\u201127\u2011R\u20110115"]),
])
def test_identifiers_in_queries(query: str, expected: list[str]) -> None:
    assert identifier_terms(query) == expected


@pytest.mark.parametrize("query", [
    "How do we migrate legacy databases to the cloud?",
    "What MUST the offeror include in the staffing plan?",
    "response within 15 minutes, 24x7, 99.9% uptime, 10GB, the 3rd year, in 2026",
    "RFP SOW PWS CLIN SLA KPI FTE requirements for the DevSecOps pipeline (PDFs, URLs)",
    "Section 3.1.2 and Section-L, pages 8.5x11, e.g. U.S. only, v2",
    "$1,200,000 over 5 years; 12-point font; 1:00 PM ET",
    "",
    "   ",
])
def test_ordinary_queries_name_no_identifier(query: str) -> None:
    assert query_identifiers(query) == []


def test_codes_and_names_are_told_apart() -> None:
    assert query_identifiers("TalentMAP under 36BPA0-20-D-0066") == [
        Identifier("TalentMAP", "name"), Identifier("36BPA0-20-D-0066", "code")]


def test_capitals_typed_as_shouting_are_not_names() -> None:
    shouted = "WHAT ARE THE OVCR DUE DATES FOR JL4410-27-R-0115"
    assert is_shouting(shouted) and not is_shouting("the OVCR SOW and RFP")
    assert identifier_terms(shouted) == ["JL4410-27-R-0115"]
    assert identifier_terms("Evaluation Criteria For TalentMAP") == ["TalentMAP"]


def test_mentions_are_whole_tokens_case_and_dash_insensitive() -> None:
    assert mentions("Solicitation No. jl4410\u201327\u2013r\u20130115.", "JL4410-27-R-0115")
    assert mentions("the OVCRs and OVCR's staff", "OVCR")
    assert mentions("(NAS-SE-03/NAS-SE-04)", "NAS-SE-03")
    assert not mentions("NAS-SE-031", "NAS-SE-03")
    assert not mentions("XJL4410-27-R-0115", "JL4410-27-R-0115")
    assert not mentions("talentmapping", "TalentMAP")
    assert not mentions("5415120", "541512")


# -- promotion (pure) ---------------------------------------------------------------------------
def _row(doc: str, n: int) -> dict[str, Any]:
    return {"chunk_id": f"{doc}:1:{n}", "doc_id": doc, "block_start": n, "text": f"{doc} {n}"}


def test_promote_puts_identified_documents_first_by_tier() -> None:
    general = [(_row("other", 0), 0.03, 1, 1), (_row("b", 0), 0.02, 2, None),
               (_row("a", 1), 0.01, None, 3)]
    code = Mentions(Identifier("X-1", "code"), frozenset({"a"}), frozenset(),
                    (_row("a", 0),))
    name = Mentions(Identifier("TalentMAP", "name"), frozenset({"a", "b"}))
    identified = Identified([code, name])
    assert identified.doc_terms == {"a": 2, "b": 1}
    assert identified.where("kind = 'rfp'") == "(kind = 'rfp') AND doc_id IN ('a', 'b')"
    assert identified.remainder("the TalentMAP criteria under x-1") == "the criteria under"
    assert identified.remainder("TalentMAP X-1?") == ""
    ranked = promote(identified, general, [_row("b", 0), _row("a", 1)],
                     [_row("a", 0), _row("a", 1)])
    assert [row["chunk_id"] for row, *_ in ranked] == ["a:1:1", "a:1:0", "b:1:0", "other:1:0"]
    scores = [score for _, score, *_ in ranked]
    assert scores == sorted(scores, reverse=True) and scores[-1] == 0.03
    assert ranked[0][2:] == (None, 3)  # ranks in the plain searches are kept
    assert promote(identified, [], [], []) == []


def test_a_passage_holding_an_identifier_in_passing_comes_first_in_its_document() -> None:
    # contract X-2 is one entry of a list (not on the cover): its passage leads document a
    code = Mentions(Identifier("X-2", "code"), frozenset({"a"}), frozenset({"a:1:4"}),
                    (_row("a", 4),))
    ranked = promote(Identified([code]), [], [_row("a", 1), _row("a", 2)], [_row("a", 2)])
    assert [row["chunk_id"] for row, *_ in ranked] == ["a:1:4", "a:1:2", "a:1:1"]


# -- hybrid search over an index ----------------------------------------------------------------
EVALUATION = ("Proposals are evaluated on technical approach, management approach and key "
              "personnel, past performance, and price; the non-price factors together are "
              "significantly more important than price.")
RFPS = [
    ("talentmap.md", "Workforce Systems Support RFP",
     "The Bureau seeks operations and maintenance of TalentMAP, its talent management and "
     "assignment platform, under solicitation 19AQMM-27-R-0031."),
    ("records.md", "Records Digitization RFP",
     "The Office seeks conversion of 40 million paper claims records to searchable images "
     "under solicitation 36VR12-27-R-0219."),
    ("soc.md", "Security Operations Support RFP",
     "The Agency seeks round-the-clock security operations centre support under "
     "solicitation JL4410-27-R-0115."),
    ("telemetry.md", "Engine Test Telemetry RFP",
     "The Center seeks analytics of rocket engine test telemetry under solicitation "
     "80NLSA-27-R-0007."),
]
CONTRACTS = [
    ("70MIS1-22-C-0031", "Maritime Information Service", "cloud migration of 12 databases"),
    ("DF7714-23-F-0092", "Defense Fuel Distribution Activity", "24x7 security operations"),
    ("80GRTC-21-C-0014", "Granite Ridge Test Complex", "turbopump vibration analytics"),
]


def _corpus(workspace: Workspace, folder: Path) -> dict[str, str]:
    ids = {}
    for name, title, scope in RFPS:
        ids[name] = add_text_document(workspace, folder, name, "rfp", title, [
            ((title, "1. Background"), [scope + " It is issued through the ACME portal."]),
            ((title, "2. Evaluation Criteria"), [EVALUATION]),
            ((title, "3. Period of Performance"), [
                "The period of performance is one base year and four option years, with a "
                "phase-in of 30 days after award."]),
        ]).id
    ids["past-performance.md"] = add_text_document(
        workspace, folder, "past-performance.md", "reference", "Past performance", [
            (("Past performance", customer), [
                f"Contract {number}. Customer: {customer}. Period of performance: five years, "
                f"total value $8.4 million. Work: {work}."])
            for number, customer, work in CONTRACTS]).id
    return ids


@pytest.fixture
def indexed(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, dict[str, str], Any]:
    embedder = HashEmbedder()
    ids = _corpus(workspace, tmp_path / "corpus")
    update_index(workspace, embedder=embedder)
    return workspace, ids, embedder


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hybrid search as before identifiers were looked up."""
    monkeypatch.setattr(search_module, "identify", lambda *args, **kwargs: None)


def test_a_named_solicitation_ranks_first(indexed, monkeypatch) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    for query in ("evaluation criteria of the TalentMAP solicitation",
                  "evaluation criteria of solicitation 19AQMM-27-R-0031"):
        hits = search(workspace, query, k=3, embedder=embedder)
        assert [h.doc_id for h in hits] == [ids["talentmap.md"]] * 3, query
        assert hits[0].section[-1] == "2. Evaluation Criteria", query
    _plain(monkeypatch)  # the same query without the lookup loses the solicitation
    hits = search(workspace, "evaluation criteria of the TalentMAP solicitation", k=3,
                  embedder=embedder)
    assert [h.doc_id for h in hits] != [ids["talentmap.md"]] * 3


def test_a_named_contract_number_ranks_first(indexed, monkeypatch) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed

    def top(number: str) -> list[Any]:
        return search(workspace, f"period of performance and value of contract {number}",
                      k=3, embedder=embedder)

    for number, customer, _ in CONTRACTS:
        hits = top(number)
        assert {h.doc_id for h in hits} == {ids["past-performance.md"]}, number
        assert number in hits[0].text and hits[0].section[-1] == customer
    _plain(monkeypatch)  # the RFPs' own periods of performance crowd in
    assert any(len({h.doc_id for h in top(number)}) > 1 for number, _, _ in CONTRACTS)


def test_queries_without_identifiers_rank_as_before(indexed, monkeypatch) -> None:  # noqa: ANN001
    workspace, _, embedder = indexed
    queries = ["evaluation criteria and price", "period of performance option years",
               "what does the Agency seek?", "RFP SOW past performance"]
    before = {q: search(workspace, q, k=5, embedder=embedder) for q in queries}
    _plain(monkeypatch)
    assert {q: search(workspace, q, k=5, embedder=embedder) for q in queries} == before


def test_names_in_most_documents_are_not_identifiers(indexed) -> None:  # noqa: ANN001
    workspace, _, _ = indexed
    table = open_pinned(connect(workspace), require_active(workspace), CHUNKS)
    # "TalentMAP" is in one document of five: it names it; "ACME", in four, does not
    found = identify(table, "TalentMAP on the ACME portal", None, _COLUMNS, total_documents=5)
    assert found is not None and [m.identifier.text for m in found.mentions] == ["TalentMAP"]
    assert identify(table, "the FOOBAR contract", None, _COLUMNS, 5) is None  # found nowhere


def test_identifiers_respect_the_filters(indexed) -> None:  # noqa: ANN001
    workspace, ids, embedder = indexed
    query = "evaluation criteria of the TalentMAP solicitation"
    hits = search(workspace, query, k=5, embedder=embedder, exclude_docs=[ids["talentmap.md"]])
    assert hits and ids["talentmap.md"] not in {h.doc_id for h in hits}
    hits = search(workspace, query, k=5, embedder=embedder, kinds=["reference"])
    assert {h.doc_id for h in hits} == {ids["past-performance.md"]}
    for mode in ("vector", "text"):  # the plain modes are left alone
        assert search(workspace, query, k=5, mode=mode, embedder=embedder)
