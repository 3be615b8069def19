"""PDF: the text layer, page by page, through pypdf."""

from __future__ import annotations

import logging
from pathlib import Path

from core.ingest.cleaning import strip_page_furniture
from core.ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    IngestError,
    NoTextLayer,
)
from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, layout_lines_to_blocks


def _has_eof_marker(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        return b"%%EOF" in handle.read()


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def parse_pdf(path: Path) -> ParseResult:
    """Parse a PDF's text layer; encrypted, truncated and image-only files are refused."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    path = Path(path)
    name = path.name
    if not _has_eof_marker(path):
        raise CorruptDocument(
            f"{name} is truncated or damaged (the PDF has no end marker); "
            "copy the original file again."
        )
    try:
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
        pages = [(page.extract_text() or "") for page in reader.pages]
    except IngestError:
        raise
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        raise CorruptDocument(
            f"{name} is damaged and could not be read as a PDF ({type(error).__name__}: "
            f"{str(error)[:160]})."
        ) from error
    if not pages:
        raise EmptyDocument(f"{name} is a PDF with no pages.")
    page_lines = [text.replace("\r", "\n").split("\n") for text in pages]
    blank = [n for n, lines in enumerate(page_lines, 1) if not any(x.strip() for x in lines)]
    if len(blank) == len(page_lines):
        raise NoTextLayer(
            f"{name} has no text layer (its {len(pages)} page(s) look like scanned images); "
            "run it through OCR and import the result."
        )
    warnings = []
    if blank:
        warnings.append(f"{name}: page(s) {_page_list(blank)} have no text (scanned images?).")
    page_lines, removed = strip_page_furniture(page_lines)
    if removed:
        warnings.append(f"Removed {removed} running header/footer and page-number line(s).")
    writer = BlockWriter()
    for number, lines in enumerate(page_lines, 1):
        writer.page = number
        layout_lines_to_blocks(lines, writer)
    return ParseResult(blocks=writer.blocks, pages=len(pages), warnings=warnings)
