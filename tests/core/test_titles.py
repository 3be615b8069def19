"""Document titles (issue 17): guessed as an analyst would name the file, never a cover stamp,
an application's prefix or a path; renamed by the user, kept by later versions, and used by
the index's citations after the next update."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.hash_embedder import HashEmbedder
from ingest_corpus import write_pdf

from core.ingest.importer import import_paths
from core.ingest.model import Block
from core.ingest.store import DocumentError, DocumentStore
from core.ingest.titles import guess_title, reads_as_title, title_from_file_name
from core.workspace import Workspace


def _heading(text: str, level: int = 1) -> Block:
    return Block(kind="heading", text=text, level=level)


def _paragraph(text: str) -> Block:
    return Block(kind="paragraph", text=text)


@pytest.mark.parametrize("blocks, metadata, name, expected", [
    ([_heading("FINAL"), _heading("Cyber Range Support Services")], None, "x.pdf",
     "Cyber Range Support Services"),
    ([_heading("CUI"), _paragraph("Section L instructions follow.")],
     "Microsoft Word - Cyber Range Support RFP.docx", "x.pdf", "Cyber Range Support RFP"),
    ([_heading("Executive Summary")], r"C:\Users\jdoe\Desktop\vol1.docx",
     "RFP_W912DY-25-R-0012_FINAL_v3.pdf", "RFP W912DY-25-R-0012"),
    ([_heading("1.0 Introduction"), _heading("Engine Test Support", 2)], "Untitled",
     "past-performance-volume_draft.docx", "Past performance volume"),
    ([_paragraph("FOR OFFICIAL USE ONLY")], "12/03/2025", "Technical Volume.pdf",
     "Technical Volume"),
    ([_heading("JOINT LOGISTICS SUPPORT AGENCY"), _heading("REQUEST FOR PROPOSALS"),
      _heading("CYBERSECURITY OPERATIONS CENTER (CSOC) SUPPORT SERVICES")], None, "x.txt",
     "Request for Proposals: Cybersecurity Operations Center (CSOC) Support Services"),
    ([_paragraph("NORTHWIND ANALYTIC SYSTEMS, INC. PROPOSAL: ENGINE TEST TELEMETRY AND DATA "
                 "SERVICES (ETTADS) In response to: RFP 80NLSA-27-R-0007"),
      _heading("EXECUTIVE SUMMARY"), _heading("1. TECHNICAL APPROACH")], None, "p.txt",
     "Proposal: Engine Test Telemetry and Data Services (ETTADS)"),
    ([_heading("Section L: Proposal Preparation Instructions")], None, "L.pdf",
     "Section L: Proposal Preparation Instructions"),
])
def test_the_title_is_what_an_analyst_would_call_it(blocks: list[Block], metadata: str | None,
                                                     name: str, expected: str) -> None:
    assert guess_title(name, blocks, metadata) == expected


def test_what_reads_as_a_title() -> None:
    assert reads_as_title("Solicitation W912DY-25-R-0012: Cyber Range Support")
    for stamp in ("FINAL", "Final Draft", "CUI", "Table of Contents", "Page 1", "untitled",
                  "proposal_v2_FINAL", "/home/jdoe/rfp.pdf", "vol1.docx", "2025-03-14", "ok"):
        assert not reads_as_title(stamp), stamp
    assert title_from_file_name("SOC_Staffing_Plan_rev2.pdf") == "SOC Staffing Plan"


def test_a_pdf_title_property_is_used_when_the_first_page_has_only_a_stamp(
        workspace: Workspace, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", [["FINAL", "The contractor shall staff the "
                                                "security operations center around the clock."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Title": "Microsoft Word - SOC Operations RFP.docx"})
    titled = tmp_path / "RFP_SOC_FINAL.pdf"
    with open(titled, "wb") as handle:
        writer.write(handle)
    result = import_paths(workspace, [titled]).files[0]
    assert result.status == "imported", result.message
    assert DocumentStore(workspace).get(result.doc_id).title == "SOC Operations RFP"


def test_a_renamed_document_keeps_its_title_and_the_index_follows(workspace: Workspace,
                                                                  tmp_path: Path) -> None:
    from core.retrieval.index import update_index
    from core.retrieval.search import search

    source = tmp_path / "scope_final.txt"
    source.write_text("The contractor shall staff the security operations center 24x7.\n")
    doc_id = import_paths(workspace, [source]).files[0].doc_id
    store = DocumentStore(workspace)
    assert store.get(doc_id).title == "Scope"
    embedder = HashEmbedder()
    update_index(workspace, embedder=embedder)

    store.set_title(doc_id, "  SOC   Statement of Work ")
    assert store.get(doc_id).title == "SOC Statement of Work"
    with pytest.raises(DocumentError, match="cannot be empty"):
        store.set_title(doc_id, "   ")
    with pytest.raises(DocumentError, match="at most 120"):
        store.set_title(doc_id, "x" * 121)
    result = update_index(workspace, embedder=embedder)
    assert result["indexed"] == [doc_id]  # the title changed: its rows are replaced
    hits = search(workspace, "security operations center", embedder=embedder)
    assert hits and hits[0].title == "SOC Statement of Work"

    source.write_text("The contractor shall staff the SOC 24x7 with three shifts.\n")
    again = import_paths(workspace, [source]).files[0]
    assert again.doc_id == doc_id and again.version == 2
    assert store.get(doc_id).title == "SOC Statement of Work"  # a new version keeps it
    assert any(e.action == "document.retitle" for e in workspace.audit.entries())


@pytest.mark.parametrize("order", [
    ["documents", "rename", "{id}", "-w", "{ws}", "--title", "SOC Statement of Work"],
    ["documents", "rename", "-w", "{ws}", "{id}", "--title", "SOC Statement of Work"],
    ["documents", "-w", "{ws}", "--title", "SOC Statement of Work", "rename", "{id}"],
    ["documents", "--title=SOC Statement of Work", "rename", "-w", "{ws}", "{id}", "--json"],
])
def test_cli_rename_takes_its_words_in_any_order(workspace: Workspace, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 order: list[str]) -> None:
    from core.cli.main import main

    source = tmp_path / "sow.txt"
    source.write_text("The contractor shall staff the security operations center 24x7.\n")
    doc_id = import_paths(workspace, [source]).files[0].doc_id
    argv = [w.format(id=doc_id, ws=workspace.root) for w in order]
    assert main(argv) == 0, capsys.readouterr().err
    assert DocumentStore(workspace).get(doc_id).title == "SOC Statement of Work"
    assert "SOC Statement of Work" in capsys.readouterr().out
    assert main(["documents", "rename", doc_id, "-w", str(workspace.root)]) == 1
    assert "needs --title" in capsys.readouterr().err
