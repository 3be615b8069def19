"""PDF: the text layer, page by page, through PDFium; pypdf reads what PDFium refuses."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.ingest.cleaning import strip_page_furniture
from core.ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    IngestError,
    NoTextLayer,
)
from core.ingest.parsers.pdf_tables import (
    Table,
    find_tables,
    header_and_rows,
    lines_of,
    page_runs,
    run_text,
)
from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, layout_lines_to_blocks, unique_header

# PDFium marks a hyphen it took for a word broken across lines with one of these, and joins
# the lines; the line break is put back so that the structure pass decides, as for pypdf.
_BROKEN_WORD = ("\x02", "\ufffe")
# Text is read within each page's box widened by this much (PDF points): a listing that runs
# a little past the edge keeps its last characters, text placed far off the page (where no
# reader sees it) is left out.
_OVERFLOW_PT = 36.0


@dataclass
class PdfText:
    """What a PDF library read: each page's text, the title, and which blank pages draw an
    image (1-based numbers; only blank pages are looked at)."""

    pages: list[str]
    title: str | None = None
    scanned: set[int] = field(default_factory=set)
    unreadable: list[int] = field(default_factory=list)
    tables: dict[int, list[Table]] = field(default_factory=dict)  # by page


def _has_eof_marker(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65536))  # a signature or junk may follow the marker
        return b"%%EOF" in handle.read()


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


class _Refused(Exception):
    """PDFium could not open the file (not for a password): pypdf gets its turn."""


def _pdfium_page_text(text: str) -> str:
    for mark in _BROKEN_WORD:
        text = text.replace(mark, "-\n")
    return text.replace("\r\n", "\n").replace("\r", " ")


def read_with_pdfium(path: Path, name: str) -> PdfText:
    """The text PDFium reads on each page (text placed far off the page, which no viewer
    shows, is left out); a page PDFium cannot load is listed, not fatal."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if error.err_code == raw.FPDF_ERR_PASSWORD:
            raise EncryptedDocument(
                f"{name} is password-protected; save an unprotected copy and import that."
            ) from error
        if error.err_code == raw.FPDF_ERR_SECURITY:
            raise EncryptedDocument(
                f"{name} is encrypted in a way that cannot be opened here (an unsupported "
                "security handler); save an unencrypted copy and import that."
            ) from error
        raise _Refused(str(error)) from error
    try:
        read = PdfText(pages=[])
        for number in range(1, len(document) + 1):
            try:
                page = document[number - 1]
            except pdfium.PdfiumError:
                read.pages.append("")
                read.unreadable.append(number)
                continue
            try:
                textpage = page.get_textpage()
                try:
                    left, bottom, right, top = page.get_bbox()
                    text = _pdfium_page_text(textpage.get_text_bounded(
                        left - _OVERFLOW_PT, bottom - _OVERFLOW_PT,
                        right + _OVERFLOW_PT, top + _OVERFLOW_PT))
                    runs = lines_of(page_runs(textpage))
                    if tables := find_tables(runs, run_text(textpage)):
                        read.tables[number] = tables
                finally:
                    textpage.close()
                if not text.strip() and any(
                        True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE])):
                    read.scanned.add(number)
            finally:
                page.close()
            read.pages.append(text)
        read.title = document.get_metadata_value("Title").strip() or None
        return read
    finally:
        document.close()


def _has_images(page: object) -> bool:
    """Whether a pypdf page draws any image (a scan OCR could read), from its resources."""
    try:
        resources = page.get("/Resources") or {}  # type: ignore[attr-defined]
        objects = resources.get_object().get("/XObject") or {}
        return any(objects[name].get_object().get("/Subtype") == "/Image" for name in objects)
    except Exception:  # noqa: BLE001 - a broken resource dictionary: no usable image
        return False


def _metadata_title(reader: Any) -> str | None:
    """The PDF's Title entry, if it can be read (a damaged info dictionary is no title)."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on damaged metadata
        return None
    return str(title) if title else None


def read_with_pypdf(path: Path, name: str) -> PdfText:
    """The text pypdf reads (it repairs some files PDFium refuses); its errors propagate."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted:
        # Many PDFs are encrypted only to restrict printing or copying: the empty user
        # password opens them. Only a real password stops the import.
        try:
            opened = reader.decrypt("")
        except Exception as error:  # noqa: BLE001 - unsupported or broken encryption
            raise EncryptedDocument(
                f"{name} is encrypted in a way that cannot be opened here "
                f"({type(error).__name__}); save an unencrypted copy and import that."
            ) from error
        if not opened:
            raise EncryptedDocument(
                f"{name} is password-protected; save an unprotected copy and import that."
            )
    pages = [(page.extract_text() or "").replace("\r", "\n") for page in reader.pages]
    scanned = {n for n, (text, page) in enumerate(zip(pages, reader.pages, strict=True), 1)
               if not text.strip() and _has_images(page)}
    return PdfText(pages=pages, title=_metadata_title(reader), scanned=scanned)


def read_pdf(path: Path) -> PdfText:
    """Each page's text, by PDFium, or by pypdf when PDFium cannot open the file."""
    name = path.name
    try:
        return read_with_pdfium(path, name)
    except IngestError:
        raise
    except _Refused:
        pass  # a damaged file: pypdf repairs some that PDFium does not
    complete = _has_eof_marker(path)
    try:
        return read_with_pypdf(path, name)
    except IngestError:
        raise
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        raise _unreadable(name, error, complete) from error


