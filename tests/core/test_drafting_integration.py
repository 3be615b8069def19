"""End to end on the sample workspace (imported and indexed) with the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture
def sample(sample_workspace: Workspace) -> Workspace:
    return sample_workspace


def _rfp_id(workspace: Workspace, words: str) -> str:
    from core.ingest.store import DocumentStore

    return next(r.id for r in DocumentStore(workspace).list()
                if r.kind == "rfp" and words in r.title)


def test_staffing_draft_cites_the_labour_category_table(sample: Workspace) -> None:
    from core.drafting.draft import draft
    from core.drafting.sources import WorkspaceRetriever
    from core.generation.model import GenerationSettings
    from core.generation.runtime import ModelCache

    cache = ModelCache(n_ctx=1024)
    try:
        model = cache.get(sample, "gemma3-270m-q4km")
        result = draft(model, "Write the staffing plan for a 24x7 security operations center: "
                       "which labour categories and codes will we propose?",
                       retriever=WorkspaceRetriever(sample),
                       settings=GenerationSettings(max_tokens=8, temperature=0.0),
                       # which sources are shown, not how many fit a first-token wait on
                       # a busy machine (the budget follows the measured prompt speed)
                       first_token_s=None)
    finally:
        cache.close()
    assert result.citations and [c.number for c in result.citations] == list(
        range(1, len(result.citations) + 1))
    table_rows = [c for c in result.citations
                  if c.kind == "reference_row" and c.doc_id.startswith("labor-categories")]
    assert table_rows, [c.where() for c in result.citations]
    assert any("NAS-" in c.text for c in table_rows)


def test_propose_writes_a_docx_with_the_sections(sample: Workspace, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from docx import Document

    from core.cli.main import main
    from core.drafting.proposal import ProposalStore

    out = tmp_path / "proposal.docx"
    code = main(["propose", "-w", str(sample.root), "--rfp", _rfp_id(sample, "Digitization"),
                 "--out", str(out), "--markdown", str(tmp_path / "proposal.md"),
                 "--max-tokens", "8", "--temperature", "0", "--n-ctx", "1024", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["requirements"] >= 11
    document = Document(str(out))
    headings = {p.text for p in document.paragraphs if p.style.name.startswith("Heading")}
    assert {"Executive Summary", "Technical Approach", "Management and Staffing Plan",
            "Past Performance", "Compliance matrix"} <= headings
    matrix = document.tables[0]
    assert any(row.cells[0].text == "3.1" for row in matrix.rows)
    proposal = ProposalStore(sample).get(summary["proposal_id"])
    # eight tokens make no section: each draft fails the checks and stays out of the DOCX
    assert {s.status for s in proposal.sections} == {"failed"}
    assert {v["status"] for v in summary["sections"].values()} == {"failed"}
    notes = [p.text for p in document.paragraphs if p.text.startswith("[Not included")]
    assert len(notes) == len(proposal.sections) and "Sources" not in headings
    assert (tmp_path / "proposal.md").read_text().startswith("# Response to")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_draft_ends_when_its_reader_goes_away(base_workspace: Workspace) -> None:
    """`scriptorium draft … | head -c 20` must not hang on the model lock (issue 21)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "desktop.launcher", "draft", "-w",
               str(base_workspace.root), "-m", "gemma3-270m-q4km", "--no-retrieval",
               "--max-tokens", "200", "--temperature", "0", "The contractor shall"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    assert process.stdout.read(5)  # a few bytes, then the reader leaves
    process.stdout.close()
    try:
        code = process.wait(timeout=120)
    finally:
        process.kill()
    assert code == 0
