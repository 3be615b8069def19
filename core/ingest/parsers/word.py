"""DOCX through python-docx: headings by style, paragraphs, list items, table rows.

The archive's declared sizes are checked first, so a zip bomb is refused unopened.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from core.ingest.errors import CorruptDocument, IngestError, ZipBomb
from core.ingest.limits import IngestLimits
from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, unique_header

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"^list|bullet|number", re.IGNORECASE)


def check_zip(path: Path, limits: IngestLimits) -> None:
    """Refuse archives whose declared contents are huge, too compressed, or too many."""
    name = Path(path).name
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise CorruptDocument(
            f"{name} is damaged or truncated (not a readable DOCX archive: {error})."
        ) from error
    if len(members) > limits.max_zip_members:
        raise ZipBomb(
            f"{name} holds {len(members):,} files; a real DOCX holds far fewer. "
            "It was not opened (possible zip bomb)."
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise ZipBomb(
            f"{name} would unpack to {total / 1e6:,.0f} MB (limit "
            f"{limits.max_unzipped_bytes / 1e6:,.0f} MB). It was not opened "
            "(possible zip bomb)."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 10_000_000 and ratio > limits.max_zip_ratio:
            raise ZipBomb(
                f"{name}: {member.filename} is compressed {ratio:,.0f}:1 "
                f"(limit {limits.max_zip_ratio:,.0f}:1). It was not opened "
                "(possible zip bomb)."
            )


def _paragraph_kind(paragraph: object, styles: dict[str, str]) -> tuple[str, int]:
    p_pr = paragraph._p.pPr  # type: ignore[attr-defined]
    style_id = p_pr.pStyle.val if p_pr is not None and p_pr.pStyle is not None else None
    style = styles.get(style_id or "", "") if style_id else ""
    if match := _HEADING_STYLE.match(style):
        return "heading", int(match[1])
    if style.lower() == "title":
        return "heading", 1
    if _LIST_STYLE.search(style) or (p_pr is not None and p_pr.numPr is not None):
        level = 0
        if p_pr is not None and p_pr.numPr is not None and p_pr.numPr.ilvl is not None:
            level = int(p_pr.numPr.ilvl.val or 0)
        return "list_item", level
    return "paragraph", 0


def _table(table: object, writer: BlockWriter) -> None:
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, previous = [], None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats; keep it once
                continue
            previous = cell._tc
            cells.append(cell.text)
        rows.append(cells)
    if not rows:
        return
    if len(rows) == 1:
        writer.add("paragraph", " | ".join(c.strip() for c in rows[0] if c.strip()))
        return
    header = unique_header(rows[0])
    for cells in rows[1:]:
        writer.row(header, cells)


MACRO_MAIN = b"application/vnd.ms-word.document.macroEnabled.main+xml"
DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def _openable(path: Path) -> str | io.BytesIO:
    """``path``, or for a macro-enabled document an in-memory copy whose main part is
    declared a plain document, which python-docx reads (the macros are left out)."""
    with zipfile.ZipFile(path) as archive:
        types = archive.read("[Content_Types].xml")
        if MACRO_MAIN not in types:
            return str(path)
        copy = io.BytesIO()
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as out:
            for item in archive.infolist():
                if item.filename.lower().endswith("vbaproject.bin"):
                    continue
                data = archive.read(item.filename)
                if item.filename == "[Content_Types].xml":
                    data = data.replace(MACRO_MAIN, DOCX_MAIN)
                out.writestr(item, data)
    copy.seek(0)
    return copy


def parse_docx(path: Path, limits: IngestLimits) -> ParseResult:
    """Parse a DOCX file's body in reading order."""
    path = Path(path)
    check_zip(path, limits)
    try:
        import docx
        from docx.table import Table

        document = docx.Document(_openable(path))
        writer = BlockWriter()
        # Style names by id, read once: python-docx's paragraph.style looks each one up.
        styles = {style.style_id: style.name or "" for style in document.styles}
        title = document.core_properties.title or None
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                _table(item, writer)
                continue
            kind, level = _paragraph_kind(item, styles)
            if kind == "heading":
                writer.heading(item.text, level)
            else:
                writer.add(kind, item.text, level=level)
    except IngestError:
        raise
    except Exception as error:  # noqa: BLE001 - python-docx/lxml raise many kinds
        raise CorruptDocument(
            f"{path.name} is damaged and could not be read as a DOCX file "
            f"({type(error).__name__}: {str(error)[:160]})."
        ) from error
    return ParseResult(blocks=writer.blocks, title=title)
