"""The specific, user-facing reasons a document cannot be imported.

Each error has a short ``reason`` code (for the import report and the wizard) and a
message that names the file and says what to do.
"""

from __future__ import annotations

from core.errors import ScriptoriumError


class IngestError(ScriptoriumError):
    """A document could not be imported; the batch goes on without it."""

    reason = "unreadable"


class EmptyDocument(IngestError):
    reason = "empty"


class CorruptDocument(IngestError):
    reason = "corrupt"


class EncryptedDocument(IngestError):
    reason = "encrypted"


class NoTextLayer(IngestError):
    reason = "no-text"


class ZipBomb(IngestError):
    reason = "zip-bomb"


class UnsupportedFormat(IngestError):
    reason = "unsupported"


class FileTooLarge(IngestError):
    reason = "too-large"


class ParseTimeout(IngestError):
    reason = "timeout"


class ParseMemoryError(IngestError):
    reason = "memory"


class ParserCrashed(IngestError):
    reason = "crashed"


class MissingHeader(IngestError):
    reason = "no-header"


ERRORS: dict[str, type[IngestError]] = {
    cls.__name__: cls
    for cls in (
        IngestError,
        EmptyDocument,
        CorruptDocument,
        EncryptedDocument,
        NoTextLayer,
        ZipBomb,
        UnsupportedFormat,
        FileTooLarge,
        ParseTimeout,
        ParseMemoryError,
        ParserCrashed,
        MissingHeader,
    )
}


def error_from_name(name: str, message: str) -> IngestError:
    """Rebuild an error sent back by the parser process."""
    return ERRORS.get(name, IngestError)(message)
