"""Exporting a proposal (or a single draft) to DOCX and Markdown.

Each section numbers its sources from [1]; the document numbers them once for the whole
proposal (the same source keeps one number), rewrites the markers in the text to match,
and ends with the numbered source list. The compliance matrix is a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.drafting.draft import DraftResult
from core.drafting.facts import UNVERIFIED_MARK
from core.drafting.proposal import Proposal, ProposalSection
from core.drafting.sources import Citation, cited_numbers, renumber
from core.errors import ScriptoriumError
from core.fsutil import atomic_write_bytes, atomic_write_text


class ExportError(ScriptoriumError):
    """A proposal or draft could not be written."""


def global_sources(proposal: Proposal) -> tuple[list[Citation], dict[str, dict[int, int]]]:
    """The proposal's sources numbered once, and per section its old → new numbers."""
    numbers: dict[tuple[str, str], int] = {}
    sources: list[Citation] = []
    mapping: dict[str, dict[int, int]] = {}
    for section in proposal.sections:
        local: dict[int, int] = {}
        if section.failed and not section.text.strip():
            mapping[section.key] = local  # nothing of it is in the document
            continue
        for citation in section.citations:
            number = numbers.get(citation.key)
            if number is None:
                number = len(sources) + 1
                numbers[citation.key] = number
                sources.append(citation.model_copy(update={"number": number}))
            local[citation.number] = number
        mapping[section.key] = local
    return sources, mapping


def _source_line(citation: Citation) -> str:
    text = " ".join(citation.text.split())
    if len(text) > 300:
        text = text[:297] + "…"
    return f"[{citation.number}] {citation.where()} ({citation.doc_id}): “{text}”"


def _status(proposal: Proposal, key: str) -> str:
    section = proposal.section(key)
    if section.failed:
        return "draft failed the checks"
    return "drafted" if section.text.strip() else "not drafted"


def failed_note(problems: Sequence[str]) -> str:
    """What a document says in place of a draft that failed the quality checks."""
    why = "; ".join(problems) or "it did not pass the quality checks"
    return (f"[Not included: the drafted text failed the quality checks ({why}). "
            "Redraft this section or write it by hand.]")


def _section_body(section: ProposalSection, mapping: dict[int, int]) -> str:
    if section.failed and not section.text.strip():
        return failed_note(section.problems)
    return renumber(section.text, mapping).strip()


def _draft_body(result: DraftResult) -> str:
    return failed_note(result.problems) if result.failed else result.text.strip()


def proposal_markdown(proposal: Proposal) -> str:
    sources, mapping = global_sources(proposal)
    lines = [f"# {proposal.title}", "", f"RFP: {proposal.rfp_title} ({proposal.rfp_id})", "",
             "## Compliance matrix", "", "| Requirement | Text | Addressed in | Status |",
             "| --- | --- | --- | --- |"]
    for requirement, section in proposal.compliance_matrix():
        text = " ".join(requirement.text.split()).replace("|", "\\|")
        lines.append(f"| {requirement.id} | {text} | {section.title} | "
                     f"{_status(proposal, section.key)} |")
    for section in proposal.sections:
        lines += ["", f"## {section.title}", ""]
        lines.append(_section_body(section, mapping[section.key]) or "_(not drafted yet)_")
    if sources:
        lines += ["", "## Sources", ""]
        lines += [_source_line(c) for c in sources]
    return "\n".join(lines) + "\n"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _table_rows(paragraph: str) -> list[list[str]] | None:
    """The cells of a Markdown table paragraph (its separator row dropped), else None."""
    lines = [line.strip() for line in paragraph.splitlines()]
    if len(lines) < 2 or not all(line.startswith("|") for line in lines):
        return None
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]


