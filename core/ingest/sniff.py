"""What a file really is: its magic bytes, checked against its extension.

A PDF named ``.docx`` is parsed as a PDF with a warning; a PNG named ``.pdf`` is refused
with a message that says it is an image.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.ingest.errors import EmptyDocument, EncryptedDocument, UnsupportedFormat
from core.ingest.legacy_office import describe as describe_legacy_office

EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",  # macro-enabled: the text is read, the macros never run
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
FORMAT_NAMES = {
    "pdf": "a PDF",
    "docx": "a Word (DOCX) document",
    "txt": "plain text",
    "md": "Markdown",
    "html": "an HTML page",
    "csv": "a CSV table",
    "xlsx": "an Excel workbook",
    "jsonl": "JSON Lines",
}
TEXT_FORMATS = {"txt", "md", "html", "csv", "jsonl"}
_HEAD = 8192

# Formats we recognise but cannot import: magic prefix -> what it is.
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"{\\rtf", "an RTF document (save it as DOCX)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"OggS", "an audio file"),
    (b"ID3", "an MP3 file"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a legacy Office (compound) file


def _legacy_office(path: Path) -> str:
    """What a legacy Office file is; a password-protected one is refused as such."""
    found = describe_legacy_office(path)
    if found is None:
        return "a damaged legacy Office file"
    if found.encrypted:
        raise EncryptedDocument(
            f"{path.name} is a password-protected {found.what}; {found.advice()}.")
    return f"{found.named} ({found.advice()})"


@dataclass
class Sniffed:
    """The format to parse a file as, and any warning about its name."""

    format: str
    warnings: list[str] = field(default_factory=list)


def supported_extension(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return "damaged-zip"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if any(n.startswith("xl/") for n in names):
        return "a damaged Excel workbook (no xl/workbook.xml)"
    if any(n.startswith("ppt/") for n in names):
        return "a PowerPoint presentation"
    if "mimetype" in names or "content.xml" in names:
        return "an OpenDocument file (save it as DOCX)"
    return "a ZIP archive (unpack it and import the files inside)"


def has_macros(path: Path) -> bool:
    """Whether an Office archive carries a VBA project (a .docm, or one renamed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith("vbaproject.bin") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    return b"\x00" in head


def _text_kind(head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    return "txt"


def sniff(path: Path) -> Sniffed:
    """Decide how to parse ``path``; raises ``UnsupportedFormat`` or ``EmptyDocument``."""
    path = Path(path)
    name = path.name
    claimed = EXTENSIONS.get(path.suffix.lower())
    with open(path, "rb") as handle:
        head = handle.read(_HEAD)
    if not head.strip():
        raise EmptyDocument(f"{name} is empty: there is nothing to import.")
    actual: str
    if b"%PDF-" in head[:1024]:
        actual = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        actual = _zip_kind(path)
        if actual == "damaged-zip":
            actual = claimed if claimed in ("docx", "xlsx") else "a damaged ZIP archive"
    else:
        foreign = next((what for magic, what in _FOREIGN if head.startswith(magic)), None)
        if head.startswith(_OLE):
            foreign = _legacy_office(path)
        if foreign:
            actual = foreign
        elif _looks_binary(head):
            actual = "a binary file of unknown type"
        else:
            actual = claimed if claimed in TEXT_FORMATS else _text_kind(head)
    supported = ", ".join(sorted(EXTENSIONS))
    if actual not in FORMAT_NAMES:
        if claimed:
            raise UnsupportedFormat(
                f"{name} is really {actual}, not {FORMAT_NAMES[claimed]}; it cannot be imported."
            )
        raise UnsupportedFormat(
            f"{name} is {actual}; it cannot be imported (supported: {supported})."
        )
    if claimed is None:
        if actual in TEXT_FORMATS:
            raise UnsupportedFormat(
                f"{name}: unsupported file type {path.suffix or '(no extension)'} "
                f"(supported: {supported})."
            )
        return Sniffed(
            actual,
            [f"{name} has no recognised extension but is {FORMAT_NAMES[actual]}; read it as such."],
        )
    warnings = []
    if actual != claimed:
        warnings.append(f"{name} is really {FORMAT_NAMES[actual]}, not "
                        f"{FORMAT_NAMES[claimed]}; read it as what it is.")
    if actual == "docx" and has_macros(path):
        warnings.append(f"{name} is macro-enabled: its text is imported; its macros are "
                        "never run.")
    return Sniffed(actual, warnings)


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """Bytes of a text file as a string: UTF-8 (with or without BOM), UTF-16, else cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), []
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), [f"{name} is not UTF-8; read it as Windows-1252 text."]
    except UnicodeDecodeError:
        return data.decode("latin-1"), [f"{name} is not UTF-8; read it as Latin-1 text."]
