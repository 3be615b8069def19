"""One parser per format; ``parse_file`` picks it and cleans the result."""

from __future__ import annotations

from pathlib import Path

from core.ingest.cleaning import clean_blocks
from core.ingest.errors import CorruptDocument, EmptyDocument, IngestError, UnsupportedFormat
from core.ingest.limits import IngestLimits
from core.ingest.parsers.result import ParseResult

__all__ = ["ParseResult", "analyse_file", "parse_file", "parse_raw"]


def parse_raw(path: Path, format: str, limits: IngestLimits) -> ParseResult:
    """Run the parser for ``format`` (no cleaning); library errors become ``CorruptDocument``."""
    from core.ingest.parsers.pdf import parse_pdf
    from core.ingest.parsers.tables import parse_csv, parse_jsonl, parse_xlsx
    from core.ingest.parsers.text import parse_text
    from core.ingest.parsers.webpage import parse_html
    from core.ingest.parsers.word import parse_docx

    path = Path(path)
    parsers = {
        "pdf": lambda: parse_pdf(path),
        "docx": lambda: parse_docx(path, limits),
        "txt": lambda: parse_text(path, markdown=False),
        "md": lambda: parse_text(path, markdown=True),
        "html": lambda: parse_html(path),
        "csv": lambda: parse_csv(path),
        "xlsx": lambda: parse_xlsx(path, limits=limits),
        "jsonl": lambda: parse_jsonl(path),
    }
    if format not in parsers:
        raise UnsupportedFormat(f"{path.name}: no parser for {format!r} files.")
    try:
        return parsers[format]()
    except (IngestError, MemoryError):
        raise
    except RecursionError as error:
        raise CorruptDocument(f"{path.name} is nested too deeply to read safely.") from error
    except Exception as error:  # noqa: BLE001 - hostile input makes libraries raise anything
        raise CorruptDocument(
            f"{path.name} could not be read as {format.upper()} ({type(error).__name__}: "
            f"{str(error)[:160]})."
        ) from error


def parse_file(path: Path, format: str, limits: IngestLimits | None = None) -> ParseResult:
    """Parse and clean one file in this process (``isolation`` runs it in a child)."""
    result = parse_raw(path, format, limits or IngestLimits())
    blocks, warnings = clean_blocks(result.blocks)
    if not blocks:
        raise EmptyDocument(f"{Path(path).name} has no text to import.")
    return ParseResult(blocks=blocks, pages=result.pages, warnings=result.warnings + warnings,
                       title=result.title)


def analyse_file(path: Path, format: str, limits: IngestLimits | None = None) -> ParseResult:
    """``parse_file``, plus the text's MinHash signature and a guess of the document kind.

    This is what the isolated parser process runs, so the CPU work stays off the
    importing process.
    """
    from core.ingest.dedup import signature
    from core.ingest.guess import guess_kind

    result = parse_file(path, format, limits)
    result.signature = signature("\n\n".join(b.text for b in result.blocks))
    result.kind = guess_kind(Path(path).name, result.blocks)
    return result