def parse_pdf(path: Path) -> ParseResult:
    """Parse a PDF's text layer; encrypted, unreadable, empty and image-only files are
    refused, each with what is true of it."""
    path = Path(path)
    name = path.name
    read = read_pdf(path)
    if not read.pages:
        raise EmptyDocument(f"{name} is a PDF with no pages.")
    page_lines = [text.split("\n") for text in read.pages]
    blank = [n for n, lines in enumerate(page_lines, 1)
             if n not in read.unreadable and not any(x.strip() for x in lines)]
    scanned = [n for n in blank if n in read.scanned]
    if len(blank) + len(read.unreadable) == len(page_lines):
        if read.unreadable:
            raise CorruptDocument(f"{name} is damaged: none of its pages could be read "
                                  f"(page(s) {_page_list(read.unreadable)} are broken).")
        if not scanned:
            raise EmptyDocument(f"{name} has no text and no images: its {len(page_lines)} "
                                "page(s) are empty.")
        raise NoTextLayer(
            f"{name} has no text layer (its {len(page_lines)} page(s) are scanned images); "
            "run it through OCR and import the result."
        )
    warnings = []
    if not _has_eof_marker(path):
        warnings.append(f"{name} has no end marker: it may be cut short; the pages that "
                        "could be read were imported.")
    if read.unreadable:
        warnings.append(f"{name}: page(s) {_page_list(read.unreadable)} are damaged and "
                        "could not be read; the other pages were imported.")
    if scanned:
        warnings.append(f"{name}: page(s) {_page_list(scanned)} are images with no text "
                        "(scanned?); OCR would make them searchable.")
    if empty := [n for n in blank if n not in read.scanned]:
        warnings.append(f"{name}: page(s) {_page_list(empty)} are empty.")
    page_lines, removed = strip_page_furniture(page_lines)
    if removed:
        warnings.append(f"Removed {removed} running header/footer and page-number line(s).")
    writer = BlockWriter()
    header: list[str] | None = None  # a table's, for its rows on the next page
    for number, lines in enumerate(page_lines, 1):
        writer.page = number
        header = write_page(lines, read.tables.get(number, []), writer, header)
    return ParseResult(blocks=writer.blocks, pages=len(page_lines), warnings=warnings,
                       title=read.title)


def _find_lines(kept: list[tuple[int, str]], wanted: list[str], start: int
                ) -> tuple[int, int] | None:
    """Where ``wanted`` stands, line after line, in the page's non-blank ``kept`` lines
    (from line ``start`` on): its first and last line numbers."""
    for k in range(len(kept) - len(wanted) + 1):
        if kept[k][0] >= start and [text for _, text in kept[k: k + len(wanted)]] == wanted:
            return kept[k][0], kept[k + len(wanted) - 1][0]
    return None


def write_page(lines: list[str], tables: list[Table], writer: BlockWriter,
               carried: list[str] | None = None) -> list[str] | None:
    """A page's blocks: its text laid out, each table found on it (``pdf_tables``) as
    rows where its lines stand in the text; returns the last table's header, which rows
    at the top of the next page take when they have none. A table header repeated on
    every page was taken off as a running header: the rows are found without it. A table
    whose lines are not found in the text as they are in the table (another reading
    order) stays text."""
    kept = [(index, " ".join(line.split())) for index, line in enumerate(lines)]
    kept = [(index, text) for index, text in kept if text]
    start, last_header = 0, carried
    for table in tables:
        wanted = [" ".join(line.split()) for line in table.lines]
        where = next((found for skip in range(table.first_row_lines + 1)
                      if (found := _find_lines(kept, wanted[skip:], start))), None)
        if where is None:
            continue
        layout_lines_to_blocks(lines[start:where[0]], writer)
        header, body = header_and_rows(table.rows, last_header if where[0] == kept[0][0]
                                       else None)
        for cells in body:  # no header: each row a label and its value
            writer.row(unique_header(header) if header else [cells[0].rstrip(": ")],
                       cells if header else cells[1:])
        start, last_header = where[1] + 1, header or None
    layout_lines_to_blocks(lines[start:], writer)
    return last_header


def _unreadable(name: str, error: Exception, complete: bool) -> IngestError:
    """Why neither library could read the file, as truly as can be told (pypdf's error)."""
    detail = f"{type(error).__name__}: {str(error)[:160]}"
    if not complete:
        return CorruptDocument(f"{name} is truncated or damaged (the PDF has no end marker "
                               f"and could not be read: {detail}); copy the original again.")
    from pypdf.errors import PdfReadError, PdfStreamError

    if isinstance(error, PdfReadError | PdfStreamError | ValueError | KeyError):
        return CorruptDocument(f"{name} is damaged and could not be read as a PDF ({detail}).")
    # an error inside the PDF library (pypdf raised e.g. a DeprecationError on this file):
    # the file itself may be sound
    return CorruptDocument(f"{name} could not be read by the PDF library ({detail}); the "
                           "file may be sound: save it again from a PDF viewer and import "
                           "that copy.")
