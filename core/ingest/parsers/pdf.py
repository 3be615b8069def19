"""PDF: the text layer, page by page, through pypdf."""

from __future__ import annotations

import logging
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
from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, layout_lines_to_blocks


def _has_eof_marker(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65536))  # a signature or junk may follow the marker
        return b"%%EOF" in handle.read()


def _has_images(page: object) -> bool:
    """Whether a page draws any image (a scan OCR could read), from its resources only."""
    try:
        resources = page.get("/Resources") or {}  # type: ignore[attr-defined]
        objects = resources.get_object().get("/XObject") or {}
        return any(objects[name].get_object().get("/Subtype") == "/Image" for name in objects)
    except Exception:  # noqa: BLE001 - a broken resource dictionary: no usable image
        return False


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _metadata_title(reader: Any) -> str | None:
    """The PDF's Title entry, if it can be read (a damaged info dictionary is no title)."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on damaged metadata
        return None
    return str(title) if title else None


def parse_pdf(path: Path) -> ParseResult:
    """Parse a PDF's text layer; encrypted, unreadable, empty and image-only files are
    refused, each with what is true of it."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    path = Path(path)
    name = path.name
    complete = _has_eof_marker(path)
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
        title = _metadata_title(reader)
        images = [_has_images(page) for page in reader.pages]
    except IngestError:
        raise
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        raise _unreadable(name, error, complete) from error
    if not pages:
        raise EmptyDocument(f"{name} is a PDF with no pages.")
    page_lines = [text.replace("\r", "\n").split("\n") for text in pages]
    blank = [n for n, lines in enumerate(page_lines, 1) if not any(x.strip() for x in lines)]
    scanned = [n for n in blank if images[n - 1]]
    if len(blank) == len(page_lines):
        if not scanned:
            raise EmptyDocument(f"{name} has no text and no images: its {len(pages)} "
                                "page(s) are empty.")
        raise NoTextLayer(
            f"{name} has no text layer (its {len(pages)} page(s) are scanned images); "
            "run it through OCR and import the result."
        )
    warnings = []
    if not complete:
        warnings.append(f"{name} has no end marker: it may be cut short; the pages that "
                        "could be read were imported.")
    if scanned:
        warnings.append(f"{name}: page(s) {_page_list(scanned)} are images with no text "
                        "(scanned?); OCR would make them searchable.")
    if empty := [n for n in blank if not images[n - 1]]:
        warnings.append(f"{name}: page(s) {_page_list(empty)} are empty.")
    page_lines, removed = strip_page_furniture(page_lines)
    if removed:
        warnings.append(f"Removed {removed} running header/footer and page-number line(s).")
    writer = BlockWriter()
    for number, lines in enumerate(page_lines, 1):
        writer.page = number
        layout_lines_to_blocks(lines, writer)
    return ParseResult(blocks=writer.blocks, pages=len(pages), warnings=warnings, title=title)


def _unreadable(name: str, error: Exception, complete: bool) -> IngestError:
    """Why pypdf could not read the file, as truly as can be told."""
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