def _add_text(paragraph: Any, text: str) -> None:
    """``text`` as runs of ``paragraph``, a figure marked ``[unverified: …]`` highlighted
    (the reader of the document must not take it for a fact)."""
    from docx.enum.text import WD_COLOR_INDEX

    for index, piece in enumerate(UNVERIFIED_MARK.split(text)):
        if piece:
            run = paragraph.add_run(piece)
            if index % 2:
                run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def add_body(document: Any, text: str) -> None:
    """Paragraphs, bullet lists and Markdown tables of a draft as DOCX content."""
    for paragraph in _paragraphs(text):
        rows = _table_rows(paragraph)
        if rows:
            width = max(len(row) for row in rows)
            table = document.add_table(rows=0, cols=width)
            table.style = "Table Grid"
            for row in rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row):
                    cell.text = value
        elif paragraph.startswith(("- ", "* ")):
            for item in paragraph.splitlines():
                _add_text(document.add_paragraph(style="List Bullet"),
                          item.lstrip("-* ").strip())
        else:
            _add_text(document.add_paragraph(), paragraph)


def proposal_docx_bytes(proposal: Proposal) -> bytes:
    import io

    try:
        from docx import Document
    except ImportError as error:
        raise ExportError("python-docx is not installed; DOCX export needs it.") from error
    sources, mapping = global_sources(proposal)
    document = Document()
    document.core_properties.title = proposal.title
    document.add_heading(proposal.title, level=0)
    document.add_paragraph(f"RFP: {proposal.rfp_title} ({proposal.rfp_id})")
    document.add_heading("Compliance matrix", level=1)
    rows = proposal.compliance_matrix()
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, ("Requirement", "Text", "Addressed in",
                                                "Status")):
        cell.text = name
    for requirement, section in rows:
        cells = table.add_row().cells
        cells[0].text = requirement.id
        cells[1].text = " ".join(requirement.text.split())
        cells[2].text = section.title
        cells[3].text = _status(proposal, section.key)
    for section in proposal.sections:
        document.add_heading(section.title, level=1)
        add_body(document, _section_body(section, mapping[section.key]) or "(not drafted yet)")
    if sources:
        document.add_heading("Sources", level=1)
        for citation in sources:
            document.add_paragraph(_source_line(citation))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def export_proposal(proposal: Proposal, path: Path) -> Path:
    """Write the proposal to ``path``: DOCX for ``.docx``, else Markdown; atomic."""
    path = Path(path).expanduser().absolute()
    if path.suffix.lower() == ".docx":
        atomic_write_bytes(path, proposal_docx_bytes(proposal))
    else:
        atomic_write_text(path, proposal_markdown(proposal))
    return path


def draft_sources(result: DraftResult) -> tuple[list[Citation], list[Citation]]:
    """The sources the text cites, and the others the model was shown (none for a draft
    that failed the checks: its text is not exported)."""
    if result.failed:
        return [], []
    cited = set(cited_numbers(result.text))
    return ([c for c in result.citations if c.number in cited],
            [c for c in result.citations if c.number not in cited])


def _also_retrieved(others: Sequence[Citation]) -> str:
    return "Also retrieved, not cited: " + "; ".join(
        f"[{c.number}] {c.where()}" for c in others) + "."


def draft_markdown(result: DraftResult, title: str = "") -> str:
    lines = [f"# {title or result.prompt[:80]}", "", _draft_body(result)]
    cited, others = draft_sources(result)
    if cited:
        lines += ["", "## Sources", ""] + [_source_line(c) for c in cited]
    if others:
        lines += ["", _also_retrieved(others)]
    return "\n".join(lines) + "\n"


def export_draft(results: Sequence[DraftResult], path: Path, title: str = "Draft") -> Path:
    """Write drafts (a conversation's answers) to DOCX or Markdown by suffix."""
    path = Path(path).expanduser().absolute()
    if path.suffix.lower() == ".docx":
        import io

        from docx import Document

        document = Document()
        document.add_heading(title, level=0)
        for result in results:
            document.add_heading(result.prompt[:120], level=1)
            add_body(document, _draft_body(result))
            cited, others = draft_sources(result)
            if cited:
                document.add_heading("Sources", level=2)
                for citation in cited:
                    document.add_paragraph(_source_line(citation))
            if others:
                document.add_paragraph(_also_retrieved(others))
        buffer = io.BytesIO()
        document.save(buffer)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        atomic_write_text(path, "\n".join(draft_markdown(r) for r in results))
    return path
