"""Which files an import takes, and the checks made before any parsing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.ingest.errors import EmptyDocument, FileTooLarge, IngestError, UnsupportedFormat
from core.ingest.limits import MB, IngestLimits
from core.ingest.report import FileResult
from core.ingest.sniff import Sniffed, sniff, supported_extension


def _note(path: Path, status: str, message: str, reason: str = "") -> FileResult:
    return FileResult(
        path=str(path),
        name=path.name,
        status=status,
        message=message,  # type: ignore[arg-type]
        reason=reason,
    )


def check_file(path: Path, limits: IngestLimits) -> Sniffed:
    """Size and format checks before any parsing; raises a specific ``IngestError``."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise IngestError(f"{path.name} could not be read: {error.strerror}.") from error
    if not path.is_file():
        raise UnsupportedFormat(f"{path.name} is not a file.")
    if size == 0:
        raise EmptyDocument(f"{path.name} is empty (0 bytes): there is nothing to import.")
    if size > limits.max_file_bytes:
        raise FileTooLarge(
            f"{path.name} is {size / MB:,.1f} MB, over the "
            f"{limits.max_file_bytes / MB:,.0f} MB limit for one document."
        )
    return sniff(path)


def collect_files(
    paths: Sequence[Path | str],
    recursive: bool,
    exclude: Path | None = None,
) -> tuple[list[Path], list[FileResult]]:
    """Files to import, in order, and notes on what was left out.

    Folders give their files of a supported type (hidden files and Office lock files are
    passed over; other types are noted as skipped). Nothing under ``exclude`` (the
    workspace itself) is taken.
    """
    files: list[Path] = []
    notes: list[FileResult] = []
    inside = exclude.resolve() if exclude else None
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if inside and path.resolve().is_relative_to(inside):
            notes.append(_note(path, "skipped", "inside the workspace itself"))
        elif path.is_dir():
            for item in sorted(path.rglob("*") if recursive else path.glob("*")):
                hidden = any(p.startswith((".", "~$")) for p in item.relative_to(path).parts)
                if hidden or not item.is_file():
                    continue
                if inside and item.resolve().is_relative_to(inside):
                    continue
                if supported_extension(item):
                    files.append(item)
                else:
                    notes.append(_note(item, "skipped", _why_not(item)))
        elif path.is_file():
            files.append(path)
        elif path.exists():
            notes.append(_note(path, "failed", f"{path} is not a regular file.", "unsupported"))
        else:
            notes.append(_note(path, "failed", f"{path} does not exist.", "missing"))
    return list(dict.fromkeys(files)), notes


def _why_not(path: Path) -> str:
    """What a file passed over in a folder is, as its own import would say it."""
    try:
        sniff(path)
    except IngestError as error:
        return str(error).split(" (supported:")[0].rstrip(".") + "."
    except OSError as error:
        return f"{path.name} could not be read: {error.strerror}."
    return "not a supported document type"
