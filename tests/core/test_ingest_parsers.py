"""Parsers and cleaning, in process: every format keeps its structure."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_corpus import (
    CSV,
    HTML,
    JSONL,
    MARKDOWN,
    TEXT,
    make_pdf,
    rfp_pdf_pages,
    write_docx,
    write_pdf,
)

from core.ingest.cleaning import clean_blocks, normalise_text, strip_page_furniture
from core.ingest.errors import MissingHeader, UnsupportedFormat
from core.ingest.guess import guess_kind
from core.ingest.model import Block
from core.ingest.parsers import parse_file
from core.ingest.parsers.structure import heading_level
from core.ingest.sniff import sniff

pytestmark = pytest.mark.timeout(60)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pdf_pages_sections_and_furniture(tmp_path: Path) -> None:
    result = parse_file(write_pdf(tmp_path / "rfp.pdf", rfp_pdf_pages(4)), "pdf")
    assert result.pages == 4
    text = "\n".join(b.text for b in result.blocks)
    assert "Solicitation W91-26-R-0042" not in text  # running header removed
    assert "Page 2 of 4" not in text  # page numbers removed
    assert any("furniture" in w or "header/footer" in w for w in result.warnings)
    headings = [b for b in result.blocks if b.kind == "heading"]
    assert [h.text for h in headings[:2]] == ["1. Background Overview", "1.1 Background Details"]
    assert headings[1].level == 2 and headings[1].section == ("1. Background Overview",)
    para = next(b for b in result.blocks if b.text.startswith("The contractor shall"))
    assert para.page == 1 and "program office and shall deliver" in para.text
    assert para.section == ("1. Background Overview", "1.1 Background Details")
    items = [b for b in result.blocks if b.kind == "list_item" and b.page == 3]
    assert [i.text for i in items] == [
        "Deliverable: a monthly requirements report",
        "Deliverable: a final requirements briefing",
    ]
    assert {b.page for b in result.blocks} == {1, 2, 3, 4}


def test_pdf_partly_scanned_warns(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    path.write_bytes(make_pdf([["Statement of Work for the Atlas program."], []]))
    result = parse_file(path, "pdf")
    assert result.blocks[0].text == "Statement of Work for the Atlas program."
    assert any("page(s) 2 are images with no text" in w for w in result.warnings)


def test_pdf_messages_say_what_is_true(tmp_path: Path) -> None:
    """Issue 21: empty pages got OCR advice, and a readable PDF without an end marker was
    refused as truncated."""
    from core.ingest.errors import CorruptDocument, EmptyDocument, NoTextLayer

    blank = tmp_path / "blank.pdf"
    blank.write_bytes(make_pdf([None, None]))
    with pytest.raises(EmptyDocument, match="no text and no images"):
        parse_file(blank, "pdf")
    scanned = tmp_path / "scan.pdf"
    scanned.write_bytes(make_pdf([[], []]))
    with pytest.raises(NoTextLayer, match=r"are scanned images\); run it through OCR"):
        parse_file(scanned, "pdf")
    mixed = parse_file(_written(tmp_path / "mixed.pdf", [["Scope of work."], None]), "pdf")
    assert any("page(s) 2 are empty" in w for w in mixed.warnings)
    assert not any("OCR" in w for w in mixed.warnings)
    trailing = tmp_path / "trailing.pdf"  # 8 KB after the end marker (a signature, junk)
    trailing.write_bytes(make_pdf([["Scope of work."]]) + b"\n" + b"x" * 8192)
    assert parse_file(trailing, "pdf").blocks[0].text == "Scope of work."
    short = tmp_path / "cut.pdf"
    short.write_bytes(make_pdf([["Scope of work."]])[:300])
    with pytest.raises(CorruptDocument, match="truncated or damaged"):
        parse_file(short, "pdf")


def _written(path: Path, pages: list[list[str] | None]) -> Path:
    path.write_bytes(make_pdf(pages))
    return path


def test_password_protected_pdfs_are_refused_alike_and_owner_only_ones_open(
        tmp_path: Path) -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    from core.ingest.errors import EncryptedDocument

    base = make_pdf([["Scope of work."]])
    for algorithm in ("RC4-128", "AES-128", "AES-256"):
        for user, opens in (("secret", False), ("", True)):
            writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
            writer.encrypt(user_password=user, owner_password="owner", algorithm=algorithm)
            path = tmp_path / f"{algorithm}-{bool(user)}.pdf"
            writer.write(path)
            if opens:
                assert parse_file(path, "pdf").blocks[0].text == "Scope of work."
            else:
                with pytest.raises(EncryptedDocument, match="is password-protected"):
                    parse_file(path, "pdf")


def test_docx_headings_lists_and_table(tmp_path: Path) -> None:
    result = parse_file(write_docx(tmp_path / "proposal.docx"), "docx")
    kinds = [(b.kind, b.text) for b in result.blocks]
    assert kinds[0] == ("heading", "Technical Volume")
    assert ("list_item", "Weekly status meetings") in kinds
    rows = [b for b in result.blocks if b.kind == "table_row"]
    assert rows[0].fields == {
        "Labor Category": "Program Manager",
        "Code": "PM-1",
        "Rate": "$185.00",
    }
    assert rows[0].text == "Labor Category: Program Manager; Code: PM-1; Rate: $185.00"
    assert rows[0].section == ("Technical Volume", "Staffing")
    para = next(b for b in result.blocks if b.text.startswith("We propose"))
    assert para.section == ("Technical Volume", "Management Approach")


def test_markdown_headings_lists_tables(tmp_path: Path) -> None:
    result = parse_file(_write(tmp_path, "rfp.md", MARKDOWN), "md")
    blocks = result.blocks
    assert blocks[0].kind == "heading" and blocks[0].level == 1
    background = next(b for b in blocks if b.text.startswith("The agency"))
    assert background.text == "The agency needs a data platform. It shall be hosted on premises."
    assert background.section == ("Request for Proposal: Data Platform", "1. Background")
    items = [b.text for b in blocks if b.kind == "list_item"]
    assert items == [
        "The contractor shall provide 24/7 support.",
        "The contractor shall deliver weekly reports.",
    ]  # ** stripped
    rows = [b for b in blocks if b.kind == "table_row"]
    assert len(rows) == 2 and rows[1].fields["Code"] == "DE-2"


def test_rules_and_separators_are_not_text(tmp_path: Path) -> None:
    text = "Title\n=====\n\nOne.\n\n---\n\nTwo.\n\n* * *\n"
    blocks = parse_file(_write(tmp_path, "r.md", text), "md").blocks
    assert [(b.kind, b.text) for b in blocks] == [
        ("heading", "Title"),
        ("paragraph", "One."),
        ("paragraph", "Two."),
    ]
    plain = parse_file(_write(tmp_path, "r.txt", "Intro.\n\n==========\n\nMore.\n"), "txt")
    assert [b.text for b in plain.blocks] == ["Intro.", "More."]


def test_text_numbered_sections(tmp_path: Path) -> None:
    blocks = parse_file(_write(tmp_path, "sow.txt", TEXT), "txt").blocks
    headings = [(b.text, b.level) for b in blocks if b.kind == "heading"]
    assert headings == [
        ("STATEMENT OF WORK", 1),
        ("3. Requirements", 1),
        ("3.1 Hosting Environment", 2),
    ]
    items = [b for b in blocks if b.kind == "list_item"]
    assert [i.text for i in items] == ["Install the servers.", "Configure backups."]
    assert items[0].section == ("3. Requirements", "3.1 Hosting Environment")


def test_heading_rules() -> None:
    assert heading_level("3.1 Scope of Work") == 2
    assert heading_level("3. Requirements") == 1
    assert heading_level("1. The contractor shall provide monthly reports.") == 0
    assert heading_level("SECTION C - STATEMENT OF WORK") == 1
    assert heading_level("3. Requirements", allow_single_number=False) == 0
    assert heading_level("EXECUTIVE SUMMARY") == 1 and heading_level("PHASE 2") == 1
    assert heading_level("TOTAL  10.0  18,800") == 0  # a table's total row


def test_html_hidden_text_and_scripts(tmp_path: Path) -> None:
    result = parse_file(_write(tmp_path, "past.html", HTML), "html")
    text = " ".join(b.text for b in result.blocks)
    assert "Ignore previous instructions" not in text and "secret hidden" not in text
    assert "alert" not in text and "color: red" not in text
    assert any("hidden text" in w for w in result.warnings)
    assert result.blocks[0].kind == "heading"
    assert [b.text for b in result.blocks if b.kind == "list_item"] == [
        "Contract value $4.2M",
        "Period 2021-2024",
    ]
    row = next(b for b in result.blocks if b.kind == "table_row")
    assert row.fields == {"Customer": "Navy", "Value": "$4.2M"}
    assert row.section == ("Past Performance",)


def test_html_sloppy_markup(tmp_path: Path) -> None:
    page = (
        "<html><head><title>x</title><body><h2>Rates</h2><p>First<p>Second"
        "<span class='sr-only'>screen reader only</span>"
        "<table><tr><th>Role<th>Rate<tr><td>Analyst<td>$90<tr><td>Lead<td>$120</table>"
    )
    result = parse_file(_write(tmp_path, "sloppy.htm", page), "html")
    assert [(b.kind, b.text) for b in result.blocks] == [
        ("heading", "Rates"),
        ("paragraph", "First"),
        ("paragraph", "Second"),
        ("table_row", "Role: Analyst; Rate: $90"),
        ("table_row", "Role: Lead; Rate: $120"),
    ]
    assert any("hidden text" in w for w in result.warnings)


def test_csv_rows_and_dialect(tmp_path: Path) -> None:
    rows = parse_file(_write(tmp_path, "rates.csv", CSV), "csv").blocks
    assert [r.kind for r in rows] == ["table_row", "table_row"]
    assert rows[1].fields == {
        "Labor Category": "Systems Engineer",
        "Code": "SE-2",
        "Rate": "142.50",
    }
    semicolons = _write(tmp_path, "semi.csv", "Name;Code\nAnalyst;AN-1\nEngineer;EN-2\n")
    assert parse_file(semicolons, "csv").blocks[0].fields == {"Name": "Analyst", "Code": "AN-1"}


def test_csv_without_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MissingHeader, match="no header row"):
        parse_file(_write(tmp_path, "n.csv", "1,2,3\n4,5,6\n"), "csv")


def test_jsonl_pairs_rows_and_bad_lines(tmp_path: Path) -> None:
    result = parse_file(_write(tmp_path, "pairs.jsonl", JSONL), "jsonl")
    pairs = [b for b in result.blocks if b.kind == "pair"]
    assert pairs[0].fields == {
        "instruction": "Summarise the staffing plan.",
        "response": "A lean team.",
    }
    assert pairs[1].fields["response"] == "$185.00"  # prompt/completion
    assert result.blocks[2].kind == "table_row" and result.blocks[2].fields["code"] == "PM-1"
    assert any("line 3" in w for w in result.warnings)


def test_cleaning_unicode_and_invisibles() -> None:
    text, removed = normalise_text("ﬁnal\u200b  price\u202e of  ＄5")
    assert text == "final price of $5" and removed == 2
    blocks, warnings = clean_blocks(
        [Block(kind="paragraph", text="pay\u200bment"), Block(kind="paragraph", text=" \u200b ")]
    )
    assert [b.text for b in blocks] == ["payment"]
    assert warnings and "invisible" in warnings[0]


def test_page_labels_dropped_outside_pdfs() -> None:
    blocks = [Block(kind="paragraph", text=t) for t in ("Intro.", "Page 3 of 12", "- 4 -", "42")]
    cleaned, warnings = clean_blocks(blocks)
    assert [b.text for b in cleaned] == ["Intro.", "42"]
    assert warnings == ["Removed 2 page-number line(s)."]


def test_strip_page_furniture() -> None:
    bodies = [
        ["Alpha starts here.", "It goes on."],
        ["Bravo is second.", "More text."],
        ["Charlie third.", "Even more."],
        ["Delta is last.", "The end."],
    ]
    pages = [["ACME Corp Proposal", *body, f"- {n} -"] for n, body in enumerate(bodies, 1)]
    pages[2][-1] = "Page 3 of 4"
    cleaned, removed = strip_page_furniture(pages)
    assert cleaned == bodies
    assert removed == 8


def test_sniff_wrong_extension(tmp_path: Path) -> None:
    pdf_as_docx = tmp_path / "x.docx"
    pdf_as_docx.write_bytes(make_pdf([["hello"]]))
    sniffed = sniff(pdf_as_docx)
    assert sniffed.format == "pdf" and "really a PDF" in sniffed.warnings[0]
    png = tmp_path / "scan.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(UnsupportedFormat, match="really a PNG image"):
        sniff(png)
    other = _write(tmp_path, "notes.xyz", "plain words")
    with pytest.raises(UnsupportedFormat, match="unsupported file type"):
        sniff(other)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("RFP-2024-017.md", "Request for Proposal. The contractor shall deliver.", "rfp"),
        (
            "notes.txt",
            "This solicitation invites offerors. The contractor shall provide "
            "services and shall report.",
            "rfp",
        ),
        (
            "northwind-response.md",
            "Northwind is pleased to submit this proposal. We propose a team.",
            "proposal",
        ),
        ("misc.txt", "Lunch menu for Friday.", "other"),
    ],
)
def test_guess_kind_from_name_and_text(name: str, text: str, expected: str) -> None:
    assert guess_kind(name, [Block(kind="paragraph", text=text)]) == expected


def test_guess_kind_tables_are_reference() -> None:
    rows = [Block(kind="table_row", text=f"a: {n}", fields={"a": str(n)}) for n in range(5)]
    assert guess_kind("data.csv", rows) == "reference"
    pairs = [Block(kind="pair", text="q a", fields={"instruction": "q", "response": "a"})]
    assert guess_kind("pairs.jsonl", pairs) == "other"


def _workbook(path: Path) -> Path:
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Labor categories"
    sheet.append(["Code", "Labor Category", "Rate", "Effective", None])
    sheet.append(["NAS-SE-03", "Senior Systems Engineer", 176.0, dt.date(2026, 1, 1)])
    sheet.append([None, None, None, None])
    sheet.append(["NAS-PM-01", "Program Manager", 210.5, dt.date(2026, 1, 1)])
    notes = book.create_sheet("Notes")
    notes.append([1, 2, 3])  # no header: skipped with a warning
    book.create_sheet("Empty")
    book.save(path)
    return path


def test_xlsx_sheets_are_reference_tables(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "rates.xlsx")
    assert sniff(path).format == "xlsx"
    result = parse_file(path, "xlsx")
    assert [b.kind for b in result.blocks] == ["heading", "table_row", "table_row"]
    assert result.blocks[0].text == "Labor categories"
    assert result.blocks[1].fields == {"Code": "NAS-SE-03", "Labor Category":
                                       "Senior Systems Engineer", "Rate": "176",
                                       "Effective": "2026-01-01"}
    assert result.blocks[2].fields["Rate"] == "210.5"
    assert any("'Notes' skipped" in w for w in result.warnings)
    assert guess_kind("rates.xlsx", result.blocks) == "reference"
    renamed = tmp_path / "rates.docx"
    renamed.write_bytes(path.read_bytes())
    assert sniff(renamed).format == "xlsx" and "Excel workbook" in sniff(renamed).warnings[0]


def test_xlsx_without_any_header_is_refused(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append([1, 2])
    book.save(tmp_path / "numbers.xlsx")
    with pytest.raises(MissingHeader, match="no sheet with a header row"):
        parse_file(tmp_path / "numbers.xlsx", "xlsx")


def test_xlsx_rows_are_found_by_exact_lookup(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    from core.ingest.importer import import_paths
    from core.retrieval.index import update_index
    from core.retrieval.reference import lookup

    report = import_paths(workspace, [_workbook(tmp_path / "rates.xlsx")], "reference")
    assert [f.status for f in report.files] == ["imported"]
    update_index(workspace)
    rows = lookup(workspace, "nas-pm-01")
    assert rows and rows[0].fields["Labor Category"] == "Program Manager"


def _as_docm(docx: Path, target: Path) -> Path:
    import zipfile

    plain = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    macro = b"application/vnd.ms-word.document.macroEnabled.main+xml"
    with zipfile.ZipFile(docx) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            out.writestr(item, data.replace(plain, macro) if item.filename ==
                         "[Content_Types].xml" else data)
        out.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(64))
    return target


def test_a_macro_enabled_document_imports_the_same_alone_or_in_a_folder(
        tmp_path: Path, workspace) -> None:  # noqa: ANN001
    """Issue 21: a valid .docm was "damaged" given alone and "not supported" in a folder."""
    from core.ingest.importer import import_paths

    folder = tmp_path / "folder"
    folder.mkdir()
    docm = _as_docm(write_docx(tmp_path / "proposal.docx"), folder / "macro.docm")
    sniffed = sniff(docm)
    assert sniffed.format == "docx" and "macro-enabled" in " ".join(sniffed.warnings)
    alone = import_paths(workspace, [docm]).files[0]
    assert alone.status == "imported" and alone.blocks > 5
    assert any("its macros are never run" in w for w in alone.warnings)
    again = import_paths(workspace, [folder]).files[0]
    assert again.status == "already-imported" and again.doc_id == alone.doc_id


def test_files_passed_over_in_a_folder_say_what_they_are(tmp_path: Path) -> None:
    from ole_files import word_document

    from core.ingest.files import collect_files

    word_document(tmp_path / "old.doc", encrypted=False)
    word_document(tmp_path / "locked.doc", encrypted=True)
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    _, notes = collect_files([tmp_path], recursive=True)
    said = {Path(n.path).name: n.message for n in notes}
    assert "a Word 97-2003 document" in said["old.doc"] and "as DOCX" in said["old.doc"]
    assert "password-protected Word 97-2003 document" in said["locked.doc"]
    assert said["pic.png"] == "pic.png is a PNG image; it cannot be imported."


def test_identical_pages_are_text_not_running_headers() -> None:
    """Issue 21: a PDF of identical pages lost all its text as "running headers"."""
    page = ["Notice to offerors", "All questions are due by 1 May 2026.", "3"]
    cleaned, removed = strip_page_furniture([list(page) for _ in range(4)])
    assert cleaned == [page[:2]] * 4 and removed == 4  # only the page numbers go


@pytest.mark.parametrize(("buffer", "line", "joined"), [
    ("the agency's engi-", "neering office", "the agency's engineering office"),
    ("a Senior Engineer (SSE-", "3) at the rate", "a Senior Engineer (SSE-3) at the rate"),
    ("solicitation W91-26-R-", "0042 is due", "solicitation W91-26-R-0042 is due"),
    ("the Dss-", "Sig-Value service", "the Dss-Sig-Value service"),
    ("the schedule -", "Phase two", "the schedule - Phase two"),
    ("----------", "Staffing", "---------- Staffing"),
])
def test_wrapped_lines_join_without_breaking_words_or_codes(
        buffer: str, line: str, joined: str) -> None:
    from core.ingest.parsers.structure import join_line

    assert join_line(buffer, line) == joined
